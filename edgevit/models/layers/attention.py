"""Self-attention: softmax with grouped-query heads, and the Vision-Xformer linear attentions.

All kinds share one module (`Attention`) so every family can switch with `attention=...`. Key/value heads are
repeated to the query heads explicitly (converters reject SDPA's `enable_gqa`). `exportable=True` (set by
`edgevit.export.routing.to_static`) swaps fused SDPA for an explicit matmul-softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgevit.models.layers.embeddings import apply_rope


class Attention(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_kv_heads: int | None = None,
        kind: str = "softmax",
        seq_len: int = 0,
        qkv_bias: bool = True,
        performer_features: int = 0,
        linformer_k: int = 64,
        nystrom_landmarks: int = 64,
        nystrom_iters: int = 6,
        nystrom_conv_kernel: int = 33,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.head_dim = dim // num_heads
        self.kind = kind
        self.seq_len = seq_len
        self.exportable = False
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * self.num_kv_heads * self.head_dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        if kind == "performer":
            m = performer_features or max(1, int(self.head_dim * math.log(self.head_dim)))
            # Random features frozen as a buffer: deterministic, exportable (our choice: no redraw).
            self.register_buffer("features", _orthogonal_gaussian(m, self.head_dim), persistent=True)
        elif kind == "linformer":
            if seq_len <= 0:
                raise ValueError("linformer attention needs the sequence length")
            # One projection shared by keys and values (the paper's shared-kv variant).
            self.e_proj = nn.Linear(seq_len, min(linformer_k, seq_len), bias=False)
        elif kind == "nystrom":
            if seq_len <= 0:
                raise ValueError("nystrom attention needs the sequence length")
            m = min(nystrom_landmarks, seq_len)
            # Segment-mean landmarks as a fixed averaging matrix (m, N): exact means, static shapes.
            self.register_buffer("landmark_avg", _segment_mean_matrix(seq_len, m), persistent=False)
            # The pseudo-inverse's identity as a constant: `torch.eye` in forward lowers to STABLEHLO_IOTA, which
            # no LiteRT interpreter runs.
            self.register_buffer("pinv_eye", torch.eye(m), persistent=False)
            self.nystrom_iters = nystrom_iters
            k = nystrom_conv_kernel
            self.v_conv = nn.Conv2d(num_heads, num_heads, (k, 1), padding=(k // 2, 0), groups=num_heads, bias=False)
        elif kind != "softmax":
            raise ValueError(f"unknown attention kind {kind!r}")

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        B, N, C = x.shape
        q = self.q(x).view(B, N, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, N, d)
        kv = self.kv(x).view(B, N, 2, self.num_kv_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]  # (B, Hkv, N, d)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        if self.num_kv_heads != self.num_heads:  # GQA: each kv head serves num_heads/num_kv_heads queries
            rep = self.num_heads // self.num_kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if self.kind == "softmax":
            out = self._softmax(q, k, v)
        elif self.kind == "performer":
            out = self._performer(q, k, v)
        elif self.kind == "linformer":
            out = self._linformer(q, k, v)
        else:
            out = self._nystrom(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))

    # ---------------------------------------------------------------- kinds
    def _softmax(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if not self.exportable:
            return F.scaled_dot_product_attention(q, k, v)
        attn = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)  # (B, H, N, N)
        return attn.softmax(dim=-1) @ v

    def _performer(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """FAVOR+ positive random features: softmax kernel estimated in O(N)."""
        qf = _favor_features(q, self.features, per_token=True)  # (B, H, N, m)
        kf = _favor_features(k, self.features, per_token=False)
        kv = kf.transpose(-2, -1) @ v  # (B, H, m, d)
        norm = qf @ kf.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (B, H, N, 1)
        return (qf @ kv) / (norm + 1e-6)

    def _linformer(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if k.shape[-2] != self.seq_len:
            raise ValueError(f"linformer was built for {self.seq_len} tokens, got {k.shape[-2]}")
        k = self.e_proj(k.transpose(-2, -1)).transpose(-2, -1)  # (B, H, k, d)
        v = self.e_proj(v.transpose(-2, -1)).transpose(-2, -1)
        return self._softmax(q, k, v)

    def _nystrom(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if k.shape[-2] != self.landmark_avg.shape[1]:
            raise ValueError(f"nystrom was built for {self.landmark_avg.shape[1]} tokens, got {k.shape[-2]}")
        s = self.head_dim**-0.25
        q, k = q * s, k * s
        q_l = self.landmark_avg @ q  # (B, H, m, d)
        k_l = self.landmark_avg @ k
        k1 = (q @ k_l.transpose(-2, -1)).softmax(-1)  # (B, H, N, m)
        k2 = (q_l @ k_l.transpose(-2, -1)).softmax(-1)  # (B, H, m, m)
        k3 = (q_l @ k.transpose(-2, -1)).softmax(-1)  # (B, H, m, N)
        out = (k1 @ _iterative_pinv(k2, self.nystrom_iters, self.pinv_eye)) @ (k3 @ v)
        return out + self.v_conv(v)  # depth-wise conv residual on V along the sequence


def _orthogonal_gaussian(m: int, d: int, seed: int = 0) -> torch.Tensor:
    """Orthogonal random features (rows), norms drawn like Gaussian rows, as in FAVOR+."""
    g = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(math.ceil(m / d)):
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
        blocks.append(q.T)
    w = torch.cat(blocks)[:m]
    norms = torch.randn(m, d, generator=g).norm(dim=1, keepdim=True)
    return w * norms


def _favor_features(x: torch.Tensor, w: torch.Tensor, per_token: bool) -> torch.Tensor:
    """phi(x) = exp(w x - |x|^2 / 2) / sqrt(m), with x scaled by d^-1/4 (so phi(q) phi(k) ~ exp(q k / sqrt d)).

    The max subtracted for stability may differ per query (it cancels in the row normalisation) but must be one
    constant for all keys of a head, or it would re-weight the keys.
    """
    x = x * x.shape[-1] ** -0.25
    proj = x @ w.T  # (..., N, m)
    sq = (x * x).sum(-1, keepdim=True) / 2
    stab = (proj.amax(dim=-1, keepdim=True) if per_token else proj.amax(dim=(-2, -1), keepdim=True)).detach()
    return torch.exp(proj - sq - stab) * w.shape[0] ** -0.5 + 1e-6


def _segment_mean_matrix(n: int, m: int) -> torch.Tensor:
    a = torch.zeros(m, n)
    bounds = torch.linspace(0, n, m + 1).round().long()
    for i in range(m):
        lo, hi = int(bounds[i]), max(int(bounds[i + 1]), int(bounds[i]) + 1)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _iterative_pinv(mat: torch.Tensor, iters: int, eye: torch.Tensor | None = None) -> torch.Tensor:
    """Moore-Penrose pseudo-inverse by the Nystromformer's cubic iteration (matmuls only: exportable)."""
    if eye is None:
        eye = torch.eye(mat.shape[-1], dtype=mat.dtype, device=mat.device)
    # Initial scale 1 / (||A||_1 ||A||_inf) per matrix (the official code takes one max over the whole batch; a
    # per-matrix scale converges as well and exports: ONNX rejects the all-dims amax).
    col = mat.abs().sum(-2).amax(dim=-1, keepdim=True).unsqueeze(-1)  # (..., 1, 1)
    row = mat.abs().sum(-1).amax(dim=-1, keepdim=True).unsqueeze(-1)
    z = mat.transpose(-2, -1) / (col * row)
    for _ in range(iters):
        kz = mat @ z
        z = 0.25 * z @ (13 * eye - kz @ (15 * eye - kz @ (7 * eye - kz)))
    return z
