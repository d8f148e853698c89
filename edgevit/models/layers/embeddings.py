"""Token embeddings: linear patch stem, convolutional stem (Vision Xformers), learned positions and RoPE."""

from __future__ import annotations

import torch
from torch import nn


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens: (B, C, H, W) -> (B, N, dim)."""

    def __init__(self, in_chans: int, dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ConvStem(nn.Module):
    """Three convolutions 3 -> 32 -> 64 -> dim, no activation between them (as the official code).

    Our choice for patch sizes > 1: the last convolution is patch-sized with stride = patch (3x3 at patch <= 3),
    so the token grid equals the linear stem's and the two are interchangeable.
    """

    def __init__(self, in_chans: int, dim: int, patch_size: int) -> None:
        super().__init__()
        k = max(3, patch_size)
        pad = 1 if patch_size == 1 else (k - patch_size) // 2
        self.convs = nn.Sequential(
            nn.Conv2d(in_chans, 32, 3, padding=1),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.Conv2d(64, dim, k, stride=patch_size, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).flatten(2).transpose(1, 2)


class RotaryEmbedding(nn.Module):
    """1-D rotary position embedding over the flattened token index (class token at position 0)."""

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        ang = torch.arange(max_positions).float()[:, None] * inv_freq[None]  # (P, d/2)
        ang = torch.cat([ang, ang], dim=-1)  # (P, d)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def forward(self, positions: torch.Tensor | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin tables for the given positions (B, N) or for 0..n-1 when positions is None."""
        if positions is None:
            return self.cos[:n], self.sin[:n]
        # (B, 1, N, d): broadcast over heads
        return self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate pairs of channels of q or k (B, H, N, d) by position-dependent angles (norm-preserving)."""
    cos, sin = rope
    return x * cos + rotate_half(x) * sin
