"""File safety for every stage: atomic file writes, one atomic directory swap, one-line error text.

Torch-free on purpose: the device-side runtimes write reports with it, and the torch side (train, export,
app bundles) imports it from here, so a crash-safety fix lands in one place.

A kill at any moment leaves either the old or the new file/folder, never a half-written one:
files are written to a temp file in the same folder and renamed; folders are built beside their final
place and swapped in with two renames, the old copy kept as `.NAME.old` until the swap ends
(`recover_dir` finishes a swap a kill interrupted).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

#: the largest JSON file (contract, labels, config, bench result) read from an untrusted place
MAX_JSON_BYTES = 64 * 1024 * 1024


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` via a temp file in the same folder and an atomic rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a published file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STALE_TEMP_S = 24 * 3600  # a temp this old is dropped even if its pid was reused by a live process


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process (or nonsense): leave it
    return True


def clean_stale_temps(path: str | Path) -> list[Path]:
    """Remove `.NAME.<pid>.*.tmp` files/folders beside `path` left by a process killed with -9.

    A temp is stale when the process that made it (its pid is in the name) is gone, or when it is older than
    a day; a live writer's temp is never touched. Returns what was removed.
    """
    path = Path(path)
    removed: list[Path] = []
    try:
        siblings = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    now = time.time()
    for tmp in siblings:
        pid_text = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        try:
            old = now - tmp.lstat().st_mtime > STALE_TEMP_S
        except OSError:
            continue
        if old or (pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


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


def staging_dir(parent: str | Path, prefix: str) -> Path:
    """A fresh temp folder in `parent` (the final folder's file system: publishing it is a rename), with the
    mode a plain mkdir gives (mkdtemp makes 0700, which a published folder or an app's assets should not keep)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~_umask())
    return tmp


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_dir_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` on a fresh temp folder beside `path`, then `swap_dir` it in as `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write(tmp)
        return swap_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a *regular* file of at most `max_bytes` (OSError otherwise).

    Untrusted folders may hold a symlink to `/dev/zero`, a FIFO or a multi-GB file where a small JSON is
    expected: the file is opened without blocking, checked with fstat (no race with a swap), and read with
    a cap, so none of them can hang or exhaust memory.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if st.st_size > max_bytes:
            raise OSError(f"{path} is {st.st_size} bytes, more than the {max_bytes} allowed")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(f"{path} grew past the {max_bytes} bytes allowed while being read")
    return data


def read_json(path: str | Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse an untrusted JSON file: a regular file, capped in size, strict UTF-8, bounded nesting.

    Every failure (unreadable, not UTF-8, not JSON, nested too deep for the parser) is a ValueError
    whose text names the file, so callers turn it into their stage's error with one `except`.
    """
    try:
        text = read_regular_file(path, max_bytes).decode("utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a JSON file edgevit wrote") from None


def confined_path(root: str | Path, name: str) -> Path:
    """`root/name` for a file name read from an untrusted file, guaranteed to stay inside `root`.

    Refused: absolute names, drive letters, backslashes, `..` parts, NUL, and names whose resolved path
    (symlinks followed) leaves `root`. ValueError says why.
    """
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise ValueError(f"file name {name!r} is not a plain relative path")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"file name {name!r} points outside its folder (absolute, or with '..')")
    root = Path(root)
    path = root / pure
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise ValueError(f"file name {name!r} leads outside {root} through a symlink")
    return path


def file_in_the_way(path: str | Path) -> Path | None:
    """The first part of `path` that exists and is not a folder (so no folder can be made at `path`), or None."""
    p = Path(path)
    for part in [*reversed(p.parents), p]:
        if part.exists() and not part.is_dir():
            return part
    return None


def not_a_folder(path: str | Path) -> str | None:
    """Why no folder can be made at `path` ("X is a file, where a folder is needed"), or None when one can."""
    blocker = file_in_the_way(path)
    return None if blocker is None else f"{blocker} is a file, where a folder is needed"


def one_line(e: BaseException | str, limit: int = 400) -> str:
    """An error message (often multi-line, C++-flavoured) as one short line for `error:` output."""
    text = " ".join(str(e).split()) or (type(e).__name__ if isinstance(e, BaseException) else "")
    return text[:limit] + ("..." if len(text) > limit else "")
