"""`train --init CKPT`: start from another checkpoint's weights (MAE pre-training or another dataset).

Every tensor of the new model must exist in the checkpoint with the same shape, except: the classifier head
(re-initialised when the class count differs, or when the source is an MAE encoder whose head never trained),
and a learned position embedding of another grid size, which is resized bicubically (our choice, as in DeiT/MAE
fine-tuning). Anything else missing or mis-shaped means a different architecture: a clear CheckpointError.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from edgevit.checkpoint import load_state_dict, read_checkpoint_info
from edgevit.errors import CheckpointError

HEAD_PREFIX = "head."


def resize_pos_embed(pe: torch.Tensor, num_tokens: int, has_cls: bool) -> torch.Tensor:
    """(1, [1+]n, D) -> (1, [1+]m, D) by bicubic resizing of the square patch grid."""
    c = int(has_cls)
    cls, grid = pe[:, :c], pe[:, c:]
    n, m = grid.shape[1], num_tokens - c
    g0, g1 = math.isqrt(n), math.isqrt(m)
    if g0 * g0 != n or g1 * g1 != m:
        raise CheckpointError(f"cannot resize a position embedding of {n} patches to {m}")
    grid = grid.reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False)
    return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, m, -1)], dim=1)


def load_init_weights(model: torch.nn.Module, ckpt: str | Path) -> dict[str, object]:
    """Copy compatible weights from `ckpt` into `model` in place; returns what was done (for meta/logging)."""
    info = read_checkpoint_info(ckpt)
    src = load_state_dict(ckpt)
    dst = model.state_dict()
    from_mae = info.task == "mae"
    new: dict[str, torch.Tensor] = {}
    head_reset, resized, problems = False, [], []
    for key, want in dst.items():
        have = src.get(key)
        if key.startswith(HEAD_PREFIX):
            if have is None or have.shape != want.shape or from_mae:
                head_reset = True
                continue
        elif have is None:
            problems.append(f"{key} missing")
            continue
        elif key == "pos_embed" and have.shape != want.shape and have.shape[-1] == want.shape[-1]:
            have = resize_pos_embed(have, want.shape[1], model.config.class_token)
            resized.append(key)
        elif have.shape != want.shape:
            problems.append(f"{key} {tuple(have.shape)} vs {tuple(want.shape)}")
            continue
        new[key] = have.to(want.dtype)
    extra = [k for k in src if k not in dst]
    problems += [f"{k} unexpected" for k in extra]
    if problems:
        raise CheckpointError(
            f"--init {ckpt}: {info.model_name} ({info.config.family}) is not compatible with "
            f"{model.config.name or model.config.family} ({model.config.family}): {len(problems)} tensors differ, "
            f"e.g. {', '.join(problems[:3])}")
    model.load_state_dict(new, strict=False)
    return {"from": str(ckpt), "source_model": info.model_name, "head_reset": head_reset, "resized": resized,
            "source_task": info.task}
