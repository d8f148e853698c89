"""The training objective: label-smoothed cross-entropy + MoE auxiliary losses + the super-class router loss.

Mobile V-MoE (PAPERS.md section 2): total = CE + superclass_loss_weight * CE(router logits, super-class of the
target), the router having one logit per super-class, so num_experts must equal the number of super-classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgevit.errors import ConfigError


def check_superclasses(model: torch.nn.Module, superclass_of: list[int], num_classes: int) -> None:
    """Fail early, with a fix in the message, when super-classes cannot guide this model's router."""
    cfg = model.config
    if not hasattr(cfg, "superclass_loss_weight"):
        raise ConfigError(f"--superclasses needs a per-image-routed Mobile V-MoE model, not {cfg.name or cfg.family!r}")
    if len(superclass_of) != num_classes:
        raise ConfigError(f"super-class map has {len(superclass_of)} entries for a {num_classes}-class dataset")
    n = max(superclass_of) + 1
    if cfg.num_experts != n:
        raise ConfigError(f"{cfg.name or cfg.family} has {cfg.num_experts} experts but there are {n} super-classes: "
                          f"the router predicts the super-class, so pass --set num_experts={n}")


def training_loss(model: torch.nn.Module, logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0,
                  superclass_of: torch.Tensor | None = None, soft_targets: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss for one batch and its parts (floats, for logging). `model` is the unwrapped model.

    `soft_targets` (B, C), from mixup/cutmix, replace the class indices in the cross-entropy (smoothing then
    applies to the mixed distribution, as in timm); the router's super-class loss keeps the hard `targets`.
    """
    ce = F.cross_entropy(logits.float(), targets if soft_targets is None else soft_targets,
                         label_smoothing=label_smoothing)
    aux = model.aux_loss().to(logits.device)
    total = ce + aux
    parts = {"ce": float(ce.detach()), "aux": float(aux.detach())}
    if superclass_of is not None:
        router = model.router_logits()
        if router is None:
            raise ConfigError("--superclasses needs a model with a per-image router (Mobile V-MoE)")
        sc = F.cross_entropy(router.float(), superclass_of[targets])
        total = total + model.config.superclass_loss_weight * sc
        parts["router"] = float(sc.detach())
    return total, parts
