#!/usr/bin/env bash
# One-time set-up of a fresh machine: system datasets/tools (when root), a venv with every extra, editable install.
# Usage: bash scripts/setup.sh   (then: .venv/bin/edgevit --help)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  # Real Fashion-MNIST (60k/10k) and an OpenSSH server for the ssh bench test; both optional.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist openssh-server openssh-client) \
    || echo "note: apt-get could not install dataset-fashion-mnist/openssh-server; tests that need them will skip"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins the whole resolved set: without it pip 26 backtracks into old sdists and fails.
.venv/bin/python -m pip install -q -c constraints.txt -e ".[all,dev]"
echo "edgevit installed in .venv: $(.venv/bin/edgevit --version)"
