"""The one eval-set type (`EvalSet`) and its torch-free loaders: the digits test split shipped in the package,
or an .npz file. Nothing else: a dataset spec (`fashion-mnist`, `cifar10:DIR`, ...) is turned into an
`EvalSet` on the workstation by `edgevit.data.evalset`, which `edgevit bench` writes as an .npz for the child
process or device (so this module never imports `edgevit.data`).

The shipped set (`runtimes/data/digits_test.npz`: 360 uint8 images 8x8, labels 0-9) lets a Raspberry Pi measure
accuracy with no dataset at hand. Any other set travels to a device as an .npz with `images` (N,H,W[,C]) uint8
and `labels` (N,) int: `EvalSet.save` writes one, `--data FILE.npz` reads it.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from edgevit.errors import DataError
from edgevit.runtimes.contract import Preprocess, preprocess_images
from edgevit.runtimes.files import atomic_write_bytes

SHIPPED = "digits"


@dataclass
class EvalSet:
    """Labelled uint8 images: the bench's accuracy set, the exporter's validation and calibration images."""

    name: str  # the dataset spec (an artifact contract's `eval_set`)
    images: np.ndarray  # uint8 (N, H, W[, C])
    labels: np.ndarray  # int64 (N,)
    split: str = "test"
    note: str = ""  # why this set stands in for the one asked for (e.g. the dataset was not on this machine)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def limit(self, n: int | None) -> EvalSet:
        """The first `n` images (the bench's `--limit`; the name says so)."""
        if not n or n >= len(self):
            return self
        return dataclasses.replace(self, name=f"{self.name}[:{n}]", images=self.images[:n], labels=self.labels[:n])

    def sample(self, n: int | None, seed: int = 0) -> EvalSet:
        """A seeded random subset of `n` images in their original order (export validation / calibration)."""
        if not n or n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def preprocess(self, pre: Preprocess, layout: str = "NCHW") -> np.ndarray:
        return preprocess_images(self.images, pre, layout)

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


def load_eval_set(spec: str | None, limit: int | None = None, *, from_contract: bool = False) -> EvalSet:
    """`digits` (default, shipped) | `npz:FILE` | `FILE.npz`. A dataset spec is the workstation's job.

    `from_contract`: the spec was read from an (untrusted) artifact contract, so it may name only the shipped
    set, never a file (a contract must not make the bench read files outside its artifact).
    """
    spec = spec or SHIPPED
    if spec == SHIPPED:
        return shipped_digits().limit(limit)
    if from_contract:
        raise DataError(f"the artifact's eval set {spec!r} is not shipped with edgevit; pass an .npz eval set "
                        "(--data FILE.npz) or use the shipped 'digits'")
    if spec.startswith("npz:"):
        return load_npz(spec[4:]).limit(limit)
    if spec.endswith(".npz") and Path(spec).is_file():
        return load_npz(spec).limit(limit)
    raise DataError(f"eval set {spec!r} is a dataset spec, which only the workstation reads (edgevit bench turns "
                    "it into an .npz); here pass an .npz eval set (--data FILE.npz) or use the shipped 'digits'")
