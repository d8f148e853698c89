#!/usr/bin/env bash
# Set-up of a fresh machine, safe to rerun (a rerun with nothing changed takes seconds):
#   as root on Debian: the system packages the tests use, then the device toolchains (scripts/setup_targets.sh:
#   the app's Kotlin compiler, an arm64 root for the Raspberry Pi path under qemu, a Debian trixie root with
#   Swift), cached in .cache/ (or $EDGEVIT_CACHE);
#   everywhere: a venv with every extra and an editable install.
# Usage: bash scripts/setup.sh   (then: .venv/bin/edgevit --help)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

ROOT_ON_DEBIAN=0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  ROOT_ON_DEBIAN=1
  # dataset-fashion-mnist: the Fashion-MNIST data set; openssh-*: the ssh bench test;
  # qemu-user-static, binfmt-support, mmdebstrap: the aarch64 (Raspberry Pi) test and the Swift root;
  # default-jdk-headless, junit4, libhamcrest-java, libandroid-json-java: the Android app's JVM unit tests.
  packages=(dataset-fashion-mnist openssh-server openssh-client qemu-user-static binfmt-support mmdebstrap
    default-jdk-headless junit4 libhamcrest-java libandroid-json-java)
  command -v npm >/dev/null || packages+=(npm)  # kotlinc comes from the npm registry
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "note: not root on Debian: no system packages or device toolchains; the tests that need them skip and say why"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins the whole resolved set: without it pip 26 backtracks into old sdists and fails.
# The filter quiets setuptools' generic editable-install notice (export/ and runtimes/ map into edgevit.*).
PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -c constraints.txt -e ".[all,dev]"
echo "edgevit installed in .venv: $(.venv/bin/edgevit --version)"

if [ "$ROOT_ON_DEBIAN" = 1 ]; then
  bash scripts/setup_targets.sh
fi
