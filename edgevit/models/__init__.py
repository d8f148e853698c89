"""Model families (vit, mmoe_vit, mobile_vmoe) and the registered zoo.

Importing this package imports no torch: the configs (`config.py`) and the zoo of registered configs
(`zoo.py`) are plain dataclasses, so `edgevit models` and reading a checkpoint's config are instant. The model
classes load on first use: `edgevit.registry.build_model` calls `load_families()`, and the names below
(`MMoEViT`, `VisionTransformer`, ...) import their module when first accessed.
"""

from __future__ import annotations

import importlib
from typing import Any

from edgevit.models.config import BaseConfig, MMoEViTConfig, MobileVMoEConfig, ViTConfig, config_from_dict

FAMILY_MODULES = ("edgevit.models.vit", "edgevit.models.mmoe_vit", "edgevit.models.mobile_vmoe")
_LAZY = {"VisionTransformer": "edgevit.models.vit", "MMoEViT": "edgevit.models.mmoe_vit",
         "MobileVMoE": "edgevit.models.mobile_vmoe"}


def load_families() -> None:
    """Import the model classes (torch), registering each family's builder."""
    for mod in FAMILY_MODULES:
        importlib.import_module(mod)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgevit.models' has no attribute {name!r}")


__all__ = [
    "BaseConfig", "MMoEViT", "MMoEViTConfig", "MobileVMoE", "MobileVMoEConfig", "ViTConfig", "VisionTransformer",
    "config_from_dict", "load_families",
]
