"""Checkpoint directories: the file format between training and export.

    DIR/config.json        model config (`config.to_dict()`): rebuilds the model with no flags
    DIR/model.safetensors  weights
    DIR/labels.json        class names, in output order
    DIR/preprocess.json    `Preprocess` (input size, channels, mean/std, resize rule) as in the artifact contract
    DIR/meta.json          optional: dataset spec, metrics, superclasses, edgevit version (read into
                           `CheckpointInfo`'s typed fields once, by `read_checkpoint_info`)
    DIR/train_state.pt     optional: optimizer/scheduler/epoch/RNG (training writes it; loaded weights_only=True)

Every file is written atomically, weights first and config.json last, so a directory with a config.json always
has complete weights beside it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevit.errors import CheckpointError, ConfigError
from edgevit.runtimes.contract import Preprocess
from edgevit.runtimes.files import atomic_write_bytes, atomic_write_text, read_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
LABELS_FILE = "labels.json"
PREPROCESS_FILE = "preprocess.json"
META_FILE = "meta.json"
TRAIN_STATE_FILE = "train_state.pt"


@dataclass(frozen=True)
class TrainData:
    """What a checkpoint was trained on (`meta.json` `data`): enough to rebuild its held-out split."""

    spec: str = "digits"  # the dataset spec, as `edgevit train --data` took it
    val_fraction: float = 0.1
    seed: int = 0
    train: int | None = None  # image counts, for `edgevit info`
    val: int | None = None


@dataclass
class CheckpointInfo:
    """A checkpoint's facts, parsed once from its JSON files into typed fields (`read_checkpoint_info`).

    `meta` keeps the raw `meta.json` for `edgevit info --json` and the training recipe; everything else reads
    the typed fields below, never `meta` by hand.
    """

    path: Path
    config: Any  # the family's config dataclass
    labels: list[str]
    preprocess: Preprocess
    meta: dict[str, Any] = field(default_factory=dict)
    data: TrainData | None = None  # None: not trained by `edgevit train` (no meta.json `data`)
    task: str = "classify"  # classify | mae
    epoch: int | None = None
    epochs: int | None = None  # the run's planned epochs
    metrics: dict[str, float] = field(default_factory=dict)
    edgevit_version: str | None = None

    @property
    def model_name(self) -> str:
        return self.config.name or self.config.family

    @property
    def dataset(self) -> str:
        """The dataset spec it was trained on (`digits` when unknown): its eval and calibration images."""
        return self.data.spec if self.data else TrainData.spec


def _facts(meta: Any) -> dict[str, Any]:
    """The typed fields of `CheckpointInfo` from an (untrusted) `meta.json`: wrong types read as absent."""
    meta = meta if isinstance(meta, dict) else {}

    def get(d: Any, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        v = d.get(key) if isinstance(d, dict) else None
        return v if isinstance(v, kind) and not isinstance(v, bool) else default

    d = meta.get("data") if isinstance(meta.get("data"), dict) else None
    metrics = get(meta, "metrics", dict, {})
    epoch = get(meta, "epoch", int, get(metrics, "epoch", int))
    return {
        "data": None if d is None else TrainData(
            spec=str(get(d, "spec", str) or get(d, "name", str) or TrainData.spec),
            val_fraction=float(get(d, "val_fraction", (int, float), TrainData.val_fraction)),
            seed=get(d, "seed", int, TrainData.seed), train=get(d, "train", int), val=get(d, "val", int)),
        "task": get(meta, "task", str, "classify"),
        "epoch": epoch,
        "epochs": get(meta.get("args"), "epochs", int),
        "metrics": {k: float(v) for k, v in metrics.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "edgevit_version": get(meta, "edgevit_version", str),
    }


def _read_json(path: Path) -> Any:
    """A checkpoint's JSON file, read as untrusted (regular file, size cap, UTF-8, bounded nesting)."""
    try:
        return read_json(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} is not a checkpoint: {path.name} is missing") from None
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def save_checkpoint(path: str | Path, model, labels: list[str], preprocess: Preprocess,
                    meta: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically file by file (weights first, config.json last)."""
    from safetensors.torch import save

    import edgevit

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    n_out = model.config.num_classes
    if len(labels) != n_out:
        raise CheckpointError(f"{len(labels)} labels for a model with {n_out} outputs")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write_bytes(path / WEIGHTS_FILE, save(state))
    atomic_write_text(path / LABELS_FILE, json.dumps(list(labels), indent=1) + "\n")
    atomic_write_text(path / PREPROCESS_FILE, json.dumps(preprocess.to_dict(), indent=2) + "\n")
    meta = {"edgevit_version": edgevit.__version__, **(meta or {})}
    atomic_write_text(path / META_FILE, json.dumps(meta, indent=2, default=str) + "\n")
    atomic_write_text(path / CONFIG_FILE, json.dumps(model.config.to_dict(), indent=2) + "\n")
    return path


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read the JSON side of a checkpoint (no torch needed beyond the config classes)."""
    from edgevit.models.config import config_from_dict

    path = Path(path)
    if not path.is_dir():
        if path.exists():
            raise CheckpointError(f"{path} is a file; a checkpoint is a folder such as runs/NAME/best "
                                  "(config.json, model.safetensors, labels.json, ...)")
        raise CheckpointError(f"checkpoint directory not found: {path}")
    try:
        cfg = config_from_dict(_read_json(path / CONFIG_FILE))
    except ConfigError as e:
        raise CheckpointError(f"{path / CONFIG_FILE}: {e}") from None
    labels = _read_json(path / LABELS_FILE)
    if not isinstance(labels, list) or len(labels) != cfg.num_classes:
        raise CheckpointError(f"{path / LABELS_FILE}: expected a list of {cfg.num_classes} labels")
    try:
        pre = Preprocess.from_dict(_read_json(path / PREPROCESS_FILE))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path / PREPROCESS_FILE}: {e}") from None
    meta = _read_json(path / META_FILE) if (path / META_FILE).exists() else {}
    meta = meta if isinstance(meta, dict) else {}
    return CheckpointInfo(path, cfg, [str(x) for x in labels], pre, meta, **_facts(meta))


def load_state_dict(path: str | Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    f = Path(path) / WEIGHTS_FILE
    if not f.is_file():
        raise CheckpointError(f"{Path(path)} is not a checkpoint: {WEIGHTS_FILE} is missing")
    try:
        return load_file(str(f))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{f} is corrupt or unreadable: {e}") from None


def load_checkpoint(path: str | Path, eval_mode: bool = True):
    """Rebuild the model from config.json and load its weights strictly -> (model, CheckpointInfo)."""
    from edgevit.registry import build_model

    info = read_checkpoint_info(path)
    model = build_model(info.config)
    state = load_state_dict(path)
    wrong = [f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})" for own in [model.state_dict()]
             for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:  # right keys, wrong shapes: torch would raise a multi-line RuntimeError
        raise CheckpointError(f"{path}: weights do not fit {info.model_name}'s config.json: "
                              f"{len(wrong)} tensors have other shapes, e.g. {', '.join(wrong[:2])}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match {info.model_name} (missing: {list(missing)[:5]}, unexpected: {list(unexpected)[:5]})"
        )
    return (model.eval() if eval_mode else model), info


def checkpoint_sha256(path: str | Path) -> str:
    """Hash of the weights file: the artifact contract records where an export came from."""
    h = hashlib.sha256()
    with open(Path(path) / WEIGHTS_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
