"""Model size and cost: parameters, active parameters per image, FLOPs (counted by torch, not by hand)."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def active_params(model: nn.Module) -> int:
    """Parameters one image's forward actually uses.

    Per-image routing (Mobile V-MoE): the dense trunk, the router and k of E experts in each MoE block.
    Token routing (mMoE-ViT): what one token uses, i.e. k of E expert matrices W_e per layer (shared V/W2
    always); a whole image usually touches every expert, so this is a lower bound for images.
    """
    total = count_params(model)
    cfg = model.config
    if cfg.family == "mobile_vmoe":
        per_expert = sum(p[0].numel() for p in model.blocks[-1].ffn.parameters())
        return total - cfg.moe_layers * (cfg.num_experts - cfg.top_k) * per_expert
    if cfg.family == "mmoe_vit":
        unused = sum((cfg.experts(i) - cfg.top_k) * cfg.dim * cfg.hidden(i) for i in range(cfg.depth))
        return total - unused
    return total


@torch.no_grad()
def count_flops(model: nn.Module, batch: int = 1) -> int:
    """FLOPs of one eval forward at the model's input size, per image, as executed (FlopCounterMode)."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.config
    was_training = model.training
    model.eval()
    x = torch.randn(batch, cfg.in_chans, cfg.img_size, cfg.img_size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // batch
