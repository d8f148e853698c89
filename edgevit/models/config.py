"""Model configs: one dataclass per family, round-tripping exactly through JSON (a checkpoint's config.json).

The Vision-Xformer options (attention kind, stem, position encoding) are fields of the shared base, so every
family accepts them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from edgevit.errors import ConfigError

ATTENTIONS = ("softmax", "performer", "linformer", "nystrom")
STEMS = ("patch", "conv")
POSITIONS = ("learned", "rope")

_CONFIG_CLASSES: dict[str, type[BaseConfig]] = {}


def config_class(cls: type[BaseConfig]) -> type[BaseConfig]:
    """Register a config dataclass under its `family` so `config_from_dict` can rebuild it."""
    _CONFIG_CLASSES[cls.family] = cls
    return cls


@dataclass
class BaseConfig:
    """Fields every family shares: the plain ViT skeleton and the Vision-Xformer options."""

    family: ClassVar[str] = "base"

    name: str = ""
    num_classes: int = 10
    img_size: int = 32
    in_chans: int = 3
    patch_size: int = 4
    dim: int = 192
    depth: int = 12
    num_heads: int = 3
    num_kv_heads: int = 0  # 0 = same as num_heads (plain MHA); fewer = grouped-query attention
    qkv_bias: bool = True
    class_token: bool = True
    # Vision-Xformer options (PAPERS.md section 3)
    attention: str = "softmax"
    stem: str = "patch"
    pos: str = "learned"
    performer_features: int = 0  # 0 = int(d_head * ln(d_head)) as in the official code
    linformer_k: int = 64
    nystrom_landmarks: int = 64
    nystrom_iters: int = 6
    nystrom_conv_kernel: int = 33
    # regularisation
    drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    # preprocessing the model was designed for (dataset-specific mean/std live in the checkpoint)
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        self.validate()

    # --------------------------------------------------------------- derived
    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size**2

    @property
    def num_tokens(self) -> int:
        return self.num_patches + int(self.class_token)

    # --------------------------------------------------------------- checks
    def validate(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"{self.name or self.family}: {msg}")

        need(self.attention in ATTENTIONS, f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        need(self.stem in STEMS, f"stem must be one of {STEMS}, got {self.stem!r}")
        need(self.pos in POSITIONS, f"pos must be one of {POSITIONS}, got {self.pos!r}")
        need(self.num_classes >= 1, "num_classes must be >= 1")
        need(self.dim % self.num_heads == 0, f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        need(self.num_heads % self.kv_heads == 0, "num_heads must be a multiple of num_kv_heads")
        need(self.img_size % self.patch_size == 0, f"img_size {self.img_size} is not a multiple of patch_size")
        need(self.pos != "rope" or self.head_dim % 2 == 0, "RoPE needs an even head dimension")
        need(self.in_chans in (1, 3), "in_chans must be 1 or 3")

    # --------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaseConfig:
        return config_from_dict(d)

    def replace(self, **overrides: Any) -> BaseConfig:
        known = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(f"unknown config field(s) {bad} for family {self.family!r}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


def config_from_dict(d: dict[str, Any]) -> BaseConfig:
    """Rebuild a config from `to_dict()` output; every key must be known to the family."""
    if not isinstance(d, dict) or "family" not in d:
        raise ConfigError("config is not a dict with a 'family' field")
    fam = d["family"]
    if fam not in _CONFIG_CLASSES:
        raise ConfigError(f"unknown model family {fam!r}; known: {sorted(_CONFIG_CLASSES)}")
    cls = _CONFIG_CLASSES[fam]
    known = {f.name: f for f in fields(cls)}
    body = {k: v for k, v in d.items() if k != "family"}
    bad = sorted(set(body) - set(known))
    if bad:
        raise ConfigError(f"config has unknown field(s) {bad} for family {fam!r}")
    for k, v in body.items():
        if isinstance(v, list):
            body[k] = tuple(v)
    return cls(**body)


__all__ = ["BaseConfig", "config_class", "config_from_dict", "field"]
