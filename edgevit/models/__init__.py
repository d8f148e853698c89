"""Model families (vit, mmoe_vit, mobile_vmoe) and the registered zoo. Importing this registers everything."""

from edgevit.models import mmoe_vit, mobile_vmoe, vit, zoo  # noqa: F401  (registration side effects)
from edgevit.models.config import BaseConfig, config_from_dict
from edgevit.models.mmoe_vit import MMoEViT, MMoEViTConfig
from edgevit.models.mobile_vmoe import MobileVMoE, MobileVMoEConfig
from edgevit.models.vit import VisionTransformer, ViTConfig

__all__ = [
    "BaseConfig", "MMoEViT", "MMoEViTConfig", "MobileVMoE", "MobileVMoEConfig", "ViTConfig", "VisionTransformer",
    "config_from_dict",
]
