"""Real images for validation and int8 calibration, preprocessed by the checkpoint's own `Preprocess`.

Source: the checkpoint's dataset (`meta.json`'s `dataset` spec) through `edgevit.data.load_dataset` when that is
importable and the spec loads; otherwise the digits test split shipped in `edgevit.runtimes`
(`runtimes/data/digits_test.npz`, 360 images). Validation uses the test split; calibration uses the train
split (falling back to the shipped test images, which the report then says).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from edgevit.runtimes.contract import Preprocess, preprocess_images

SHIPPED = "digits"


@dataclass
class ImageSet:
    name: str  # the dataset spec (contract `eval_set`)
    split: str
    images: np.ndarray  # uint8 (N, H, W[, C])
    labels: np.ndarray  # int64 (N,)
    note: str = ""

    def preprocess(self, pre: Preprocess, layout: str = "NCHW") -> np.ndarray:
        return preprocess_images(self.images, pre, layout)


def dataset_spec(meta: dict[str, Any] | None) -> str:
    """The checkpoint's dataset spec (`meta.json`: `dataset`, or `data.spec` as `edgevit train` writes it)."""
    meta = meta or {}
    for key in ("dataset", "data"):
        ds = meta.get(key)
        if isinstance(ds, dict):
            ds = ds.get("spec") or ds.get("name")
        if ds:
            return str(ds)
    return SHIPPED


def shipped_digits() -> ImageSet:
    ref = resources.files("edgevit.runtimes").joinpath("data/digits_test.npz")
    with resources.as_file(ref) as p, np.load(p, allow_pickle=False) as d:
        images, labels = np.asarray(d["images"]), np.asarray(d["labels"]).astype(np.int64)
    return ImageSet(SHIPPED, "test", images.astype(np.uint8), labels)


def _subset(s: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    if not n or n >= len(s.labels):
        return s
    idx = np.sort(np.random.default_rng(seed).permutation(len(s.labels))[:n])
    return ImageSet(s.name, s.split, s.images[idx], s.labels[idx], s.note)


def load_images(spec: str | None, split: str = "test", limit: int | None = None) -> ImageSet:
    """`limit` images (a seeded subset) of `split` from dataset `spec`, or the shipped digits as a fallback."""
    spec = spec or SHIPPED
    note = ""
    try:
        from edgevit.data import load_dataset

        splits = load_dataset(spec)
        part = getattr(splits, split)
        s = ImageSet(spec, split, np.asarray(part.images), np.asarray(part.targets).astype(np.int64))
    except Exception as e:  # edgevit.data missing or the dataset not on this machine: use the shipped set
        if spec != SHIPPED:
            note = f"dataset {spec!r} unavailable ({type(e).__name__}: {e}); used the shipped digits test set"
        elif split != "test":
            note = "used the shipped digits test images (the train split needs scikit-learn)"
        s = shipped_digits()
        s.note = note
    return _subset(s, limit)


def eval_images(meta: dict[str, Any] | None, limit: int | None = 128) -> ImageSet:
    return load_images(dataset_spec(meta), "test", limit)


def calibration_images(meta: dict[str, Any] | None, limit: int = 64) -> ImageSet:
    return load_images(dataset_spec(meta), "train", limit)


def random_inputs(shape: tuple[int, ...], n: int = 16, seed: int = 0) -> np.ndarray:
    """Standard-normal inputs in the model's (normalised) input space, fixed seed."""
    return np.random.default_rng(seed).standard_normal((n, *shape[1:])).astype(np.float32)
