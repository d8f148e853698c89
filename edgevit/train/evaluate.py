"""Evaluation: accuracy, per-class accuracy, confusion matrix and expert usage over a dataset split.

Used every epoch by the trainer, by `edgevit eval`, and by `edgevit superclasses` (confusion on the held-out
split). Under DDP each rank takes every world_size-th image and the counts are summed, so no image is counted
twice and the result equals a single-process evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from edgevit.runtimes.contract import Preprocess
from edgevit.runtimes.files import atomic_write_text
from edgevit.train.ddp import Dist, all_sum


def dataset_arrays(ds) -> tuple[Any, Any]:
    """(uint8 images (N, H, W, C), int64 targets (N,)) of an edgevit.data ArrayDataset."""
    return ds.images, ds.targets


@torch.no_grad()
def evaluate(model: torch.nn.Module, ds, pre: Preprocess, num_classes: int, batch_size: int = 256,
             device: torch.device | str = "cpu", d: Dist | None = None, usage: bool = False) -> dict[str, Any]:
    """Run `model` (unwrapped, any mode; put in eval here) over `ds`; returns metrics with a confusion matrix."""
    from edgevit.data import BatchTransform

    d = d or Dist()
    was_training = model.training
    model.eval()
    transform = BatchTransform(pre, train=False)
    images, targets = dataset_arrays(ds)
    idx = torch.arange(d.rank, len(targets), d.world_size)
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    expert_counts: dict[str, torch.Tensor] = {}
    for start in range(0, len(idx), batch_size):
        sel = idx[start : start + batch_size]
        x = transform(torch.as_tensor(images[sel.numpy()])).to(device)
        y = torch.as_tensor(targets[sel.numpy()], dtype=torch.int64).to(device)
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double().cpu()
        pred = logits.argmax(-1)
        conf += torch.bincount((y * num_classes + pred).cpu(), minlength=num_classes**2).view(num_classes, num_classes)
        if usage:
            for name, counts in model.expert_usage().items():
                c = torch.as_tensor(counts, dtype=torch.int64)
                expert_counts[name] = expert_counts.get(name, torch.zeros_like(c)) + c
    model.train(was_training)
    conf = all_sum(conf.to(device), d).cpu()
    loss_sum = all_sum(loss_sum.to(device), d).cpu()
    if usage:
        expert_counts = {k: all_sum(v.to(device), d).cpu() for k, v in expert_counts.items()}
    return summarize(conf, float(loss_sum), expert_counts)


def summarize(conf: torch.Tensor, loss_sum: float = 0.0, expert_counts: dict | None = None) -> dict[str, Any]:
    n = int(conf.sum())
    support = conf.sum(1)
    per_class = (conf.diag().double() / support.clamp(min=1).double()).tolist()
    out: dict[str, Any] = {
        "accuracy": float(conf.diag().sum()) / max(n, 1),
        "loss": loss_sum / max(n, 1),
        "count": n,
        "per_class_accuracy": [round(v, 6) for v in per_class],
        "support": support.tolist(),
        "confusion": conf.tolist(),
    }
    if expert_counts:
        out["expert_usage"] = {k: v.tolist() for k, v in expert_counts.items()}
    return out


def write_report(result: dict[str, Any], labels: list[str], out_dir: Path, extra: dict | None = None) -> dict[str, Path]:
    """eval.json (labels, accuracy, per-class accuracy, confusion) and confusion.png in out_dir."""
    from edgevit.train.plots import plot_confusion

    out_dir = Path(out_dir)
    report = {**(extra or {}), **result, "labels": labels,
              "per_class": {lab: acc for lab, acc in zip(labels, result["per_class_accuracy"], strict=True)}}
    paths = {"json": out_dir / "eval.json", "png": out_dir / "confusion.png"}
    atomic_write_text(paths["json"], json.dumps(report, indent=1) + "\n")
    title = f"{extra.get('model', '')} on {extra.get('data', '')}: {result['accuracy']:.2%}" if extra else "confusion"
    plot_confusion(result["confusion"], labels, paths["png"], title=title)
    return paths
