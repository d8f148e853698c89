"""uint8 batches -> model input on torch, the exact mirror of the contract's numpy `preprocess_images`.

Why a mirror and not a call: training runs this on every batch (possibly on a GPU), while exported models are
fed by `edgevit.runtimes.contract.preprocess_images` on devices without torch. Both compute the same steps
(float -> torch-style bilinear/nearest resize -> channel repeat/average -> * scale -> (x - mean) / std) with
the same index tables and float32 ops, and a test pins them together. Augmentations run only when train=True.
"""

from __future__ import annotations

import numpy as np
import torch

from edgevit.data import augment as A
from edgevit.data.config import AugmentConfig
from edgevit.errors import DataError
from edgevit.runtimes.contract import Preprocess


def resize_tables(in_size: int, out_size: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, w1): source rows and the weight of i1, as the contract computes them (float64 positions)."""
    if mode == "nearest":
        i0 = np.minimum(np.floor(np.arange(out_size) * (in_size / out_size)).astype(np.int64), in_size - 1)
        return i0, i0, np.zeros(out_size, np.float32)
    src = np.clip((np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5, 0.0, None)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_nhwc(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize float (B, H, W, C) like the contract's `resize_batch` (== F.interpolate, align_corners=False)."""
    _, h, w, _ = x.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return x
    y0, y1, wy = (torch.from_numpy(t).to(x.device) for t in resize_tables(h, oh, mode))
    x0, x1, wx = (torch.from_numpy(t).to(x.device) for t in resize_tables(w, ow, mode))
    if mode == "nearest":
        return x[:, y0][:, :, x0]
    wy, wx = wy[None, :, None, None], wx[None, None, :, None]
    top = x[:, y0] * (1 - wy) + x[:, y1] * wy
    return top[:, :, x0] * (1 - wx) + top[:, :, x1] * wx


class BatchTransform:
    """Callable: uint8 (B, H, W[, C]) tensor -> float32 (B, C, h, w) normalised model input.

    `seed` makes augmentation reproducible; give each DDP rank its own (e.g. seed + rank) and call
    `set_epoch(epoch)` at each epoch start so a resumed run replays the same augmentations.
    """

    def __init__(self, pre: Preprocess, train: bool, augment: AugmentConfig | None = None,
                 seed: int | None = None) -> None:
        self.pre = pre
        self.train = train
        self.augment = augment or AugmentConfig()
        self.seed = seed
        self.generator = torch.Generator()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation stream from (seed, epoch); a seedless transform draws a fresh seed."""
        if self.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0]))

    def __call__(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(images)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise DataError(f"BatchTransform expects uint8 images (B, H, W[, C]) with C = 1 or 3, got {tuple(x.shape)}")
        pre = self.pre
        x = resize_nhwc(x.to(torch.float32), pre.size, pre.resize)
        if pre.channels == 3 and x.shape[-1] == 1:
            x = x.expand(-1, -1, -1, 3)
        elif pre.channels == 1 and x.shape[-1] == 3:
            x = x.mean(dim=-1, keepdim=True)
        x = x * np.float32(pre.scale)
        mean = torch.tensor(pre.mean, dtype=torch.float32, device=x.device)
        std = torch.tensor(pre.std, dtype=torch.float32, device=x.device)
        aug = self.augment if self.train else None
        if aug is not None and aug.enabled:
            x = self._augment_01(x.permute(0, 3, 1, 2), aug).permute(0, 2, 3, 1)
        x = ((x - mean) / std).permute(0, 3, 1, 2)
        if aug is not None and aug.random_erasing > 0:
            x = A.random_erasing(x, aug.random_erasing, self.generator)
        return x.contiguous()

    def _augment_01(self, x: torch.Tensor, aug: AugmentConfig) -> torch.Tensor:
        """Geometric and photometric ops on (B, C, H, W) in [0, 1] (before normalisation)."""
        g = self.generator
        if aug.random_crop_padding:
            x = A.random_crop(x, aug.random_crop_padding, aug.padding_mode, g)
        if aug.hflip:
            x = A.hflip(x, g)
        if aug.trivial_augment:
            x = A.trivial_augment(x, g)
        if aug.randaugment:
            x = A.randaugment(x, aug.randaugment, aug.randaugment_ops)
        return x
