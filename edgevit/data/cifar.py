"""`cifar10:DIR` / `cifar100:DIR`: the standard python-pickle batches a user downloaded and extracted.

The pickles are read with an unpickler that only rebuilds plain containers and numpy arrays, so a tampered
download raises DataError instead of running code. DIR may be the extracted folder or its parent.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.data.base import ArrayDataset, SourceData
from edgevit.errors import DataError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR100_FOLDER = "cifar-100-python"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]

_SAFE_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    ("builtins", "object"),
    ("__builtin__", "object"),
    ("_codecs", "encode"),  # how Python 3 protocol-2 pickles store bytes
}


class _SafeUnpickler(pickle.Unpickler):
    """Allows only what pickled numpy arrays and plain dicts/lists need."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core"):  # pickles written by numpy < 2
            module = "numpy._core" + module[len("numpy.core"):]
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict[bytes, Any]:
    """One CIFAR pickle as a dict with bytes keys (the files are Python 2 pickles)."""
    if not path.is_file():
        raise DataError(f"missing CIFAR file {path}")
    try:
        with path.open("rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except Exception as e:  # any unpickling failure means a corrupt or foreign file
        raise DataError(f"corrupt CIFAR pickle {path}: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} does not hold a CIFAR batch (a dict), got {type(obj).__name__}")
    return {(k.encode() if isinstance(k, str) else k): v for k, v in obj.items()}


def _field(d: dict[bytes, Any], key: str, path: Path) -> Any:
    if key.encode() not in d:
        raise DataError(f"{path} has no {key!r} entry (keys: {sorted(k.decode(errors='replace') for k in d)})")
    return d[key.encode()]


def _images(d: dict[bytes, Any], path: Path) -> np.ndarray:
    """b'data' (N, 3072) rows of R, G, B planes -> uint8 (N, 32, 32, 3)."""
    data = np.asarray(_field(d, "data", path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' should be uint8 (N, 3072), got {data.dtype} {data.shape}")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _targets(d: dict[bytes, Any], key: str, path: Path, n: int) -> np.ndarray:
    t = np.asarray(_field(d, key, path)).astype(np.int64).reshape(-1)
    if t.shape[0] != n:
        raise DataError(f"{path}: {n} images but {t.shape[0]} {key!r}")
    return t


def _names(d: dict[bytes, Any], key: str, path: Path) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in _field(d, key, path)]


def _resolve(spec: str, folder: str, inner: str, marker: str) -> Path:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{spec}: no such folder {root}")
    for cand in (root, root / inner):
        if (cand / marker).is_file():
            return cand
    raise DataError(f"{spec}: {root} is not a CIFAR folder (expected {marker} in it or in {root / inner}; "
                    "extract the python version of the archive first)")


def load_cifar10_source(folder: str) -> SourceData:
    root = _resolve(f"cifar10:{folder}", folder, CIFAR10_FOLDER, "batches.meta")
    parts: list[ArrayDataset] = []
    for names in (CIFAR10_TRAIN, ["test_batch"]):
        imgs, tgts = [], []
        for name in names:
            d = read_pickle(root / name)
            x = _images(d, root / name)
            imgs.append(x)
            tgts.append(_targets(d, "labels", root / name, len(x)))
        parts.append(ArrayDataset(np.concatenate(imgs), np.concatenate(tgts)))
    labels = _names(read_pickle(root / "batches.meta"), "label_names", root / "batches.meta")
    return SourceData(train=parts[0], test=parts[1], labels=labels)


def load_cifar100_source(folder: str) -> SourceData:
    root = _resolve(f"cifar100:{folder}", folder, CIFAR100_FOLDER, "meta")
    meta = read_pickle(root / "meta")
    fine_names = _names(meta, "fine_label_names", root / "meta")
    coarse_names = _names(meta, "coarse_label_names", root / "meta")
    parts: list[ArrayDataset] = []
    mapping = np.full(len(fine_names), -1, np.int64)
    for name in ("train", "test"):
        d = read_pickle(root / name)
        x = _images(d, root / name)
        fine = _targets(d, "fine_labels", root / name, len(x))
        coarse = _targets(d, "coarse_labels", root / name, len(x))
        if len(fine) and (fine.max() >= len(fine_names) or coarse.max() >= len(coarse_names) or
                          min(fine.min(), coarse.min()) < 0):
            raise DataError(f"{root / name}: labels out of range of the names in {root / 'meta'}")
        for f, c in zip(fine.tolist(), coarse.tolist(), strict=True):
            if mapping[f] == -1:
                mapping[f] = c
            elif mapping[f] != c:
                raise DataError(f"{root / name}: class {fine_names[f]!r} appears under two super-classes")
        parts.append(ArrayDataset(x, fine))
    if (mapping < 0).any():
        missing = [fine_names[i] for i in np.flatnonzero(mapping < 0)[:3]]
        raise DataError(f"cifar100:{folder}: no images for classes {missing}; cannot map them to super-classes")
    return SourceData(train=parts[0], test=parts[1], labels=fine_names,
                      superclasses=mapping.tolist(), superclass_names=coarse_names)
