"""In-memory dataset containers and the seeded splits every source shares.

Why one storage format: every source (sklearn, idx files, CIFAR pickles, image folders) ends up as raw uint8
arrays, so batching, augmentation and the export-side preprocessing contract only ever see one shape of data.
Torch-free on purpose: `edgevit.data.evalset` loads eval sets through here for `edgevit bench`, which needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edgevit.errors import DataError


@dataclass
class ArrayDataset:
    """Raw images `uint8 (N, H, W, C)` with C in (1, 3), all one size, and `int64 (N,)` targets."""

    images: np.ndarray
    targets: np.ndarray

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim == 3:  # (N, H, W): grey without a channel axis
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise DataError(f"images must be shaped (N, H, W, C) with C = 1 or 3, got {images.shape}")
        if images.dtype != np.uint8:
            raise DataError(f"images must be uint8, got {images.dtype}")
        targets = np.asarray(self.targets).astype(np.int64, copy=False).reshape(-1)
        if targets.shape[0] != images.shape[0]:
            raise DataError(f"{images.shape[0]} images but {targets.shape[0]} targets")
        self.images, self.targets = images, targets

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def subset(self, idx: np.ndarray | list[int] | slice) -> ArrayDataset:
        """A new dataset holding the selected rows (a copy for index arrays, a view for slices)."""
        if not isinstance(idx, slice):
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return ArrayDataset(self.images[idx], self.targets[idx])

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


@dataclass
class DatasetSplits:
    """A loaded dataset: train (minus val), a seeded stratified val split of train, the test split, names."""

    name: str
    spec: str
    train: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    labels: list[str]
    superclasses: list[int] | None = None  # class index -> super-class id (CIFAR-100 coarse labels)
    superclass_names: list[str] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return self.train.channels

    @property
    def image_size(self) -> tuple[int, int]:
        return self.train.image_size


class SourceData(NamedTuple):
    """What a source loader returns before the val split and `limit` are applied."""

    train: ArrayDataset
    test: ArrayDataset
    labels: list[str]
    superclasses: list[int] | None = None
    superclass_names: list[str] | None = None


def stratified_split(targets: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (keep, held_out) indices; each class gives round(n * fraction) rows, keeping >= 1 row.

    Seeded with numpy's default_rng so a split is the same on every machine and numpy version.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"split fraction must be in [0, 1), got {fraction}")
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(targets):
        rows = np.flatnonzero(targets == c)
        n = min(int(round(len(rows) * fraction)), len(rows) - 1)
        if n > 0:
            held.append(rng.permutation(rows)[:n])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    keep_idx = np.setdiff1d(np.arange(len(targets)), held_idx)
    return keep_idx.astype(np.int64), held_idx.astype(np.int64)


def check_labels(ds: ArrayDataset, num_classes: int, what: str) -> None:
    """Targets must index the label list; a mismatch means a corrupt or mixed-up dataset folder."""
    if len(ds) and (ds.targets.min() < 0 or ds.targets.max() >= num_classes):
        raise DataError(f"{what}: targets span [{ds.targets.min()}, {ds.targets.max()}] "
                        f"but there are {num_classes} class names")


def make_splits(name: str, spec: str, src: SourceData, val_fraction: float, seed: int,
                limit: int | None) -> DatasetSplits:
    """Apply `limit` (a seeded stratified cap on the train pool), then carve the val split out of train."""
    train = src.train
    if train.image_size != src.test.image_size or train.channels != src.test.channels:
        raise DataError(f"{spec}: train images are {train.images.shape[1:]} but test images are "
                        f"{src.test.images.shape[1:]}")
    for part, ds in (("train", train), ("test", src.test)):
        check_labels(ds, len(src.labels), f"{spec} ({part})")
    if limit is not None:
        if limit <= 0:
            raise DataError(f"limit must be a positive number of images, got {limit}")
        if limit < len(train):
            _, kept = stratified_split(train.targets, limit / len(train), seed + 1)
            if len(kept) != limit:  # rounding per class: fill up / trim with a seeded draw
                rng = np.random.default_rng(seed + 2)
                rest = np.setdiff1d(np.arange(len(train)), kept)
                kept = np.concatenate([kept, rng.permutation(rest)[: max(0, limit - len(kept))]])
                kept = np.sort(rng.permutation(kept)[:limit])
            train = train.subset(kept)
    keep, held = stratified_split(train.targets, val_fraction, seed)
    return DatasetSplits(name=name, spec=spec, train=train.subset(keep), val=train.subset(held),
                         test=src.test, labels=list(src.labels), superclasses=src.superclasses,
                         superclass_names=src.superclass_names)
