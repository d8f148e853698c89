"""`imagefolder:DIR`: class-per-folder images (PNG/JPEG/...) loaded with Pillow into one uint8 array.

Layouts: DIR/train/<class>/* with DIR/test/<class>/* (or DIR/val/ as the test split), or DIR/<class>/* alone,
in which case a fixed-seed stratified 20% becomes the test split (fixed so the test set never depends on the
training seed). Images become RGB, or L if every image is grey, and are resized to one storage size with the
contract's own `resize_batch`: the median size, scaled down so its longest side is at most 64 pixels.
A file that Pillow cannot decode is an error naming the file (not skipped): silently training on fewer images
hides broken exports and scrapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevit.data.base import ArrayDataset, SourceData, stratified_split
from edgevit.errors import DataError
from edgevit.runtimes.contract import resize_batch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
MAX_STORAGE_SIDE = 64
TEST_FRACTION = 0.2
TEST_SEED = 0


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan(root: Path) -> dict[str, list[Path]]:
    """class name -> sorted image files; every class folder must hold at least one image."""
    classes = _class_dirs(root)
    if not classes:
        raise DataError(f"imagefolder: {root} has no class folders (expected {root}/<class>/*.png|jpg)")
    out: dict[str, list[Path]] = {}
    for c in classes:
        files = sorted(p for p in c.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"imagefolder: class folder {c} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        out[c.name] = files
    return out


def _open(path: Path, load: bool):
    from PIL import Image

    try:
        im = Image.open(path)
        if load:
            im.load()
    except Exception as e:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        raise DataError(f"imagefolder: cannot decode image {path}: {e} (remove or replace the file)") from None
    return im


def storage_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """Median (h, w), scaled so the longest side is at most MAX_STORAGE_SIDE."""
    h, w = (int(np.median([s[i] for s in sizes])) for i in (0, 1))
    scale = min(1.0, MAX_STORAGE_SIDE / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def load_images(files: list[Path]) -> np.ndarray:
    """Decode, pick L or RGB for the whole set, resize to the storage size: uint8 (N, h, w, C).

    Two passes (headers first) so only one full-size image is in memory at a time.
    """
    modes, sizes = [], []
    for p in files:
        with _open(p, load=False) as im:
            modes.append(im.mode)
            sizes.append((im.height, im.width))
    grey = all(m in GREY_MODES for m in modes)
    size = storage_size(sizes)
    out = np.empty((len(files), *size, 1 if grey else 3), np.uint8)
    for i, p in enumerate(files):
        with _open(p, load=True) as im:
            x = np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32)
        x = x.reshape(x.shape[0], x.shape[1], -1)[None]
        out[i] = np.clip(np.round(resize_batch(x, size, "bilinear")[0]), 0, 255).astype(np.uint8)
    return out


def load_imagefolder_source(folder: str) -> SourceData:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"imagefolder:{folder}: no such folder")
    train_dir = root / "train"
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if train_dir.is_dir():
        train = scan(train_dir)
        test = scan(test_dir) if test_dir is not None else None
    else:
        train, test = scan(root), None
    labels = sorted(train)
    if test is not None and not set(test) <= set(labels):
        extra = sorted(set(test) - set(labels))
        raise DataError(f"imagefolder:{folder}: test classes {extra} have no train folder")
    index = {c: i for i, c in enumerate(labels)}

    def flat(groups: dict[str, list[Path]]) -> tuple[list[Path], np.ndarray]:
        files = [f for c in sorted(groups) for f in groups[c]]
        return files, np.array([index[c] for c in sorted(groups) for _ in groups[c]], np.int64)

    train_files, train_t = flat(train)
    if test is None:
        keep, held = stratified_split(train_t, TEST_FRACTION, TEST_SEED)
        test_files, test_t = [train_files[i] for i in held], train_t[held]
        train_files, train_t = [train_files[i] for i in keep], train_t[keep]
    else:
        test_files, test_t = flat(test)
    images = load_images(train_files + test_files)  # one pass: one mode and one storage size for both
    n = len(train_files)
    return SourceData(train=ArrayDataset(images[:n], train_t), test=ArrayDataset(images[n:], test_t),
                      labels=labels)
