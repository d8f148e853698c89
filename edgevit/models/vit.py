"""The ViT skeleton every family shares, and the dense baselines (`vit_*`).

A family subclasses `VisionTransformer` and overrides `make_ffn` (and, for per-image routing, `run_blocks`).
Shapes: x (B, C, H, W) -> patches (B, N, D) -> [cls] + patches (B, 1+N, D) -> blocks -> norm -> head (B, classes).
"""

from __future__ import annotations

import torch
from torch import nn

from edgevit.models.config import BaseConfig, ViTConfig
from edgevit.models.layers.attention import Attention
from edgevit.models.layers.embeddings import ConvStem, PatchEmbed, RotaryEmbedding
from edgevit.models.layers.mlp import Mlp, SwiGLU
from edgevit.registry import register_family


class DropPath(nn.Module):
    """Stochastic depth per sample."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty(x.shape[0], *([1] * (x.ndim - 1))).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ffn(norm(x))."""

    def __init__(self, cfg: BaseConfig, ffn: nn.Module, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(
            cfg.dim, cfg.num_heads, num_kv_heads=cfg.kv_heads, kind=cfg.attention, seq_len=cfg.num_tokens,
            qkv_bias=cfg.qkv_bias, performer_features=cfg.performer_features, linformer_k=cfg.linformer_k,
            nystrom_landmarks=cfg.nystrom_landmarks, nystrom_iters=cfg.nystrom_iters,
            nystrom_conv_kernel=cfg.nystrom_conv_kernel,
        )
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.ffn = ffn
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, rope=None, **ffn_kwargs) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), rope))
        return x + self.drop_path(self.ffn(self.norm2(x), **ffn_kwargs))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: BaseConfig) -> None:
        super().__init__()
        self.config = cfg
        stem = ConvStem if cfg.stem == "conv" else PatchEmbed
        self.patch_embed = stem(cfg.in_chans, cfg.dim, cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim)) if cfg.class_token else None
        if cfg.pos == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            self.rope = None
        else:
            self.pos_embed = None
            self.rope = RotaryEmbedding(cfg.head_dim, cfg.num_tokens)
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        dpr = torch.linspace(0, cfg.drop_path_rate, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(cfg, self.make_ffn(i), dpr[i]) for i in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        self.apply(_init_weights)
        self.post_init()

    # ------------------------------------------------------------------ family hooks
    def make_ffn(self, i: int) -> nn.Module:
        cfg = self.config
        cls = SwiGLU if cfg.mlp_kind == "swiglu" else Mlp
        return cls(cfg.dim, cfg.hidden(i), cfg.drop_rate)

    def post_init(self) -> None:
        """Re-initialise what `_init_weights` must not touch (routers start at zero)."""

    def run_blocks(self, x: torch.Tensor, rope) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, rope)
        return x

    # ------------------------------------------------------------------ forward
    def forward_tokens(self, patches: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Encode patch tokens (B, n, D) at patch positions (B, n) (all patches when None) -> (B, [1+]n, D).

        Positions let MAE pre-training feed only the visible patches.
        """
        B = patches.shape[0]
        has_cls = int(self.cls_token is not None)
        if self.pos_embed is not None:
            pe = self.pos_embed[:, has_cls:]  # (1, N, D) patch positions
            patches = patches + (pe if positions is None else pe[0][positions])
        tok_pos = None if positions is None else positions + has_cls  # token index 0 is the class token's
        if self.cls_token is not None:
            cls = self.cls_token.expand(B, -1, -1)
            if self.pos_embed is not None:
                cls = cls + self.pos_embed[:, :1]
            patches = torch.cat([cls, patches], dim=1)
            if tok_pos is not None:
                tok_pos = torch.cat([tok_pos.new_zeros(B, 1), tok_pos], dim=1)
        rope = None if self.rope is None else self.rope(tok_pos, patches.shape[1])
        return self.norm(self.run_blocks(self.pos_drop(patches), rope))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(self.patch_embed(x))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        pooled = feats[:, 0] if self.cls_token is not None else feats.mean(1)
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    # ------------------------------------------------------------------ MoE bookkeeping
    def moe_modules(self) -> list[tuple[str, nn.Module]]:
        """Every module that records `aux_loss` / `expert_counts` (empty for dense models)."""
        return [(n, m) for n, m in self.named_modules() if hasattr(m, "expert_counts")]

    def aux_loss(self) -> torch.Tensor:
        """Sum of the auxiliary losses recorded by the last forward (0 for dense models)."""
        losses = [m.aux_loss for _, m in self.moe_modules()]
        return torch.stack(losses).sum() if losses else torch.zeros(())

    def expert_usage(self) -> dict[str, list[int]]:
        """Tokens (or images) each expert received in the last forward, per MoE module."""
        return {n: [int(c) for c in m.expert_counts.tolist()] for n, m in self.moe_modules()}

    def router_logits(self) -> torch.Tensor | None:
        """Per-image router logits of the last forward (Mobile V-MoE), else None."""
        return None


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


register_family("vit", VisionTransformer)

__all__ = ["Block", "DropPath", "ViTConfig", "VisionTransformer"]
