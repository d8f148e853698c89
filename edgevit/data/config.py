"""Augmentation options (torch-free, so the CLI can build its flags without importing torch).

Each field becomes a `train` flag; `suggested_augment` gives per-dataset defaults: no flips for digits and
fashion-mnist (a flipped '2' or a left-pointing shoe is not how the classes look), flips for natural images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgevit.errors import DataError

PADDING_MODES = ("zeros", "reflect")


@dataclass
class AugmentConfig:
    """Train-time augmentations, applied batched on tensors at model resolution."""

    random_crop_padding: int = 0  # pixels at model resolution: pad, then crop back at a random offset
    padding_mode: str = "zeros"  # zeros (black, the CIFAR recipe) | reflect
    hflip: bool = False
    trivial_augment: bool = False  # one of brightness/contrast/sharpness/shift per image, random magnitude
    random_erasing: float = 0.0  # probability of erasing one random rectangle (to the dataset mean)
    randaugment: int = 0  # RandAugment magnitude m in 0..29 (kornia's scale of 30), 0 = off
    randaugment_ops: int = 2  # RandAugment's n: ops applied in sequence when it is on

    def __post_init__(self) -> None:
        if self.random_crop_padding < 0:
            raise DataError(f"random_crop_padding must be >= 0, got {self.random_crop_padding}")
        if self.padding_mode not in PADDING_MODES:
            raise DataError(f"padding_mode must be one of {PADDING_MODES}, got {self.padding_mode!r}")
        if not 0.0 <= self.random_erasing <= 1.0:
            raise DataError(f"random_erasing is a probability in [0, 1], got {self.random_erasing}")
        if not 0 <= self.randaugment < 30:
            raise DataError(f"randaugment is a magnitude in 0..29 (0 = off), got {self.randaugment}")
        if self.randaugment_ops < 1:
            raise DataError(f"randaugment_ops must be >= 1, got {self.randaugment_ops}")

    @property
    def enabled(self) -> bool:
        return bool(self.random_crop_padding or self.hflip or self.trivial_augment or self.random_erasing
                    or self.randaugment)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AugmentConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def suggested_augment(name: str, size: int | tuple[int, int] | None = None) -> AugmentConfig:
    """Default augmentations for a dataset name (or spec) at a model input size (default 32).

    Crop padding is 1/8 of the side (4 px at 32, the CIFAR recipe), 1/16 for the tiny digits.
    """
    from edgevit.data.specs import ALIASES

    name = name.strip().partition(":")[0].lower()
    name = ALIASES.get(name, name)
    side = 32 if size is None else (size if isinstance(size, int) else min(size))
    pad = max(1, round(side / 8))
    if name == "digits":
        return AugmentConfig(random_crop_padding=max(1, round(side / 16)))
    if name == "fashion-mnist":
        return AugmentConfig(random_crop_padding=pad, random_erasing=0.1)
    if name in ("cifar10", "cifar100"):
        return AugmentConfig(random_crop_padding=pad, hflip=True, trivial_augment=True, random_erasing=0.1)
    return AugmentConfig(random_crop_padding=pad, hflip=True)  # imagefolder: natural images
