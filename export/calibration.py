"""Real images for validation and int8 calibration: `EvalSet`s of the checkpoint's own dataset.

Source: the dataset the checkpoint was trained on (`CheckpointInfo.dataset`) through
`edgevit.data.evalset.split_or_shipped`; when that dataset is not on this machine, the digits test split shipped
in `edgevit.runtimes` (360 images), which the set's `note` (and so the report) says. Validation uses the test
split; calibration uses the train split. Preprocessing is the checkpoint's own (`EvalSet.preprocess`).
"""

from __future__ import annotations

import numpy as np

from edgevit.checkpoint import CheckpointInfo
from edgevit.data.evalset import split_or_shipped
from edgevit.runtimes.evalset import EvalSet


def eval_images(info: CheckpointInfo, limit: int | None = 128) -> EvalSet:
    return split_or_shipped(info.dataset, "test", limit)


def calibration_images(info: CheckpointInfo, limit: int = 64) -> EvalSet:
    return split_or_shipped(info.dataset, "train", limit)


def random_inputs(shape: tuple[int, ...], n: int = 16, seed: int = 0) -> np.ndarray:
    """Standard-normal inputs in the model's (normalised) input space, fixed seed."""
    return np.random.default_rng(seed).standard_normal((n, *shape[1:])).astype(np.float32)
