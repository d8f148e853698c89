"""Helpers for export tests: random-init test models with randomised routers (a zero router ties every expert)."""

from __future__ import annotations

from pathlib import Path

import torch

from edgevit import create_model
from edgevit.checkpoint import save_checkpoint
from edgevit.runtimes.contract import Preprocess


def randomise_routers(model: torch.nn.Module, std: float = 0.5, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "w_gate" in name or "router.proj" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def make_model(name: str, seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    return randomise_routers(create_model(name, **overrides), seed=seed).eval()


def write_checkpoint(path: Path, name: str, **overrides) -> Path:
    m = make_model(name, **overrides)
    c = m.config
    pre = Preprocess(size=(c.img_size, c.img_size), channels=c.in_chans, mean=c.mean, std=c.std)
    save_checkpoint(path, m, [f"class{i}" for i in range(c.num_classes)], pre, {"data": {"spec": "digits"}})
    return path
