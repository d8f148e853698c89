"""Batched train-time augmentations on float tensors (B, C, H, W) in [0, 1], drawn from one torch.Generator.

Written on tensors because torchvision does not import beside torch 2.13.0 here. All random numbers are
drawn on the CPU generator (then moved to the images' device), so a seed gives the same augmented batch on
CPU and GPU, and every draw happens whatever ops are picked, so the stream never depends on the data.

RandAugment comes from kornia.augmentation (a well-kept, torch-only library). The crop, flip, TrivialAugment,
erasing and mixup/cutmix here stay hand-written on purpose: each is a few lines of indexing that draws from
the run's own generator (kornia draws from torch's global RNG), costs less than kornia's affine-warp crop
(measured 8.6 ms vs a few for a 128 x 28 px batch), and mixup/cutmix must return soft targets the loss reads,
which kornia's (label_a, label_b, lambda) rows would need converting anyway.
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


def randaugment(x: torch.Tensor, magnitude: int, ops: int) -> torch.Tensor:
    """kornia's RandAugment (n=ops, m=magnitude on its 0..30 scale) on (B, C, H, W) in [0, 1].

    kornia picks the ops per batch and draws from torch's global RNG, which the training loop re-seeds from
    (seed, epoch, rank) at every epoch start, so a resumed run replays it exactly.
    """
    try:
        from kornia.augmentation.auto import RandAugment
    except ImportError as e:
        from edgevit.errors import ConfigError

        raise ConfigError(f"RandAugment needs kornia: pip install 'edgevit[train]' ({e})") from None
    return RandAugment(n=ops, m=magnitude)(x).clamp(0, 1)


def soft_targets(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot float targets (B, C); label smoothing is left to the loss (F.cross_entropy applies it)."""
    return F.one_hot(y, num_classes).to(torch.float32)


def mix_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int, mixup_alpha: float, cutmix_alpha: float,
              prob: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """timm's batch-mode Mixup/CutMix: (images, int labels) -> (mixed images, soft targets (B, C) summing to 1).

    With probability `prob` the batch is mixed with its reverse (x[::-1]); mixup or cutmix is picked with
    even odds when both alphas are > 0. lambda ~ Beta(alpha, alpha); for cutmix a box of area (1 - lambda) is
    pasted and lambda is corrected to the pasted area, so the label weights match the pixels exactly.
    Every random number is drawn on every call, so the stream does not depend on which branch ran.
    """
    u = torch.rand(6, generator=g).tolist()
    target = soft_targets(y, num_classes).to(x.device)
    use_cutmix = cutmix_alpha > 0 and (mixup_alpha <= 0 or u[1] < 0.5)
    alpha = cutmix_alpha if use_cutmix else mixup_alpha
    if u[0] >= prob or alpha <= 0:
        return x, target
    lam = beta_quantile(alpha, u[2])
    if use_cutmix:
        _, _, h, w = x.shape
        cut = math.sqrt(1.0 - lam)
        ch, cw = int(h * cut), int(w * cut)
        cy, cx = int(u[3] * h), int(u[4] * w)
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = x * lam + x.flip(0) * (1.0 - lam)
    return x, target * lam + target.flip(0) * (1.0 - lam)


def beta_quantile(a: float, u: float) -> float:
    """The u-quantile of Beta(a, a) on a fine grid: a Beta draw from one uniform of our generator (torch's
    Beta sampler has no generator argument)."""
    grid = torch.linspace(1e-6, 1 - 1e-6, 2001, dtype=torch.float64)
    pdf = torch.exp((a - 1) * (torch.log(grid) + torch.log1p(-grid)))
    cdf = torch.cumsum(pdf, 0)
    cdf = cdf / cdf[-1]
    i = int(torch.searchsorted(cdf, torch.tensor(u, dtype=torch.float64)).clamp(max=len(grid) - 1))
    return float(grid[i])
