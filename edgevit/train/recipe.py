"""What a training run is: its arguments (`TrainArgs`), the default recipe, and how `--resume` merges them.

The arguments are saved in every checkpoint's meta.json; `--resume` reloads them so the continued run is the
same run (only `--epochs`, `--device`, `--threads` and `--compile` may change on resume; anything else that
differs is an error, since it would silently make a different run). Named recipes (`--recipe`) live in
`edgevit.train.recipes` and only fill these fields.
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
RESUMABLE = ("epochs", "device", "threads", "compile")
LR_SCALINGS = ("sqrt", "linear")
AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass
class TrainArgs:
    """Every knob of `edgevit train` / `edgevit pretrain`; None means the recipe default."""

    model: str | None = None
    recipe: str | None = None  # the named recipe these values started from (edgevit.train.recipes)
    data: str = DEFAULT_DATA
    out: str | None = None
    name: str | None = None  # run folder under runs/ (default <data>-<model>, numbered; edgevit.train.rundir)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    lr_batch: int | None = None  # the batch size `lr` is stated for; others scale it by lr_scaling (None: no scaling)
    lr_scaling: str = "sqrt"  # sqrt (timm's rule for adaptive optimizers) | linear (Goyal et al.)
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    label_smoothing: float = 0.1
    clip_grad: float = 1.0
    seed: int = 0
    img_size: int | str | None = None  # an int, or "native": the dataset's own image size
    overrides: dict[str, Any] = field(default_factory=dict)
    augment: str = "auto"  # auto (the dataset's suggestion) | none; the switches below override either
    crop_padding: int | None = None
    hflip: bool | None = None
    trivial_augment: bool | None = None
    randaugment: int | None = None  # magnitude 1..29, 0 = off
    random_erasing: float | None = None
    mixup: float = 0.0  # Beta alpha, 0 = off
    cutmix: float = 0.0  # Beta alpha, 0 = off
    mix_prob: float = 1.0  # share of batches mixed when mixup or cutmix is on
    ema: float = 0.0  # EMA decay of the weights (e.g. 0.999), 0 = off; the EMA is validated and saved as best
    superclasses: str | None = None
    init: str | None = None
    val_fraction: float = 0.1
    limit: int | None = None
    eval_batch_size: int = 256
    device: str = "auto"
    threads: int | None = None  # torch intra-op threads (None: the machine's cores / processes)
    amp: str = "auto"  # auto (bf16, else fp16, on CUDA; off on CPU) | off | bf16 | fp16
    compile: bool = False  # torch.compile the training forward
    budget_minutes: float | None = None  # train for this wall time, schedule planned on time (not epochs)
    budget_warmup: float = 0.05  # share of the budget spent warming up the lr
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

    def peak_lr(self) -> float:
        """`lr` scaled from its reference batch `lr_batch` to `batch_size` by `lr_scaling`."""
        if not self.lr_batch:
            return self.lr
        ratio = self.batch_size / self.lr_batch
        return self.lr * (ratio if self.lr_scaling == "linear" else ratio**0.5)

    def check(self) -> None:
        """Values no component checks on its own; ConfigError names the flag."""
        for flag, value, ok, rule in (
            ("--epochs", self.epochs, self.epochs >= 1, "at least 1"),
            ("--batch-size", self.batch_size, self.batch_size >= 1, "at least 1"),
            ("eval_batch_size", self.eval_batch_size, self.eval_batch_size >= 1, "at least 1"),
            ("--lr", self.lr, self.lr > 0, "above 0"),
            ("--min-lr", self.min_lr, 0 <= self.min_lr <= self.lr, "between 0 and --lr"),
            ("--lr-batch", self.lr_batch, self.lr_batch is None or self.lr_batch >= 1, "at least 1"),
            ("--weight-decay", self.weight_decay, self.weight_decay >= 0, "at least 0"),
            ("--warmup-epochs", self.warmup_epochs, self.warmup_epochs >= 0, "at least 0"),
            ("label_smoothing", self.label_smoothing, 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("--clip-grad", self.clip_grad, self.clip_grad >= 0, "at least 0 (0: off)"),
            ("--val-fraction", self.val_fraction, 0 <= self.val_fraction < 1, "in [0, 1)"),
            ("--limit", self.limit, self.limit is None or self.limit >= 1, "at least 1"),
            ("--patience", self.patience, self.patience >= 0, "at least 0 (0: off)"),
            ("--crop-padding", self.crop_padding, self.crop_padding is None or self.crop_padding >= 0, "at least 0"),
            ("--random-erasing", self.random_erasing,
             self.random_erasing is None or 0 <= self.random_erasing <= 1, "a probability in [0, 1]"),
            ("mask_ratio", self.mask_ratio, 0 < self.mask_ratio < 1, "in (0, 1)"),
        ):
            if not ok:
                raise ConfigError(f"{flag} must be {rule}, got {value}")
        if self.lr_scaling not in LR_SCALINGS:
            raise ConfigError(f"--lr-scaling must be one of {LR_SCALINGS}, got {self.lr_scaling!r}")
        if self.amp not in AMP_MODES:
            raise ConfigError(f"--amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"--ema is a decay in [0, 1), got {self.ema}")
        if self.mixup < 0 or self.cutmix < 0 or not 0.0 <= self.mix_prob <= 1.0:
            raise ConfigError("--mixup/--cutmix are Beta alphas >= 0 and --mix-prob a probability")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ConfigError(f"--budget-minutes must be > 0, got {self.budget_minutes}")
        if not 0.0 <= self.budget_warmup < 1.0:
            raise ConfigError(f"budget_warmup is a share of the budget in [0, 1), got {self.budget_warmup}")
        if isinstance(self.img_size, str) and self.img_size != "native":
            raise ConfigError(f"--img-size is a number of pixels or 'native', got {self.img_size!r}")

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
