"""mMoE-ViT / mLiT ("How Lightweight Can A Vision Transformer Be", Tan 2024): PAPERS.md section 1.

A plain ViT with grouped-query attention whose FFNs are SwiGLU MoE layers sharing V and W2, with
depth-wise scaling: FFN hidden size decays linearly from the first block to the last, and the number of
experts grows over three equal stages (3, 4, 5).
"""

from __future__ import annotations

from torch import nn

from edgevit.models.config import MMoEViTConfig
from edgevit.models.layers.moe import SharedSwiGLUMoE
from edgevit.models.vit import VisionTransformer
from edgevit.registry import register_family


class MMoEViT(VisionTransformer):
    config: MMoEViTConfig

    def make_ffn(self, i: int) -> nn.Module:
        c = self.config
        return SharedSwiGLUMoE(c.dim, c.hidden(i), c.experts(i), c.top_k, c.router_noise, c.aux_loss_weight, c.drop_rate)

    def post_init(self) -> None:
        for _, m in self.moe_modules():
            nn.init.zeros_(m.router.w_gate.weight)
            if m.router.w_noise is not None:
                nn.init.zeros_(m.router.w_noise.weight)


register_family("mmoe_vit", MMoEViT)

__all__ = ["MMoEViT", "MMoEViTConfig"]
