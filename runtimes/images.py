"""Untrusted image files -> uint8 arrays, with the work per image bounded (torch-free).

Why a module of its own: every image a user hands to `predict` (or an app bundle's sample) is untrusted data. The
size is checked from the header before any pixel is decoded, only regular files are opened, and each failure is
an `ImageError` for that file alone, so one bad file never stops the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import EdgevitError
from edgevit.runtimes.contract import Preprocess
from edgevit.runtimes.files import one_line

MAX_IMAGE_PIXELS = 50_000_000  # per image, checked from the header before decoding (an 8K photo is 33M)
MAX_ASPECT = 50  # longest side / shortest side; past this an image is a memory trap, not a photo
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}


class ImageError(EdgevitError):
    """One input file could not be used; reported for that file, the others go on."""


def _to_array(im: Any) -> np.ndarray:
    """A loaded Pillow image -> uint8 (H, W) grey or (H, W, 3) colour; alpha is dropped (as preprocessing does)."""
    mode = im.mode
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode.startswith("I") or mode == "F":  # 16/32-bit grey: scale 16-bit to 8-bit, clip the rest
        a = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16") or (a.size and a.max() > 255):
            a = a / 257.0
        return np.clip(np.round(a), 0, 255).astype(np.uint8)
    a = np.asarray(im.convert("RGB"), dtype=np.uint8)  # RGB, RGBA, P, CMYK, YCbCr, ...
    if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
        return np.ascontiguousarray(a[..., 0])  # grey stored as colour: the same input either way
    return a


def read_image(path: str | Path) -> np.ndarray:
    """Decode a whole image file with Pillow (truncation fails here, not later), EXIF rotation applied.

    The size is checked from the header first (Pillow's `open` is lazy): more than `MAX_IMAGE_PIXELS` pixels
    or a side ratio past `MAX_ASPECT` is refused before any pixel is decoded, so a tiny file cannot claim
    gigabytes. Only regular files are opened (a FIFO or a device would block or never end).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not Path(path).is_file():
        raise ImageError("not a regular file")
    try:
        with Image.open(path) as im:
            check_image_size(*im.size)
            im.load()
            return _to_array(ImageOps.exif_transpose(im))
    except UnidentifiedImageError:
        suffix = Path(path).suffix.lower()
        if Path(path).stat().st_size == 0:
            raise ImageError("empty file") from None
        if suffix in IMAGE_SUFFIXES:
            raise ImageError(f"damaged image, or not really a {suffix} file (Pillow cannot identify it)") from None
        raise ImageError("not an image (Pillow cannot identify the file format)") from None
    except ImageError:
        raise
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise ImageError(f"unreadable image: {one_line(e, 200)}") from None


def check_image_size(width: int, height: int) -> None:
    """ImageError for an image too large (pixels) or too thin (aspect ratio) to be worth decoding."""
    if width < 1 or height < 1:
        raise ImageError(f"the image is {width}x{height} pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{width}x{height} is {width * height:,} pixels, more than the "
                         f"{MAX_IMAGE_PIXELS:,} predict reads per image (shrink it first)")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(f"{width}x{height} is more than {MAX_ASPECT} times longer than wide (crop it first)")


def input_notes(img: np.ndarray, pre: Preprocess, strict_channels: bool = False) -> list[str]:
    """What preprocessing will change about this image that a user may not expect (or, strict, an error)."""
    notes: list[str] = []
    grey = img.ndim == 2
    if grey and pre.channels == 3:
        if strict_channels:
            raise ImageError("grey image, but the model takes colour (RGB) images")
        if len(set(pre.mean)) > 1 or len(set(pre.std)) > 1:  # equal stats: trained on grey repeated to RGB
            notes.append("grey, repeated to 3 channels (the model was trained on colour)")
    elif not grey and pre.channels == 1:
        if strict_channels:
            raise ImageError("colour image, but the model takes grey images")
        notes.append("colour, averaged to grey")
    h, w = img.shape[:2]
    mh, mw = pre.size
    if abs((w / h) / (mw / mh) - 1.0) > 0.05:
        notes.append(f"{w}x{h} squeezed to {mw}x{mh}")
    return notes

