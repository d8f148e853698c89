"""Where a training run goes: `runs/<data>-<model>`, then `-2`, `-3`... (ultralytics' habit), or `--name`.

A second `edgevit train` with the defaults must start a new run, not refuse or overwrite the first; the folder
is named after the data set (an imagefolder run after its folder), so runs on two folders never mix. An
explicit `--out DIR` is taken as is. `--resume` without `--out` continues the newest run of that name.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgevit.errors import ConfigError

RUNS_ROOT = Path("runs")


def data_name(spec: str) -> str:
    """'digits' -> 'digits'; 'cifar10:~/data' -> 'cifar10'; 'imagefolder:~/photos/flowers/' -> 'flowers'."""
    name, _, arg = spec.partition(":")
    if name.lower().replace("-", "").replace("_", "") in ("imagefolder", "folder") and arg.strip():
        name = Path(arg.strip().rstrip("/\\")).expanduser().name or name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "data"


def base_name(data: str, model: str, task: str = "classify") -> str:
    """The run name before numbering: `<data>-<model>` (`-mae` for pre-training)."""
    return f"{data_name(data)}-{model}{'-mae' if task == 'mae' else ''}"


def numbered(root: Path, name: str) -> list[Path]:
    """root/name, root/name-2, root/name-3, ... that exist, in number order."""
    found = [(1, root / name)] if (root / name).is_dir() else []
    for p in root.glob(f"{glob_escape(name)}-*"):
        suffix = p.name[len(name) + 1:]
        if suffix.isdigit() and int(suffix) >= 2 and p.is_dir():
            found.append((int(suffix), p))
    return [p for _, p in sorted(found)]


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def holds_run(folder: Path) -> bool:
    """Taken: any non-empty folder (a run, or anything else a user keeps there); an empty one is reused."""
    return folder.is_dir() and any(folder.iterdir()) or (folder.exists() and not folder.is_dir())


def next_free(root: Path, name: str) -> Path:
    """The first of root/name, root/name-2, ... that holds no run yet."""
    if not holds_run(root / name):
        return root / name
    n = 2
    while holds_run(root / f"{name}-{n}"):
        n += 1
    return root / f"{name}-{n}"


def newest(root: Path, name: str) -> Path:
    """The highest-numbered existing run of this name (what `--resume` continues), else root/name."""
    runs = [p for p in numbered(root, name) if holds_run(p)]
    return runs[-1] if runs else root / name


def run_dir(out: str | None, name: str | None, data: str, model: str, task: str, resume: bool,
            root: Path = RUNS_ROOT) -> Path:
    """The run folder: `--out` as given; else runs/<--name or data-model>, the next free number (or, with
    `--resume`, the newest one)."""
    if out:
        return Path(out)
    if name is not None and (not name.strip() or Path(name).name != name or name in (".", "..")):
        raise ConfigError(f"--name is a plain folder name under {root}/ (use --out for a path), got {name!r}")
    base = name or base_name(data, model, task)
    return newest(root, base) if resume else next_free(root, base)
