"""Mobile V-MoE (Daxberger et al., Apple 2023): PAPERS.md section 2.

A dense ViT trunk, then the last `moe_layers` blocks are MoE blocks whose experts are separate MLPs. One
per-image router, fed by the last dense block's class token (or mean token), picks top-k experts that every
MoE block then uses, so each image pays for k experts only. Experts are full-width MLPs by default, as the
paper (`MobileVMoEConfig.expert_width`; which choices are ours is listed there). With a super-class-guided
router the training loss adds `superclass_loss_weight * CE(router logits, super-class)`, and num_experts =
number of super-classes.
"""

from __future__ import annotations

import torch
from torch import nn

from edgevit.models.config import MobileVMoEConfig
from edgevit.models.layers.mlp import Mlp
from edgevit.models.layers.moe import PerImageExperts, PerImageRouter
from edgevit.models.vit import VisionTransformer
from edgevit.registry import register_family


class MobileVMoE(VisionTransformer):
    config: MobileVMoEConfig

    def make_ffn(self, i: int) -> nn.Module:
        c = self.config
        if i < c.first_moe_block:
            return Mlp(c.dim, c.mlp_hidden, c.drop_rate)
        return PerImageExperts(c.dim, c.expert_hidden_size, c.num_experts, c.drop_rate)

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

__all__ = ["MobileVMoE", "MobileVMoEConfig"]
