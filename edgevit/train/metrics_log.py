"""The per-epoch record of a run, written where people look for it: metrics.jsonl (the full record, what
`--resume` reads back), metrics.csv beside it (spreadsheets, pandas), and TensorBoard when asked.

Rewritten whole and atomically each epoch, so a run stopped at any moment leaves readable files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from edgevit.runtimes.files import atomic_write_text

METRICS_FILE = "metrics.jsonl"
CSV_FILE = "metrics.csv"
TB_DIR = "tensorboard"


def csv_text(records: list[dict[str, Any]]) -> str:
    """One row per epoch, one column per scalar (nested values like expert usage stay in the jsonl)."""
    cols: list[str] = []
    for rec in records:
        cols += [k for k, v in rec.items() if k not in cols and isinstance(v, int | float | str | None)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(records)
    return buf.getvalue()


class MetricsLog:
    """Writes a run's epoch records; `tensorboard=True` also logs every scalar with torch's SummaryWriter."""

    def __init__(self, out: Path, tensorboard: bool = False) -> None:
        self.out = Path(out)
        self.writer = open_tensorboard(self.out / TB_DIR) if tensorboard else None

    def write(self, records: list[dict[str, Any]]) -> None:
        atomic_write_text(self.out / METRICS_FILE, "".join(json.dumps(x) + "\n" for x in records))
        atomic_write_text(self.out / CSV_FILE, csv_text(records))
        if self.writer is not None and records:
            rec = records[-1]
            for key, value in rec.items():
                if key != "epoch" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, rec["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def open_tensorboard(folder: Path):
    """torch's SummaryWriter, which needs the `tensorboard` package: the `tb` extra."""
    from edgevit.errors import MissingDependencyError

    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MissingDependencyError("tensorboard", "tb", "--tensorboard") from None
    return SummaryWriter(log_dir=str(folder))
