"""`fashion-mnist`: the real 60k/10k Zalando set in idx format (plain or gzipped), never downloaded.

Found where Debian's `dataset-fashion-mnist` package puts it (asked of `dpkg -L` at run time, so a relocated
install still works), or in a folder the user names with `fashion-mnist:DIR`.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np

from edgevit.data.base import ArrayDataset, SourceData
from edgevit.errors import DataError

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MISSING_HINT = (f"install it with `apt-get install {DEBIAN_PACKAGE}`, or pass `fashion-mnist:DIR` "
                "for a folder holding train-images-idx3-ubyte[.gz] and the other three idx files")


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (uint8 data only, as MNIST-style sets use), gzipped or not."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not a uint8 idx file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (idx header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(raw) - header != count:
        raise DataError(f"{path} is truncated or padded: header says {shape} but it holds {len(raw) - header} bytes")
    return np.frombuffer(raw, np.uint8, count=count, offset=header).reshape(shape).copy()


def debian_dir() -> Path | None:
    """The folder dpkg says holds the package's idx files, or the usual one, or None if not installed."""
    if shutil.which("dpkg"):
        try:
            out = subprocess.run(["dpkg", "-L", DEBIAN_PACKAGE], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            for line in out.stdout.splitlines():
                if Path(line).name.startswith(FILES["train_images"]):
                    return Path(line).parent
    return DEBIAN_DIR if _find(DEBIAN_DIR, FILES["train_images"]) else None


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_fashion_mnist_source(folder: str | None = None) -> SourceData:
    if folder is None:
        root = debian_dir()
        if root is None:
            raise DataError(f"fashion-mnist is not installed: {MISSING_HINT}")
    else:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise DataError(f"fashion-mnist:{folder}: no such folder ({MISSING_HINT})")
        nested = root / "fashion-mnist"
        if _find(root, FILES["train_images"]) is None and nested.is_dir():
            root = nested
    arrays: dict[str, np.ndarray] = {}
    for key, stem in FILES.items():
        path = _find(root, stem)
        if path is None:
            raise DataError(f"fashion-mnist: {root} has no {stem}[.gz] ({MISSING_HINT})")
        arrays[key] = read_idx(path)
    parts = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise DataError(f"fashion-mnist {split} files in {root} do not match: images {images.shape}, "
                            f"labels {labels.shape}")
        parts.append(ArrayDataset(images[..., None], labels.astype(np.int64)))
    return SourceData(train=parts[0], test=parts[1], labels=list(LABELS))
