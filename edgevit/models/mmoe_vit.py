"""mMoE-ViT / mLiT ("How Lightweight Can A Vision Transformer Be", Tan 2024): PAPERS.md section 1.

A plain ViT with grouped-query attention whose FFNs are SwiGLU MoE layers sharing V and W2, with
depth-wise scaling: FFN hidden size decays linearly from the first block to the last, and the number of
experts grows over three equal stages (3, 4, 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgevit.errors import ConfigError
from edgevit.models.config import BaseConfig, config_class
from edgevit.models.layers.moe import SharedSwiGLUMoE
from edgevit.models.vit import VisionTransformer
from edgevit.registry import register_family


@config_class
@dataclass
class MMoEViTConfig(BaseConfig):
    family = "mmoe_vit"
    hidden_first: int = 81
    hidden_last: int = 27
    experts_per_stage: tuple[int, ...] = (3, 4, 5)
    top_k: int = 2
    router_noise: bool = True
    aux_loss_weight: float = 0.01

    def validate(self) -> None:
        super().validate()
        if not self.experts_per_stage or min(self.experts_per_stage) < 1:
            raise ConfigError("experts_per_stage needs at least one stage with >= 1 expert")
        if self.top_k < 1 or self.top_k > min(self.experts_per_stage):
            raise ConfigError(f"top_k must be in 1..{min(self.experts_per_stage)}, got {self.top_k}")

    def hidden(self, i: int) -> int:
        """Linear decay: int((D-1-i)/(D-1) * (first-last)) + last."""
        d = self.depth
        if d == 1:
            return self.hidden_first
        return int((d - 1 - i) / (d - 1) * (self.hidden_first - self.hidden_last)) + self.hidden_last

    def experts(self, i: int) -> int:
        """Stages are equal parts of the depth (the last takes the remainder)."""
        n = len(self.experts_per_stage)
        return self.experts_per_stage[min(i * n // self.depth, n - 1)]


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
