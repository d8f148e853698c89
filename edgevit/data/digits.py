"""`digits`: scikit-learn's bundled 8x8 digits (no download), the default set for the quick start and CI.

The test split is pinned to the one shipped to devices (`runtimes/data/digits_test.npz`), so accuracy measured
on a Raspberry Pi and on the workstation is measured on the same 360 images.
"""

from __future__ import annotations

import numpy as np

from edgevit.data.base import ArrayDataset, SourceData
from edgevit.errors import DataError

TEST_SIZE = 360
SPLIT_SEED = 0
LABELS = [str(i) for i in range(10)]


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as uint8 (N, 8, 8) scaled 0..16 -> 0..255, and their int64 targets."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the 'digits' dataset needs scikit-learn: pip install 'edgevit[train]'") from None
    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, d.target.astype(np.int64)


def digits_split_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, both sorted: the recipe that made the shipped digits_test.npz."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(perm[TEST_SIZE:]), np.sort(perm[:TEST_SIZE])


def load_digits_source() -> SourceData:
    images, targets = digits_images()
    train_idx, test_idx = digits_split_indices(len(images))
    return SourceData(
        train=ArrayDataset(images[train_idx, :, :, None], targets[train_idx]),
        test=ArrayDataset(images[test_idx, :, :, None], targets[test_idx]),
        labels=list(LABELS),
    )
