"""The cached device toolchains of scripts/setup_targets.sh (Kotlin compiler, arm64 and Swift roots) for tests.

`toolchain(part)` makes sure a part is built and current (as root on Debian it runs the idempotent
`scripts/setup_targets.sh PART`, a few file reads when nothing changed) and returns its folder; anywhere else
it skips the test, saying why. `chroot_run` runs a command inside a root with only what it needs mounted,
and always unmounts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EDGEVIT_CACHE", REPO / ".cache"))
SETUP_TARGETS = REPO / "scripts" / "setup_targets.sh"
FOLDERS = {"kotlinc": "kotlinc", "arm64": "arm64-bookworm", "swift": "swift-trixie"}
STAMP = ".edgevit-stamp"


def root_on_debian() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def toolchain(part: str) -> Path:
    """The folder of a setup_targets.sh part (kotlinc, arm64, swift), built now if missing or stale."""
    folder = CACHE / FOLDERS[part]
    if root_on_debian():
        parts = ["binfmt", part] if part == "arm64" else [part]
        proc = subprocess.run(["bash", str(SETUP_TARGETS), *parts], capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"scripts/setup_targets.sh {' '.join(parts)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    elif part != "kotlinc":
        pytest.skip(f"the {part} root is run with chroot: needs root on Debian (scripts/setup_targets.sh {part})")
    if not (folder / STAMP).is_file():
        pytest.skip(f"{folder} is missing: run `bash scripts/setup.sh` (or scripts/setup_targets.sh {part}) as root on Debian")
    return folder


@contextmanager
def workdir_in(root: Path) -> Iterator[Path]:
    """A fresh folder under ROOT/tmp (removed afterwards); chroot paths are `"/" / path.relative_to(root)`."""
    (root / "tmp").mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="edgevit-test-", dir=root / "tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for leftover in (root / "tmp").glob(f"*{path.name}*"):  # e.g. SwiftPM's lock files named after it
            if leftover.is_file():
                leftover.unlink()


def inside(root: Path, path: Path) -> str:
    """`path` (below `root`) as the chrooted process sees it."""
    return "/" + str(path.relative_to(root))


@contextmanager
def mounted_proc(root: Path) -> Iterator[None]:
    """/proc mounted in the root for the duration (Swift's runtime reads /proc/self); always unmounted."""
    target = root / "proc"
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=False)


def chroot_run(root: Path, argv: Sequence[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run `argv` chrooted into `root` with exactly `env` (nothing of the host's environment leaks in)."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    return subprocess.run([chroot, str(root), *argv], env={**base, **env}, capture_output=True, text=True,
                          timeout=timeout)
