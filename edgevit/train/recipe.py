"""What a training run is: its arguments (`TrainArgs`), the default recipe, and how `--resume` merges them.

The arguments are saved in every checkpoint's meta.json; `--resume` reloads them so the continued run is the
same run (only `--epochs` and `--device` may change on resume; anything else that differs is an error, since
it would silently make a different run).
"""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevit.errors import CheckpointError, ConfigError

DEFAULT_MODEL = "mmoe_vit_xxs"
DEFAULT_DATA = "digits"
# The quick-start recipe (README): mmoe_vit_xxs on digits. 8x8 digits carry no detail a 36 px / 144-token input
# would add, so the default run uses the flagship at 12 px (patch 3: 16 tokens), recorded in config.json.
DEFAULT_IMG_SIZE = {("mmoe_vit_xxs", "digits"): 12}
RESUMABLE = ("epochs", "device")


@dataclass
class TrainArgs:
    """Every knob of `edgevit train` / `edgevit pretrain`; None means the recipe default."""

    model: str | None = None
    data: str = DEFAULT_DATA
    out: str | None = None
    name: str | None = None  # run folder under runs/ (default <data>-<model>, numbered; edgevit.train.rundir)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    label_smoothing: float = 0.1
    clip_grad: float = 1.0
    seed: int = 0
    img_size: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    augment: str = "auto"  # auto (the dataset's suggestion) | none
    superclasses: str | None = None
    init: str | None = None
    val_fraction: float = 0.1
    limit: int | None = None
    eval_batch_size: int = 256
    device: str = "auto"
    patience: int = 0  # stop after this many epochs without a better validation score, 0 = off
    tensorboard: bool = False  # also log the epoch metrics to OUT/tensorboard (the `tb` extra)
    task: str = "classify"  # classify | mae
    mask_ratio: float = 0.75
    visible_weight: float = 0.1
    decoder_dim: int = 64

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainArgs:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def model_name(self) -> str:
        return self.model or DEFAULT_MODEL



def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`--set key=value` pairs; values parse as Python literals (3, 0.1, (3, 4, 5), True) else stay strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        out[key.strip()] = tuple(value) if isinstance(value, list) else value
    return out


def saved_args(ckpt_dir: Path) -> TrainArgs:
    """The TrainArgs a checkpoint was trained with (meta.json["args"])."""
    try:
        meta = json.loads((Path(ckpt_dir) / "meta.json").read_text(encoding="utf-8"))
        return TrainArgs.from_dict(meta["args"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{ckpt_dir}: cannot read the run's arguments from meta.json ({e!r})") from None


def merge_for_resume(saved: TrainArgs, given: dict[str, Any]) -> TrainArgs:
    """Saved args + the explicitly given ones; only RESUMABLE fields may differ."""
    merged = dataclasses.replace(saved)
    for key, value in given.items():
        if value is None or key in ("out", "name"):
            continue
        if key in RESUMABLE:
            setattr(merged, key, value)
        elif getattr(saved, key) != value and not (key == "overrides" and not value):
            raise ConfigError(f"--resume continues the saved run, whose {key} is {getattr(saved, key)!r}, not {value!r}; "
                              "drop the option or train into a new --out")
    return merged
