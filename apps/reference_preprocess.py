"""Python mirror of the sample apps' preprocessing, step for step.

`apps/android/.../Preprocessor.kt` and `apps/ios/EdgeVit/Preprocessor.swift` implement the same steps in the
same order with the same float32 arithmetic; this file lets a test on a machine with no Android SDK or Xcode
feed exactly what an app would compute to an exported model, and compare it with the runtime path
(`edgevit.runtimes.contract.preprocess_images`). Keep the three in lock step: change one, change all.

Steps (every constant comes from `edgevit.json`):

1. decode -> pixels. Android: `Bitmap.getPixels` gives ARGB_8888 ints (`pixels_from_argb`). iOS: the
   CGImage is drawn into an 8-bit RGBA (or, for grey images, an 8-bit grey) context (`pixels_from_rgba`).
   Alpha is dropped. An RGB image whose three channels are equal everywhere is treated as one grey channel,
   as `preprocess_images` does with a grey array.
2. uint8 -> float32 planes (one per channel).
3. resize each plane to `preprocess.size` (H, W):
   - bilinear: half-pixel centres `src = (o + 0.5) * in / out - 0.5` in double, clamped at 0, taps
     `i0 = min(floor(src), in - 1)`, `i1 = min(i0 + 1, in - 1)`, weight `w1 = float(src - i0)`; rows first
     (`a * (1 - w1) + b * w1` in float32), then columns. No antialias (torch's align_corners=False).
   - nearest: `i = min(floor(o * (in / out)), in - 1)`.
   - skipped when the size already matches.
4. channels: grey -> repeat to 3 when the model wants 3; RGB -> `(r + g + b) / 3` when it wants 1.
5. `v * scale`, then `(v - mean[c]) / std[c]`, all float32.
6. pack batch 1 in `input.layout`: NCHW `[c][y][x]` or NHWC `[y][x][c]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AppSpec",
    "app_preprocess",
    "argb_from_image",
    "pixels_from_argb",
    "pixels_from_rgba",
    "preprocess_pixels",
    "rgba_from_image",
]


class AppSpec:
    """What the apps read from edgevit.json: the preprocess block and the input layout (PreprocessSpec)."""

    def __init__(self, contract: dict[str, Any]) -> None:
        pre = contract["preprocess"]
        self.height, self.width = int(pre["size"][0]), int(pre["size"][1])
        self.channels = int(pre.get("channels", 3))
        self.mean = np.asarray(pre["mean"], dtype=np.float64).astype(np.float32)
        self.std = np.asarray(pre["std"], dtype=np.float64).astype(np.float32)
        self.resize = str(pre.get("resize", "bilinear"))
        self.scale = np.float32(float(pre.get("scale", 1.0 / 255.0)))
        self.layout = str(contract["input"].get("layout", "NCHW"))
        if self.resize not in ("bilinear", "nearest"):
            raise ValueError(f"unknown resize rule {self.resize!r}")
        if self.layout not in ("NCHW", "NHWC"):
            raise ValueError(f"unknown layout {self.layout!r}")
        if self.channels not in (1, 3) or len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError("channels must be 1 or 3 with one mean/std per channel")

    @classmethod
    def load(cls, path: str | Path) -> AppSpec:
        p = Path(path)
        if p.is_dir():
            p = p / "edgevit.json"
        return cls(json.loads(p.read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------ step 1: decode -> pixels


def argb_from_image(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    """What `Bitmap.getPixels` returns for an image decoded as ARGB_8888: int32 ARGB, row-major."""
    x = np.asarray(image, dtype=np.uint8)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    h, w = x.shape[:2]
    a = x[..., 3].astype(np.uint32) if x.shape[-1] == 4 else np.full((h, w), 0xFF, np.uint32)
    r, g, b = (x[..., i].astype(np.uint32) for i in range(3))
    argb = (a << 24) | (r << 16) | (g << 8) | b
    return argb.reshape(-1).view(np.int32), w, h


def rgba_from_image(image: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """What the iOS app's CGContext holds: grey images as 1 byte/pixel, others as RGBA bytes."""
    x = np.asarray(image, dtype=np.uint8)
    h, w = x.shape[:2]
    if x.ndim == 2:
        return x.reshape(-1).copy(), w, h, 1
    if x.shape[-1] == 3:
        x = np.concatenate([x, np.full((h, w, 1), 0xFF, np.uint8)], axis=-1)
    return x.reshape(-1).copy(), w, h, 4


def _grey_or_rgb(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    if np.array_equal(r, g) and np.array_equal(g, b):
        return [r.astype(np.float32)]
    return [r.astype(np.float32), g.astype(np.float32), b.astype(np.float32)]


def pixels_from_argb(argb: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """Preprocessor.kt `unpack`: ARGB ints -> float planes (1 if grey, else R, G, B), each (H, W)."""
    p = np.asarray(argb).astype(np.int64) & 0xFFFFFFFF
    r = ((p >> 16) & 0xFF).reshape(height, width)
    g = ((p >> 8) & 0xFF).reshape(height, width)
    b = (p & 0xFF).reshape(height, width)
    return _grey_or_rgb(r, g, b)


def pixels_from_rgba(data: np.ndarray, width: int, height: int, bytes_per_pixel: int) -> list[np.ndarray]:
    """Preprocessor.swift `planes`: grey (1 byte/pixel) or RGBA bytes -> float planes."""
    d = np.asarray(data, dtype=np.uint8).reshape(height, width, bytes_per_pixel)
    if bytes_per_pixel == 1:
        return [d[..., 0].astype(np.float32)]
    return _grey_or_rgb(d[..., 0], d[..., 1], d[..., 2])


# ------------------------------------------------------------------------------ step 3: resize


def _bilinear_taps(in_size: int, out_size: int) -> tuple[list[int], list[int], list[np.float32]]:
    scale = in_size / out_size  # double
    i0s, i1s, w1s = [], [], []
    for o in range(out_size):
        src = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(np.floor(src)), in_size - 1)
        i1 = min(i0 + 1, in_size - 1)
        i0s.append(i0)
        i1s.append(i1)
        w1s.append(np.float32(src - i0))
    return i0s, i1s, w1s


def _nearest_taps(in_size: int, out_size: int) -> list[int]:
    ratio = in_size / out_size
    return [min(int(np.floor(o * ratio)), in_size - 1) for o in range(out_size)]


def _resize_plane(plane: np.ndarray, out_h: int, out_w: int, mode: str) -> np.ndarray:
    in_h, in_w = plane.shape
    if (in_h, in_w) == (out_h, out_w):
        return plane
    if mode == "nearest":
        ys, xs = _nearest_taps(in_h, out_h), _nearest_taps(in_w, out_w)
        out = np.empty((out_h, out_w), np.float32)
        for oy in range(out_h):
            for ox in range(out_w):
                out[oy, ox] = plane[ys[oy], xs[ox]]
        return out
    y0, y1, wy = _bilinear_taps(in_h, out_h)
    x0, x1, wx = _bilinear_taps(in_w, out_w)
    one = np.float32(1.0)
    rows = np.empty((out_h, in_w), np.float32)  # pass 1: rows (a row at a time: float32 ops per element)
    for oy in range(out_h):
        rows[oy] = plane[y0[oy]] * (one - wy[oy]) + plane[y1[oy]] * wy[oy]
    out = np.empty((out_h, out_w), np.float32)  # pass 2: columns
    for ox in range(out_w):
        out[:, ox] = rows[:, x0[ox]] * (one - wx[ox]) + rows[:, x1[ox]] * wx[ox]
    return out


# ------------------------------------------------------------------------------ steps 2-6


def preprocess_pixels(planes: list[np.ndarray], spec: AppSpec) -> np.ndarray:
    """Float planes -> flat float32 model input (batch 1) in the contract's layout, as the apps do."""
    planes = [np.asarray(p, np.float32) for p in planes]
    resized = [_resize_plane(p, spec.height, spec.width, spec.resize) for p in planes]
    if spec.channels == 3 and len(resized) == 1:
        chans = [resized[0], resized[0], resized[0]]
    elif spec.channels == 1 and len(resized) == 3:
        chans = [(resized[0] + resized[1] + resized[2]) / np.float32(3.0)]
    else:
        chans = resized
    normed = [((c * spec.scale) - spec.mean[i]) / spec.std[i] for i, c in enumerate(chans)]
    stacked = np.stack(normed, axis=0)  # (C, H, W)
    if spec.layout == "NHWC":
        stacked = stacked.transpose(1, 2, 0)
    return np.ascontiguousarray(stacked, dtype=np.float32).reshape(-1)


def app_preprocess(image: np.ndarray, spec: AppSpec, app: str = "android") -> np.ndarray:
    """A uint8 image (H, W[, C]) through the named app's decode step and the shared steps: (1, ...) input."""
    if app == "android":
        argb, w, h = argb_from_image(image)
        planes = pixels_from_argb(argb, w, h)
    elif app == "ios":
        data, w, h, bpp = rgba_from_image(image)
        planes = pixels_from_rgba(data, w, h, bpp)
    else:
        raise ValueError(f"app must be 'android' or 'ios', got {app!r}")
    flat = preprocess_pixels(planes, spec)
    shape = (1, spec.channels, spec.height, spec.width) if spec.layout == "NCHW" else (
        1, spec.height, spec.width, spec.channels)
    return flat.reshape(shape)
