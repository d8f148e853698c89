"""Dataset specs -> `EvalSet` (the one eval-set type, `edgevit.runtimes.evalset`), on the workstation.

The runtimes side reads only the shipped digits or an .npz; this is where a spec (`fashion-mnist`,
`cifar10:DIR`, ...) becomes labelled uint8 images: for `edgevit bench` (written as an .npz for the child process
or device) and for the exporter's validation and int8 calibration images.
"""

from __future__ import annotations

import numpy as np

from edgevit.errors import DataError, EdgevitError
from edgevit.runtimes.evalset import SHIPPED, EvalSet, shipped_digits
from edgevit.runtimes.evalset import load_eval_set as load_shipped_or_npz


def load_eval_set(spec: str | None, limit: int | None = None) -> EvalSet:
    """`digits` | `FILE.npz` | any dataset spec -> its test split, the first `limit` images (the bench's set)."""
    spec = spec or SHIPPED
    if spec == SHIPPED or spec.startswith("npz:") or spec.endswith(".npz"):
        return load_shipped_or_npz(spec, limit)
    return load_split(spec, "test").limit(limit)


def load_split(spec: str, split: str = "test") -> EvalSet:
    """One split (train / val / test) of a dataset spec as an `EvalSet`; DataError when it does not load."""
    from edgevit.data.specs import load_dataset

    try:
        part = getattr(load_dataset(spec, limit=None), split)
    except EdgevitError:
        raise
    except Exception as e:
        raise DataError(f"cannot load eval set {spec!r}: {e}") from None
    if part is None:
        raise DataError(f"dataset {spec!r} has no {split} split")
    images = np.asarray(part.images)
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    return EvalSet(spec, images, np.asarray(part.targets).astype(np.int64), split=split)


def split_or_shipped(spec: str | None, split: str = "test", limit: int | None = None, seed: int = 0) -> EvalSet:
    """`limit` images (a seeded subset) of `split` from `spec`, or the shipped digits when the dataset is not
    here (the set's `note` says so: the export report shows it)."""
    spec = spec or SHIPPED
    try:
        s = load_split(spec, split)
    except Exception as e:  # the dataset not on this machine (or scikit-learn missing): the shipped set
        s = shipped_digits()
        if spec != SHIPPED:
            s.note = f"dataset {spec!r} unavailable ({type(e).__name__}: {e}); used the shipped digits test set"
        elif split != "test":
            s.note = "used the shipped digits test images (the train split needs scikit-learn)"
    return s.sample(limit, seed)
