"""File safety for every stage: atomic file writes, one atomic directory swap, one-line error text.

Torch-free on purpose: the device-side runtimes write reports with it, and the torch side (train, export,
app bundles) imports it from here, so a crash-safety fix lands in one place.

A kill at any moment leaves either the old or the new file/folder, never a half-written one:
files are written to a temp file in the same folder and renamed; folders are built beside their final
place and swapped in with two renames, the old copy kept as `.NAME.old` until the swap ends
(`recover_dir` finishes a swap a kill interrupted).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` via a temp file in the same folder and an atomic rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a published file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _old(path: Path) -> Path:
    return path.parent / f".{path.name}.old"


def recover_dir(path: str | Path) -> None:
    """Finish a swap that a kill interrupted: `.NAME.old` stands in when NAME is gone, else it is dropped."""
    path = Path(path)
    try:
        if not path.exists() and _old(path).is_dir():
            _old(path).rename(path)
    except OSError:  # another process of the same run got there first
        pass
    shutil.rmtree(_old(path), ignore_errors=True)


def swap_dir(tmp: str | Path, dest: str | Path) -> Path:
    """Replace folder `dest` by the finished folder `tmp` with two renames (each atomic).

    The old `dest` is kept as `.NAME.old` between the renames and put back if the second one fails.
    """
    tmp, dest = Path(tmp), Path(dest)
    if dest.is_symlink() or dest.is_file():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    recover_dir(dest)
    if not dest.exists():
        os.replace(tmp, dest)
        return dest
    os.replace(dest, _old(dest))
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(_old(dest), dest)
        raise
    shutil.rmtree(_old(dest), ignore_errors=True)
    return dest


def write_dir_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` on a fresh temp folder beside `path`, then `swap_dir` it in as `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write(tmp)
        return swap_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def one_line(e: BaseException | str, limit: int = 400) -> str:
    """An error message (often multi-line, C++-flavoured) as one short line for `error:` output."""
    text = " ".join(str(e).split()) or (type(e).__name__ if isinstance(e, BaseException) else "")
    return text[:limit] + ("..." if len(text) > limit else "")
