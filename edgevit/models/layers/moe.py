"""Mixture-of-Experts layers: token-level SwiGLU experts sharing V and W2 (mLiT), per-image experts (Mobile V-MoE).

Every MoE module records, after each forward:
- `aux_loss`: its auxiliary (load-balancing) loss, already weighted (0 in eval mode);
- `last_indices`: the experts chosen, (T, k) per token or (B, k) per image;
- `expert_counts`: how many tokens/images each expert received in that forward, (E,).
Training sums `aux_loss` and logs `expert_counts`; tests check routing through `last_indices`.
The training forms here are already free of data-dependent shapes; `edgevit.export.routing.to_static`
swaps in export forms (argmax-based top-k, no noise path, optional dense fallback).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cv_squared(x: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation: 0 when every expert gets the same share."""
    if x.numel() <= 1:
        return x.new_zeros(())
    return x.float().var() / (x.float().mean() ** 2 + 1e-10)


def ordered_topk(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k whose ties go to the lowest index, as the export form's argmax rounds do (`torch.topk` breaks exact
    ties arbitrarily, e.g. for a zero-initialised router), so eval-mode PyTorch and every artifact agree."""
    vals, idx = x.sort(dim=-1, descending=True, stable=True)
    return vals[..., :k], idx[..., :k]


def topk_mask_gates(logits: torch.Tensor, k: int, ordered: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the k largest logits, scattered back to a dense (..., E) gate tensor, plus the indices."""
    top_v, top_i = ordered_topk(logits, k) if ordered else logits.topk(k, dim=-1)
    gates = torch.zeros_like(logits).scatter(-1, top_i, top_v.softmax(dim=-1))
    return gates, top_i


class NoisyTopKRouter(nn.Module):
    """Shazeer et al. (2017) noisy top-k gating with the importance + load balancing loss."""

    def __init__(self, dim: int, num_experts: int, top_k: int, noisy: bool = True, loss_weight: float = 0.01) -> None:
        super().__init__()
        self.num_experts, self.top_k, self.noisy, self.loss_weight = num_experts, min(top_k, num_experts), noisy, loss_weight
        self.w_gate = nn.Linear(dim, num_experts, bias=False)
        self.w_noise = nn.Linear(dim, num_experts, bias=False) if noisy else None
        nn.init.zeros_(self.w_gate.weight)  # as the reference: start uniform, noise breaks ties
        if self.w_noise is not None:
            nn.init.zeros_(self.w_noise.weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (T, dim) -> gates (T, E) with k non-zeros per row, indices (T, k), aux loss (scalar)."""
        clean = self.w_gate(x)
        if self.training and self.w_noise is not None:
            std = F.softplus(self.w_noise(x)) + 1e-2
            logits = clean + torch.randn_like(clean) * std
        else:
            logits, std = clean, None
        gates, idx = topk_mask_gates(logits, self.top_k, ordered=not self.training)
        if not self.training:
            return gates, idx, logits.new_zeros(())
        importance = gates.sum(0)
        if std is not None and self.top_k < self.num_experts:
            load = self._prob_in_top_k(clean, logits, std).sum(0)
        else:
            load = (gates > 0).float().sum(0)
        return gates, idx, self.loss_weight * (cv_squared(importance) + cv_squared(load))

    def _prob_in_top_k(self, clean: torch.Tensor, noisy: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Smooth load estimate: probability that each expert stays in the top-k under fresh noise."""
        top = noisy.topk(self.top_k + 1, dim=-1).values
        thr_in = top[:, self.top_k : self.top_k + 1]  # the (k+1)-th value: threshold if this expert is in
        thr_out = top[:, self.top_k - 1 : self.top_k]  # the k-th value: threshold if it is out
        normal = torch.distributions.Normal(0.0, 1.0)
        is_in = noisy > thr_in
        p_in = normal.cdf((clean - thr_in) / std)
        p_out = normal.cdf((clean - thr_out) / std)
        return torch.where(is_in, p_in, p_out)


class SharedSwiGLUMoE(nn.Module):
    """mLiT's MoE feed-forward: experts `W2(silu(x W_e) * x V)` that share V and W2; only W_e is per expert.

    Because W2 is linear and shared, sum_e g_e W2(silu(x W_e) * xV) = W2((sum_e g_e silu(x W_e)) * xV):
    xV and W2 run once per token and all W_e are one (dim, E*hidden) matmul.
    """

    def __init__(self, dim: int, hidden: int, num_experts: int, top_k: int = 2, noisy: bool = True,
                 loss_weight: float = 0.01, drop: float = 0.0) -> None:
        super().__init__()
        self.num_experts, self.hidden = num_experts, hidden
        self.router = NoisyTopKRouter(dim, num_experts, top_k, noisy, loss_weight)
        self.w_experts = nn.Linear(dim, num_experts * hidden, bias=False)  # all W_e stacked
        self.v = nn.Linear(dim, hidden, bias=False)  # shared
        self.w2 = nn.Linear(hidden, dim, bias=False)  # shared
        self.drop = nn.Dropout(drop)
        self.aux_loss = torch.zeros(())
        self.last_indices: torch.Tensor | None = None
        self.expert_counts = torch.zeros(num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        flat = x.reshape(B * N, D)
        gates, idx, self.aux_loss = self.router(flat)  # (T, E), (T, k)
        self.last_indices = idx.detach()
        self.expert_counts = (gates.detach() > 0).sum(0)
        return self.drop(self.mix(flat, gates)).view(B, N, D)

    def mix(self, flat: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """(T, dim), dense gates (T, E) -> (T, dim); the shared-V/W2 identity in code."""
        h = F.silu(self.w_experts(flat)).view(-1, self.num_experts, self.hidden)  # (T, E, hidden)
        mixed = (gates.unsqueeze(-1) * h).sum(1)  # (T, hidden)
        return self.w2(mixed * self.v(flat))

    def naive(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """Reference: each expert's full SwiGLU, gated and summed (for tests of the identity)."""
        w = self.w_experts.weight.view(self.num_experts, self.hidden, -1)
        out = torch.zeros_like(x)
        for e in range(self.num_experts):
            y = self.w2(F.silu(x @ w[e].T) * self.v(x))
            out = out + gates[:, e : e + 1] * y
        return out


class PerImageRouter(nn.Module):
    """Mobile V-MoE router: one decision per image from its class token (or mean token), shared by all MoE blocks."""

    def __init__(self, dim: int, num_experts: int, top_k: int, source: str = "cls", noise_std: float = 0.0,
                 loss_weight: float = 0.01) -> None:
        super().__init__()
        self.num_experts, self.top_k, self.source = num_experts, min(top_k, num_experts), source
        self.noise_std, self.loss_weight = noise_std, loss_weight
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, num_experts)
        self.last_logits: torch.Tensor | None = None
        self.last_indices: torch.Tensor | None = None
        self.aux_loss = torch.zeros(())
        self.expert_counts = torch.zeros(num_experts)

    def forward(self, tokens: torch.Tensor, has_cls: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, N, dim) -> indices (B, k), gates (B, k): V-MoE style softmax-then-top-k (no renorm)."""
        feat = tokens[:, 0] if (self.source == "cls" and has_cls) else tokens[:, int(has_cls):].mean(1)
        logits = self.proj(self.norm(feat))  # (B, E)
        self.last_logits = logits
        noisy = logits + torch.randn_like(logits) * self.noise_std if (self.training and self.noise_std) else logits
        probs = noisy.softmax(-1)
        gates, idx = probs.topk(self.top_k, dim=-1) if self.training else ordered_topk(probs, self.top_k)
        self.last_indices = idx.detach()
        self.expert_counts = torch.zeros(self.num_experts, device=idx.device).scatter_add(
            0, idx.reshape(-1), torch.ones(idx.numel(), device=idx.device)).detach()
        self.aux_loss = self.loss_weight * cv_squared(probs.sum(0)) if self.training else logits.new_zeros(())
        return idx, gates


class PerImageExperts(nn.Module):
    """E separate GELU MLPs stored stacked; each image runs only its k chosen experts (gather + batched matmul)."""

    def __init__(self, dim: int, hidden: int, num_experts: int, drop: float = 0.0) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.w1 = nn.Parameter(torch.empty(num_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(num_experts, hidden))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(num_experts, dim))
        nn.init.trunc_normal_(self.w1, std=0.02)
        nn.init.trunc_normal_(self.w2, std=0.02)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, idx: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """x (B, N, dim), idx/gates (B, k) -> (B, N, dim)."""
        w1, b1 = self.w1[idx], self.b1[idx]  # (B, k, dim, h), (B, k, h)
        w2, b2 = self.w2[idx], self.b2[idx]  # (B, k, h, dim), (B, k, dim)
        h = F.gelu(torch.einsum("bnd,bkdh->bknh", x, w1) + b1.unsqueeze(2))
        y = torch.einsum("bknh,bkhd->bknd", self.drop(h), w2) + b2.unsqueeze(2)  # (B, k, N, dim)
        return self.drop((gates[:, :, None, None] * y).sum(1))
