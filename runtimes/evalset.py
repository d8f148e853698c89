"""Eval sets for accuracy: the digits test split shipped in the package, an .npz file, or (on a workstation)
any `edgevit.data` spec.

The shipped set (`runtimes/data/digits_test.npz`: 360 uint8 images 8x8, labels 0-9) lets a Raspberry Pi measure
accuracy with no dataset at hand. Any other set travels to a device as an .npz with `images` (N,H,W[,C]) uint8
and `labels` (N,) int: `EvalSet.save` writes one, `--data FILE.npz` reads it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from edgevit.errors import DataError, EdgevitError
from edgevit.runtimes.files import atomic_write_bytes

SHIPPED = "digits"


@dataclass
class EvalSet:
    name: str
    images: np.ndarray  # uint8 (N, H, W[, C])
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def limit(self, n: int | None) -> EvalSet:
        if not n or n >= len(self):
            return self
        return EvalSet(f"{self.name}[:{n}]", self.images[:n], self.labels[:n])

    def save(self, path: str | Path) -> Path:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=self.images, labels=self.labels, name=np.array(self.name))
        atomic_write_bytes(path, buf.getvalue())
        return Path(path)


def load_npz(path: str | Path, name: str | None = None) -> EvalSet:
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as d:
            images, labels = np.asarray(d["images"]), np.asarray(d["labels"]).astype(np.int64)
            stored = str(d["name"]) if "name" in d.files else None
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"cannot read eval set {p}: {e} (expected an .npz with 'images' and 'labels')") from None
    if images.shape[0] != labels.shape[0] or images.ndim not in (3, 4):
        raise DataError(f"eval set {p}: images {images.shape} and labels {labels.shape} do not match")
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    return EvalSet(name or stored or p.stem, images, labels)


def shipped_digits() -> EvalSet:
    """The digits test split that ships with edgevit (no scikit-learn, no download)."""
    ref = resources.files("edgevit.runtimes").joinpath("data/digits_test.npz")
    with resources.as_file(ref) as p:
        return load_npz(p, name=SHIPPED)


def load_eval_set(spec: str | None, limit: int | None = None) -> EvalSet:
    """`digits` (default, shipped) | `npz:FILE` | `FILE.npz` | any `edgevit.data` spec (workstation only)."""
    spec = spec or SHIPPED
    if spec == SHIPPED:
        return shipped_digits().limit(limit)
    if spec.startswith("npz:"):
        return load_npz(spec[4:]).limit(limit)
    if spec.endswith(".npz") and Path(spec).is_file():
        return load_npz(spec).limit(limit)
    try:
        from edgevit.data import load_dataset  # torch side: workstation only
    except ImportError as e:
        raise DataError(f"eval set {spec!r} needs the workstation install (edgevit.data: {e}); on a device pass "
                        "an .npz eval set (--data FILE.npz) or use the shipped 'digits'") from None
    try:
        test = load_dataset(spec, limit=None).test
    except EdgevitError:
        raise
    except Exception as e:
        raise DataError(f"cannot load eval set {spec!r}: {e}") from None
    images = np.asarray(test.images)
    labels = np.asarray(test.targets).astype(np.int64)
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    return EvalSet(spec, images, labels).limit(limit)
