"""Batched train-time augmentations on float tensors (B, C, H, W) in [0, 1], drawn from one torch.Generator.

Written on tensors because torchvision does not import beside torch 2.13.0 here. All random numbers are
drawn on the CPU generator (then moved to the images' device), so a seed gives the same augmented batch on
CPU and GPU, and every draw happens whatever ops are picked, so the stream never depends on the data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GREY_WEIGHTS = (0.299, 0.587, 0.114)
TRIVIAL_OPS = ("identity", "brightness", "contrast", "sharpness", "shift_x", "shift_y")
MAX_FACTOR_DELTA = 0.5  # light: brightness/contrast/sharpness factors in [0.5, 1.5]
MAX_SHIFT_FRACTION = 0.125  # shifts up to 1/8 of the side


def _uniform(n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g).to(device)


def _window(xp: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Per-image (h, w) windows of a padded batch starting at rows oy, columns ox."""
    b = torch.arange(xp.shape[0], device=xp.device)[:, None, None]
    rows = (oy[:, None] + torch.arange(h, device=xp.device))[:, :, None]
    cols = (ox[:, None] + torch.arange(w, device=xp.device))[:, None, :]
    return xp.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2)


def random_crop(x: torch.Tensor, padding: int, mode: str, g: torch.Generator) -> torch.Tensor:
    """Pad by `padding` (zeros or reflect) and crop back to the input size at a random offset per image."""
    bsz, _, h, w = x.shape
    off = torch.randint(0, 2 * padding + 1, (2, bsz), generator=g).to(x.device)
    if padding == 0:
        return x
    if mode == "reflect" and padding < min(h, w):
        xp = F.pad(x, (padding,) * 4, mode="reflect")
    else:  # reflect needs padding < side; tiny images fall back to zeros
        xp = F.pad(x, (padding,) * 4)
    return _window(xp, off[0], off[1], h, w)


def shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Translate each image by integer (dy, dx) pixels, filling with zeros."""
    _, _, h, w = x.shape
    p = int(max(dy.abs().max().item(), dx.abs().max().item(), 0)) if dy.numel() else 0
    if p == 0:
        return x
    xp = F.pad(x, (p,) * 4)
    return _window(xp, p - dy.long(), p - dx.long(), h, w)


def hflip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = (_uniform(x.shape[0], g, x.device) < 0.5)[:, None, None, None]
    return torch.where(flip, x.flip(-1), x)


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 3:
        wts = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device)[None, :, None, None]
        return (x * wts).sum(1, keepdim=True)
    return x.mean(1, keepdim=True)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """The 3x3 smoothing kernel PIL's ImageEnhance.Sharpness blends against."""
    k = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]], dtype=x.dtype, device=x.device) / 13
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(c, 1, 3, 3), groups=c)


def _apply_op(op: str, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """One TrivialAugment op; `m` in [-1, 1] per image is its signed magnitude."""
    f = (1.0 + MAX_FACTOR_DELTA * m)[:, None, None, None]
    if op == "brightness":
        return (x * f).clamp(0, 1)
    if op == "contrast":
        mean = _grey(x).mean(dim=(2, 3), keepdim=True)
        return ((x - mean) * f + mean).clamp(0, 1)
    if op == "sharpness":
        blurred = _blur(x)
        return (blurred + (x - blurred) * f).clamp(0, 1)
    if op in ("shift_x", "shift_y"):
        side = x.shape[3] if op == "shift_x" else x.shape[2]
        d = torch.round(m * MAX_SHIFT_FRACTION * side).long()
        z = torch.zeros_like(d)
        return shift(x, z, d) if op == "shift_x" else shift(x, d, z)
    return x


def trivial_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A light TrivialAugment: each image gets one op (uniformly chosen) with a uniform random magnitude."""
    bsz = x.shape[0]
    ops = torch.randint(0, len(TRIVIAL_OPS), (bsz,), generator=g).to(x.device)
    mag = (_uniform(bsz, g, x.device) * 2 - 1).to(x.dtype)
    out = x.clone()
    for k, op in enumerate(TRIVIAL_OPS):
        sel = torch.nonzero(ops == k).flatten()
        if op != "identity" and sel.numel():
            out[sel] = _apply_op(op, x[sel], mag[sel])
    return out


def random_erasing(x: torch.Tensor, p: float, g: torch.Generator, value: float = 0.0) -> torch.Tensor:
    """With probability p per image, set one random rectangle (2-33% of the area, aspect 0.3-3.3) to `value`.

    Applied after normalisation, so the default 0 is the dataset's mean colour (torchvision's default too).
    """
    bsz, _, h, w = x.shape
    u = torch.rand(5, bsz, generator=g).to(x.device)
    area = (0.02 + u[0] * (0.33 - 0.02)) * h * w
    ratio = torch.exp(math.log(0.3) + u[1] * (math.log(3.3) - math.log(0.3)))
    eh = torch.sqrt(area * ratio).round().clamp(1, h)
    ew = torch.sqrt(area / ratio).round().clamp(1, w)
    y0 = torch.floor(u[2] * (h - eh + 1))
    x0 = torch.floor(u[3] * (w - ew + 1))
    apply = u[4] < p
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    box = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None])
           & (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]) & apply[:, None, None])
    return x.masked_fill(box[:, None], value)
