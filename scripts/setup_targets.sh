#!/usr/bin/env bash
# The toolchains that prove the device targets on this (x86-64, Debian) machine, cached in $EDGEVIT_CACHE
# (default: .cache/ in the repository, git-ignored). Root + Debian only; scripts/setup.sh calls it.
#
#   kotlinc   the app's exact Kotlin compiler (npm kotlin-compiler@2.0.21) -> tests/apps/test_app_kotlin.py
#   arm64     a Debian bookworm arm64 root with python3.11 and the aarch64 wheels of edgevit[pi], run under
#             qemu-user -> tests/targets/test_aarch64.py
#   swift     a Debian trixie root with swiftlang + libc6-dev -> tests/apps/test_app_swift.py
#
# Usage: bash scripts/setup_targets.sh [kotlinc|arm64|swift|binfmt ...]   (default: all of them)
# Each part is built in DIR.tmp and renamed into place with a stamp naming what it was built from, so a rerun
# with nothing changed costs a few file reads, and an interrupted build never looks finished.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${EDGEVIT_CACHE:-$PWD/.cache}
KOTLIN_VERSION=2.0.21
PY=.venv/bin/python
mkdir -p "$CACHE"

log() { echo "setup_targets: $*"; }

# The Debian mirror this machine's apt uses (bookworm), so roots come from the same place as host packages.
debian_mirror() {
  local uri
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$2 == "bookworm" {print $1; exit}')
  echo "${uri:-http://deb.debian.org/debian/}"
}

# safe_rm DIR: unmount whatever an interrupted build left mounted below DIR, then delete it (never across
# a mount point: a bind-mounted /dev must not be emptied).
safe_rm() {
  [ -e "$1" ] || return 0
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$1"
}

# fresh NAME KEY: true when $CACHE/NAME was built from KEY (its stamp matches).
fresh() { [ -f "$CACHE/$1/.edgevit-stamp" ] && [ "$(cat "$CACHE/$1/.edgevit-stamp")" = "$2" ]; }

# publish NAME KEY: stamp $CACHE/NAME.tmp and swap it in for $CACHE/NAME.
publish() {
  echo "$2" > "$CACHE/$1.tmp/.edgevit-stamp"
  safe_rm "$CACHE/$1.old"
  [ ! -e "$CACHE/$1" ] || mv "$CACHE/$1" "$CACHE/$1.old"
  mv "$CACHE/$1.tmp" "$CACHE/$1"
  safe_rm "$CACHE/$1.old"
}

kotlinc() {
  local key="npm kotlin-compiler@$KOTLIN_VERSION"
  if fresh kotlinc "$key"; then return; fi
  log "kotlinc $KOTLIN_VERSION (npm)"
  safe_rm "$CACHE/kotlinc.tmp" && mkdir -p "$CACHE/kotlinc.tmp"
  npm install --prefix "$CACHE/kotlinc.tmp" --no-save --no-audit --no-fund --loglevel=error \
    "kotlin-compiler@$KOTLIN_VERSION"
  publish kotlinc "$key"
}

# qemu-user for aarch64 through binfmt_misc (registered with the F flag, so it works inside a chroot).
binfmt() {
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64
}

# The requirement strings of edgevit and its `pi` extra, read from the installed metadata (pyproject.toml).
pi_requirements() {
  "$PY" - <<'EOF'
from importlib.metadata import requires
from packaging.requirements import Requirement
for text in requires("edgevit") or []:
    req = Requirement(text)
    if req.marker is None or req.marker.evaluate({"extra": "pi"}):
        print(f"{req.name}{req.specifier}")
EOF
}

arm64() {
  local reqs key platforms=() v
  reqs=$(pi_requirements)
  key="bookworm arm64 python3.11 | $(echo "$reqs" | tr '\n' ' ')| $(sha256sum constraints.txt | cut -c1-16)"
  if fresh arm64-bookworm "$key"; then return; fi
  log "arm64 bookworm root + aarch64 wheels of edgevit[pi]"
  safe_rm "$CACHE/arm64-bookworm.tmp"
  # extract: unpack packages without running their maintainer scripts, so nothing is emulated while building.
  mmdebstrap --quiet --mode=root --variant=extract --arch=arm64 --include=python3.11,libstdc++6 \
    bookworm "$CACHE/arm64-bookworm.tmp" "$(debian_mirror)"
  # bookworm's glibc is 2.36: every manylinux tag up to it.
  for v in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${v}_aarch64"); done
  # shellcheck disable=SC2086
  "$PY" -m pip install -q --no-compile --no-warn-script-location --no-warn-conflicts --target "$CACHE/arm64-bookworm.tmp/opt/site" \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 "${platforms[@]}" \
    --platform manylinux2014_aarch64 -c constraints.txt $reqs
  publish arm64-bookworm "$key"
}

swift() {
  local key="trixie amd64 swiftlang libc6-dev"
  if fresh swift-trixie "$key"; then return; fi
  log "trixie root with swiftlang (about 530 MB to download)"
  safe_rm "$CACHE/swift-trixie.tmp"
  mmdebstrap --quiet --mode=root --variant=apt --include=swiftlang,libc6-dev \
    --aptopt='Acquire::Retries "3"' trixie "$CACHE/swift-trixie.tmp" "$(debian_mirror)"
  publish swift-trixie "$key"
}

[ "$(id -u)" = "0" ] && command -v apt-get >/dev/null || { echo "setup_targets.sh: needs root on Debian" >&2; exit 1; }
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(kotlinc binfmt arm64 swift)
for part in "${parts[@]}"; do
  case "$part" in
    kotlinc | binfmt | arm64 | swift) "$part" ;;
    *) echo "setup_targets.sh: unknown part '$part' (kotlinc, binfmt, arm64, swift)" >&2; exit 2 ;;
  esac
done
