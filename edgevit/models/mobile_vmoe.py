"""Mobile V-MoE (Daxberger et al., Apple 2023): PAPERS.md section 2.

A dense ViT trunk, then the last `moe_layers` blocks are MoE blocks whose experts are separate MLPs. One
per-image router, fed by the last dense block's class token (or mean token), picks top-k experts that every
MoE block then uses, so each image pays for k experts only. With a super-class-guided router the training
loss adds `superclass_loss_weight * CE(router logits, super-class)`, and num_experts = number of super-classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edgevit.errors import ConfigError
from edgevit.models.config import BaseConfig, config_class
from edgevit.models.layers.mlp import Mlp
from edgevit.models.layers.moe import PerImageExperts, PerImageRouter
from edgevit.models.vit import VisionTransformer
from edgevit.registry import register_family


@config_class
@dataclass
class MobileVMoEConfig(BaseConfig):
    family = "mobile_vmoe"
    mlp_hidden: int = 768
    num_experts: int = 10
    moe_layers: int = 2
    top_k: int = 2
    expert_hidden: int = 0  # 0 = mlp_hidden // top_k (our choice: per-image FLOPs equal the dense twin's)
    router_source: str = "cls"  # cls | mean (the paper leaves it open)
    router_noise_std: float = 0.0
    aux_loss_weight: float = 0.0  # learned router's balancing loss; the super-class loss usually does this job
    superclass_loss_weight: float = 0.3

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.moe_layers <= self.depth - 1:
            raise ConfigError(f"moe_layers must be in 1..depth-1 (a dense block feeds the router), got {self.moe_layers}")
        if not 1 <= self.top_k <= self.num_experts:
            raise ConfigError(f"top_k must be in 1..num_experts ({self.num_experts}), got {self.top_k}")
        if self.router_source not in ("cls", "mean"):
            raise ConfigError(f"router_source must be cls or mean, got {self.router_source!r}")

    @property
    def expert_width(self) -> int:
        return self.expert_hidden or max(1, self.mlp_hidden // self.top_k)

    @property
    def first_moe_block(self) -> int:
        return self.depth - self.moe_layers


class MobileVMoE(VisionTransformer):
    config: MobileVMoEConfig

    def make_ffn(self, i: int) -> nn.Module:
        c = self.config
        if i < c.first_moe_block:
            return Mlp(c.dim, c.mlp_hidden, c.drop_rate)
        return PerImageExperts(c.dim, c.expert_width, c.num_experts, c.drop_rate)

    def post_init(self) -> None:
        c = self.config
        self.router = PerImageRouter(c.dim, c.num_experts, c.top_k, c.router_source, c.router_noise_std, c.aux_loss_weight)

    def run_blocks(self, x: torch.Tensor, rope) -> torch.Tensor:
        first = self.config.first_moe_block
        for blk in self.blocks[:first]:
            x = blk(x, rope)
        idx, gates = self.router(x, has_cls=self.cls_token is not None)  # one decision per image: (B, k)
        for blk in self.blocks[first:]:
            x = blk(x, rope, idx=idx, gates=gates)
        return x

    def router_logits(self) -> torch.Tensor | None:
        return self.router.last_logits


register_family("mobile_vmoe", MobileVMoE)
