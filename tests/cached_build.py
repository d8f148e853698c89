"""Test fixtures built once and kept in the pytest cache across sessions, safe when several pytest processes
(pytest-xdist workers, two sessions) ask for the same build at the same time.

`cached_build(config, name, key, build)` returns `CACHE/edgevit-NAME-KEY/`, building it first with `build(tmp)`
when its `DONE` marker is missing. The build runs in a temp folder renamed into place, under an exclusive file
lock, so a second process waits for the first build instead of repeating it or deleting it from under the
first process's tests. Builds of older code (another KEY) are removed; contracts that name the temp folder as
their source are rewritten to the final one.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_build(config: pytest.Config, name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The cached folder for (name, key), built by `build(tmp)` exactly once across processes."""
    root = Path(config.cache.mkdir(f"edgevit-{name}-{key}"))
    lock = root.with_name(root.name + ".lock")
    with _exclusive(lock):
        if (root / "DONE").exists():
            return root
        for old in root.parent.glob(f"edgevit-{name}-*"):  # builds of older code, and their locks
            if old in (root, lock) or ".tmp" in old.name:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        tmp = root.with_name(f"{root.name}.tmp")  # ours alone under the lock; a killed build's is cleared
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        build(tmp)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
        for c in root.rglob("edgevit.json"):  # the contracts name the temp build folder as their source
            c.write_text(c.read_text().replace(str(tmp), str(root)))
        (root / "DONE").write_text("ok")
    return root
