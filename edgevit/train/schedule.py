"""Learning-rate schedule: linear warm-up, then cosine decay to `min_lr`, as a pure function of the step.

Why a function and not a torch scheduler: the step count alone (saved in train_state.pt) restores it exactly
on `--resume`, with no scheduler state to serialise.
"""

from __future__ import annotations

import math

import torch

MAX_WARMUP_FRACTION = 0.2


def warmup_steps(warmup_epochs: float, steps_per_epoch: int, total_steps: int) -> int:
    """Warm-up length in steps, at most a fifth of the run: a 2-epoch run with the default 2-epoch warm-up would
    otherwise end at the peak rate and never decay (measured: 74.6% on Fashion-MNIST, all warm-up)."""
    return min(int(round(warmup_epochs * steps_per_epoch)), int(MAX_WARMUP_FRACTION * total_steps))


def lr_at(step: int, total_steps: int, base_lr: float, warmup_steps: int, min_lr: float = 0.0) -> float:
    """Learning rate for optimizer step `step` (0-based) of `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * t))


def lr_at_time(fraction: float, base_lr: float, warmup_fraction: float, min_lr: float = 0.0) -> float:
    """The same warm-up + cosine shape over the share of a wall-clock budget spent (--budget-minutes).

    Why time and not steps: on a shared machine the images per second change during a run, so a step count
    planned from the first minutes would either stop before the cosine ends or overrun the budget; a schedule
    on elapsed time always ends at `min_lr` when the budget does.
    """
    f = min(max(fraction, 0.0), 1.0)
    if warmup_fraction > 0 and f < warmup_fraction:
        return base_lr * max(f / warmup_fraction, 1e-3)
    t = (f - warmup_fraction) / max(1e-9, 1.0 - warmup_fraction)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms, position embeddings and the class token (standard ViT)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        leaf = name.rsplit(".", 1)[-1]
        if p.ndim <= 1 or leaf in ("bias", "b1", "b2", "pos_embed", "cls_token", "mask_token", "dec_pos_embed"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
