"""Shared helpers for the benchmark scripts: run the edgevit CLI like a user would, write JSON/markdown."""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def edgevit(*args: str, log: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `python -m edgevit ARGS` (the same code as the `edgevit` console script), echoing the command."""
    cmd = [sys.executable, "-m", "edgevit", *map(str, args)]
    print("$ edgevit " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {shlex.join(cmd)}\n# {time.perf_counter() - t0:.1f}s rc={r.returncode}\n{r.stdout}\n{r.stderr}")
    if check and r.returncode != 0:
        raise SystemExit(f"command failed (rc={r.returncode}): edgevit {' '.join(map(str, args))}\n{r.stderr[-3000:]}")
    return r


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(path)


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    return m, sd


def new_axes(figsize: tuple[float, float]):
    """A headless matplotlib figure (Agg): (fig, ax)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def finish_plot(fig, ax, path: Path, title: str, xlabel: str, ylabel: str = "top-1 (%)") -> None:
    """Labels, grid, tight layout, save at 120 dpi, close."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
