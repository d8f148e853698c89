"""`edgevit info` for checkpoint folders (the torch side), and the dispatch between checkpoints and artifacts.

Why separate from `edgevit.runtimes.describe`: counting parameters and FLOPs needs the model built in torch,
which the torch-free runtimes package must never import. The description uses the same keys as an artifact's
(model, input, preprocess, labels, routing, precision, size, edgevit_version) so one renderer shows both;
instead of a validation report a checkpoint carries its training metrics and any `edgevit eval` reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgevit.errors import CheckpointError, require
from edgevit.runtimes.base import expand_artifacts, is_checkpoint_dir
from edgevit.runtimes.contract import CONTRACT_FILENAME
from edgevit.runtimes.files import one_line, read_json

if TYPE_CHECKING:
    from edgevit.checkpoint import CheckpointInfo

_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}


def _train_summary(info: CheckpointInfo) -> dict[str, str]:
    """The few training facts worth a line each: data, epoch, accuracies."""
    out: dict[str, str] = {}
    d = info.data
    if d is not None:
        sizes = ", ".join(f"{n} {k}" for k, n in (("train", d.train), ("val", d.val)) if n is not None)
        out["trained on"] = d.spec + (f" ({sizes})" if sizes else "")
    metrics = info.metrics
    if metrics:
        accs = ", ".join(f"{k.removesuffix('_acc')} {metrics[k]:.1%}" for k in ("train_acc", "val_acc", "test_acc")
                         if k in metrics)
        of = f"/{info.epochs}" if info.epochs else ""
        out["metrics"] = f"epoch {info.epoch}{of}" + (f": accuracy {accs}" if accs else "")
    if info.task != "classify":
        out["task"] = info.task
    return out


def _evals(path: Path) -> list[str]:
    """One line per `edgevit eval` report saved under CHECKPOINT/eval/."""
    lines = []
    for f in sorted(path.glob("eval/*/eval.json")):
        try:
            r = read_json(f)
            what = f"{r.get('data', f.parent.name)} {r.get('split', '')}"
            lines.append(f"{what}: accuracy {float(r['accuracy']):.1%} on {r.get('count', '?')} images ({f})")
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return lines


def describe_checkpoint(path: str | Path, flops: bool = True) -> dict[str, Any]:
    """A checkpoint folder -> description (kind "checkpoint"): builds the model to count params and FLOPs."""
    require("torch", "train", "describing a checkpoint (counting its parameters)")
    from edgevit.checkpoint import WEIGHTS_FILE, load_checkpoint
    from edgevit.models.stats import active_flops, active_params, count_flops, count_params

    path = Path(path)
    model, info = load_checkpoint(path)
    cfg = info.config.to_dict()
    pre = info.preprocess
    n_flops, flop_error = None, None
    if flops:
        try:
            n_flops = int(count_flops(model))
        except Exception as e:  # FLOP counting is best effort: an exotic layer must not hide the rest
            flop_error = one_line(e, 120)
    dtype = str(next(iter(model.parameters())).dtype).removeprefix("torch.")
    moe = bool(getattr(model, "moe_modules", lambda: [])())
    weights = path / WEIGHTS_FILE
    d: dict[str, Any] = {
        "kind": "checkpoint",
        "path": str(path),
        "file": str(weights),
        "size_bytes": weights.stat().st_size if weights.exists() else None,
        "runtime": "torch",
        "model": {"name": info.model_name, "family": cfg.get("family"), "params": count_params(model),
                  "active_params": active_params(model) if moe else None, "flops": n_flops,
                  "active_flops": active_flops(model, n_flops) if moe and n_flops is not None else None,
                  "config": cfg},
        "labels": info.labels,
        "num_classes": len(info.labels),
        "input": {"name": "input", "shape": [1, pre.channels, *pre.size], "layout": "NCHW", "dtype": "float32"},
        "preprocess": pre.to_dict(),
        "precision": _DTYPES.get(dtype, dtype),
        "routing": "dynamic (MoE, as trained)" if moe else "none (dense)",
        "edgevit_version": info.edgevit_version,
        "train": _train_summary(info),
        "meta": info.meta,
        "evals": _evals(path),
        "exports": sorted(str(p.parent) for p in path.glob(f"export/*/{CONTRACT_FILENAME}")),
        "validation": None,
        "warnings": [f"FLOPs not counted: {flop_error}"] if flop_error else [],
    }
    if d["exports"]:
        d["train"]["exports"] = ", ".join(Path(e).name for e in d["exports"])
    return d


def describe_path(path: str | Path) -> list[dict[str, Any]]:
    """Checkpoint folder, artifact (file or folder), or a folder of either -> one description each."""
    from edgevit.runtimes.describe import describe_artifact

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p} does not exist")
    return [describe_checkpoint(x) if is_checkpoint_dir(x) else describe_artifact(x) for x in expand_artifacts(p)]
