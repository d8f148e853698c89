"""End-of-run pictures (matplotlib, Agg backend: no display needed): training curves, expert usage, confusion.

Plots are a convenience: a failure to draw one is reported and never loses a finished training run.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from edgevit.runtimes.files import atomic_write_bytes
from edgevit.runtimes.safe_text import plot_safe


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Loss (train, val) and accuracy (train, val) per epoch from metrics.jsonl records."""
    plt = _pyplot()
    ep = [r["epoch"] for r in records]
    has_acc = any("val_acc" in r or "train_acc" in r for r in records)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(10 if has_acc else 5.5, 3.8), squeeze=False)
    panels = [(axes[0][0], "loss", (("train_loss", "train"), ("val_loss", "val")))]
    if has_acc:
        panels.append((axes[0][1], "accuracy", (("train_acc", "train"), ("val_acc", "val"))))
    for ax, what, keys in panels:
        for key, label in keys:
            pts = [(e, r[key]) for e, r in zip(ep, records, strict=True) if key in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", ms=3, label=label)
        ax.set(xlabel="epoch", ylabel=what, title=what)
        if what == "accuracy":
            ax.set_ylim(0, 1.0)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_expert_usage(usage: dict[str, list[int]], path: Path, title: str = "expert usage") -> Path:
    return _save(expert_usage_figure(usage, title), path)


def expert_usage_figure(usage: dict[str, list[int]], title: str = "expert usage"):
    """One bar group per MoE module: share of tokens (or images) each expert received. The legend names every
    expert drawn (each the first time it appears, whatever the modules' sizes), outside the bars."""
    plt = _pyplot()
    names = list(usage)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 4), 3.8))
    width = 0.8 / max(len(v) for v in usage.values())
    labelled: set[int] = set()
    for i, name in enumerate(names):
        counts = usage[name]
        total = max(1, sum(counts))
        for e, c in enumerate(counts):
            ax.bar(i + e * width, c / total, width, color=f"C{e % 10}", label=None if e in labelled else f"expert {e}")
            labelled.add(e)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels([n.replace("blocks.", "b").replace(".ffn", "") for n in names], rotation=45, ha="right")
    ax.set(xlabel="MoE layer (block)", ylabel="share of routed inputs", title=title)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: int(labels[k].split()[-1]))
    ax.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=7,
              ncol=1 + len(labels) // 12, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path, title: str = "confusion") -> Path:
    """Row-normalised confusion matrix (rows: true class, columns: predicted)."""
    import numpy as np

    plt = _pyplot()
    m = np.asarray(matrix, dtype=np.float64)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(min(14, 2 + 0.45 * n), min(12, 1.6 + 0.4 * n)))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    if n <= 30:
        shown = [plot_safe(x) for x in labels]  # class names are data: no mathtext
        ax.set_xticks(range(n), shown, rotation=90, fontsize=7)
        ax.set_yticks(range(n), shown, fontsize=7)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)
