"""Model size and cost: parameters, active parameters per image, FLOPs (counted by torch, not by hand).

FLOPs follow torch's FlopCounterMode: 2 per multiply-add, counting matmuls, convolutions and attention, not
element-wise ops, norms or softmax. Papers often quote multiply-adds as "FLOPs" (ViT-Tiny: 1.08 G multiply-adds
= 2.15 G FLOPs here).
"""

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
    """FLOPs of one eval forward at the model's input size, per image, as executed (FlopCounterMode).

    As executed: Mobile V-MoE's eager (and static export) form runs only the k chosen experts per image; the
    mMoE-ViT form computes every expert's W_e for every token in one stacked matmul (see `active_flops`).
    """
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.config
    was_training = model.training
    model.eval()
    x = torch.randn(batch, cfg.in_chans, cfg.img_size, cfg.img_size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // batch


def active_flops(model: nn.Module, executed: int | None = None) -> int:
    """FLOPs one image needs when each routed unit runs only its k experts, from the executed count.

    Per-image routing (Mobile V-MoE): the eager form already runs k experts per image, so active == executed.
    Token routing (mMoE-ViT): each token needs k of E expert matrices W_e, but the stacked form (eager and
    exported: one matmul, a top-k mask) computes all E; the E-k unused ones, 2 * dim * hidden FLOPs per token
    each, are subtracted. The router's logits for every expert are real work and stay counted.
    """
    flops = count_flops(model) if executed is None else executed
    cfg = model.config
    if cfg.family == "mmoe_vit":
        unused = sum((cfg.experts(i) - cfg.top_k) * cfg.dim * cfg.hidden(i) for i in range(cfg.depth))
        flops -= 2 * cfg.num_tokens * unused
    return flops
