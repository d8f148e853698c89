"""Per-dataset normalisation constants and the default `Preprocess` a model trained on a dataset uses.

Fixed constants (not recomputed per run) so a checkpoint's preprocess.json, the exported contract and a device
all agree, and so `limit` or a different val seed never shifts the input distribution. Values are the pixel
mean/std over each set's train split in [0, 1] (tests recompute digits and fashion-mnist).
"""

from __future__ import annotations

import numpy as np

from edgevit.data.base import ArrayDataset, DatasetSplits
from edgevit.runtimes.contract import Preprocess

# name -> (mean per stored channel, std per stored channel)
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3049,), (0.3757,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
NEUTRAL = ((0.5,), (0.5,))  # imagefolder and anything unknown: maps [0, 1] to [-1, 1]


def compute_mean_std(ds: ArrayDataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel pixel mean/std of a dataset in [0, 1] (float64, so it is exact enough for constants)."""
    x = ds.images.reshape(-1, ds.channels).astype(np.float64) / 255.0
    return tuple(float(v) for v in x.mean(0)), tuple(float(v) for v in x.std(0))


def _to_channels(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    if len(values) == channels:
        return values
    if channels == 3:  # grey set fed to an RGB model: the grey value is repeated
        return (values[0],) * 3
    return (float(np.mean(values)),)  # RGB set fed to a grey model: channels are averaged


def default_preprocess(splits_or_name: DatasetSplits | str, size: tuple[int, int] | int, channels: int = 3,
                       resize: str = "bilinear") -> Preprocess:
    """The Preprocess for training on a dataset at a model's input size (name, spec or loaded splits)."""
    if isinstance(splits_or_name, DatasetSplits):
        name = splits_or_name.name
    else:
        name = splits_or_name.strip().partition(":")[0].lower()
        from edgevit.data.specs import ALIASES

        name = ALIASES.get(name, name)
    if isinstance(size, int):
        size = (size, size)
    mean, std = DATASET_STATS.get(name, NEUTRAL)
    return Preprocess(size=tuple(size), channels=channels, mean=_to_channels(mean, channels),
                      std=_to_channels(std, channels), resize=resize)
