"""Model configs: one dataclass per family, round-tripping exactly through JSON (a checkpoint's config.json).

The Vision-Xformer options (attention kind, stem, position encoding) are fields of the shared base, so every
family accepts them. This module (and the registered zoo built from it) imports no torch, so listing models,
reading a checkpoint's config or hashing it costs milliseconds; the model classes in `vit.py`, `mmoe_vit.py`
and `mobile_vmoe.py` import torch when a model is built.

Old checkpoints: a field added after checkpoints were saved gets, when absent from a stored config, the value
that reproduces the old behaviour (`legacy_defaults`), which may differ from the default a fresh model gets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field, fields
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
    """Fields every family shares: the plain ViT skeleton and the Vision-Xformer options.

    Vision Xformers (PAPERS.md section 3) as the official code: Performer with int(d ln d) features, Linformer
    projecting to 64 with keys and values sharing it, Nystromformer with 64 segment-mean landmarks, 6 pinv
    iterations and a kernel-33 depth-wise residual on V, conv stem 3 -> 32 -> 64 -> dim without activations,
    RoPE over the flattened token index (class token at 0). Ours: Performer's random features are drawn once
    and frozen (no redraw: deterministic and exportable); for patch sizes > 1 the conv stem's last convolution
    is patch-sized with stride = patch, so its token grid equals the linear stem's.
    """

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
        self.check_types()
        self.validate()

    def check_types(self) -> None:
        """Each field has its default's type (a config.json or --set is untrusted): ConfigError otherwise.

        ints take ints, floats take ints or floats, strings take strings, booleans take booleans, tuples of
        numbers take lists/tuples of finite numbers; a field whose default is None takes anything its
        family's validate() accepts. Without this a "dim": "64" fails deep inside torch with a traceback.
        """
        import math

        for f in fields(self):
            v, d = getattr(self, f.name), f.default
            kind = type(d) if d is not MISSING else None
            ok = True
            if kind is bool:
                ok = isinstance(v, bool)
            elif kind is int:
                ok = isinstance(v, int) and not isinstance(v, bool)
            elif kind is float:
                ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            elif kind is str:
                ok = isinstance(v, str)
            elif kind is tuple:
                want = int if "tuple[int" in str(f.type) else int | float
                ok = isinstance(v, list | tuple) and all(
                    isinstance(x, want) and not isinstance(x, bool) and math.isfinite(x) for x in v)
            if not ok:
                raise ConfigError(f"{self.name or self.family}: config field {f.name!r} should be "
                                  f"{'a list of numbers' if kind is tuple else kind.__name__ if kind else 'set'}, got {v!r}")
        if isinstance(self.mean, list | tuple) and isinstance(self.std, list | tuple):
            try:
                self.mean = tuple(float(v) for v in self.mean)
                self.std = tuple(float(v) for v in self.std)
            except ValueError:
                raise ConfigError(f"{self.name or self.family}: mean/std must be numbers") from None

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
        for field_name in ("num_classes", "img_size", "patch_size", "dim", "depth", "num_heads", "linformer_k",
                           "nystrom_landmarks", "nystrom_conv_kernel"):
            value = getattr(self, field_name)
            need(value >= 1, f"{field_name} must be >= 1, got {value}")
        for field_name in ("num_kv_heads", "performer_features", "nystrom_iters"):
            value = getattr(self, field_name)
            need(value >= 0, f"{field_name} must be >= 0, got {value}")
        for field_name in ("drop_rate", "drop_path_rate"):
            value = getattr(self, field_name)
            need(0 <= value < 1, f"{field_name} is a probability in [0, 1), got {value}")
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

    # Values for fields absent from a stored config.json, when they differ from a fresh model's default:
    # configs saved before the field existed behaved as these say (see MobileVMoEConfig.expert_width).
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    def config_hash(self) -> str:
        """A short stable hash of every field (the key of precomputed model statistics)."""
        import hashlib
        import json

        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

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
    for k, v in cls.legacy_defaults.items():
        body.setdefault(k, v)
    return cls(**body)



# =========================================================================== the families' configs


@config_class
@dataclass
class ViTConfig(BaseConfig):
    """Dense ViT: `mlp_hidden` for every block, or one value per block in `mlp_hidden_per_block`."""

    family = "vit"
    mlp_hidden: int = 768
    mlp_hidden_per_block: tuple[int, ...] = ()
    mlp_kind: str = "gelu"  # gelu | swiglu

    def validate(self) -> None:
        super().validate()
        if self.mlp_kind not in ("gelu", "swiglu"):
            raise ConfigError(f"mlp_kind must be gelu or swiglu, got {self.mlp_kind!r}")
        if self.mlp_hidden_per_block and len(self.mlp_hidden_per_block) != self.depth:
            raise ConfigError("mlp_hidden_per_block needs one value per block")
        if min((self.mlp_hidden, *self.mlp_hidden_per_block)) < 1:
            raise ConfigError("mlp_hidden (and each mlp_hidden_per_block value) must be >= 1")

    def hidden(self, i: int) -> int:
        return int(self.mlp_hidden_per_block[i]) if self.mlp_hidden_per_block else self.mlp_hidden


@config_class
@dataclass
class MMoEViTConfig(BaseConfig):
    """mMoE-ViT / mLiT (PAPERS.md section 1). As the paper: SwiGLU experts sharing V and W2, linear FFN-width
    decay, experts per stage (3, 4, 5), grouped-query attention, Shazeer noisy top-k routing per token with the
    CV^2(importance) + CV^2(load) loss at weight 0.01.

    Ours (the paper does not say): routers start at zero (uniform gates, the noise breaks ties, as the reference
    implementation); the noise std is softplus(x W_noise) + 0.01 (Shazeer's reference code's epsilon); stages
    are equal parts of the depth, the last taking the remainder.
    """

    family = "mmoe_vit"
    hidden_first: int = 81
    hidden_last: int = 27
    experts_per_stage: tuple[int, ...] = (3, 4, 5)
    top_k: int = 2
    router_noise: bool = True
    aux_loss_weight: float = 0.01

    def validate(self) -> None:
        super().validate()
        if not self.experts_per_stage or min(self.experts_per_stage) < 1:
            raise ConfigError("experts_per_stage needs at least one stage with >= 1 expert")
        if self.top_k < 1 or self.top_k > min(self.experts_per_stage):
            raise ConfigError(f"top_k must be in 1..{min(self.experts_per_stage)}, got {self.top_k}")
        if min(self.hidden_first, self.hidden_last) < 1:
            raise ConfigError(f"hidden_first and hidden_last must be >= 1, got {self.hidden_first}, {self.hidden_last}")
        if self.aux_loss_weight < 0:
            raise ConfigError(f"aux_loss_weight must be >= 0, got {self.aux_loss_weight}")

    def hidden(self, i: int) -> int:
        """Linear decay: int((D-1-i)/(D-1) * (first-last)) + last."""
        d = self.depth
        if d == 1:
            return self.hidden_first
        return int((d - 1 - i) / (d - 1) * (self.hidden_first - self.hidden_last)) + self.hidden_last

    def experts(self, i: int) -> int:
        """Stages are equal parts of the depth (the last takes the remainder)."""
        n = len(self.experts_per_stage)
        return self.experts_per_stage[min(i * n // self.depth, n - 1)]


EXPERT_WIDTHS = ("full", "flop_matched")


@config_class
@dataclass
class MobileVMoEConfig(BaseConfig):
    """Mobile V-MoE (PAPERS.md section 2): the last `moe_layers` blocks hold `num_experts` MLP experts, one
    per-image router (fed by the last dense block) picks `top_k` of them for every MoE block.

    Expert width: `expert_width="full"` (the paper, and the default) gives every expert the dense MLP's hidden
    size, so ViT-Tiny with E=10, L=2, k=2 has the paper's 6.31M active / 11.05M total parameters and costs one
    extra MLP per MoE block per image over the dense model (k=1 costs the same as dense). `"flop_matched"` (ours)
    gives experts `mlp_hidden // top_k`, so k experts cost what one dense MLP costs at any k. `expert_hidden` > 0
    overrides both. Configs saved before `expert_width` existed were flop-matched, and load as such.

    Ours, where the paper is silent: the router reads the class token (`router_source="mean"`: mean of the
    patch tokens) through a LayerNorm (384 parameters at width 192) before its linear layer; gates are V-MoE's
    softmax-then-top-k without renormalisation; routing noise is off (`router_noise_std`); the learned router's
    balancing loss (`aux_loss_weight`, CV^2 of the per-expert probability mass, off by default) stands in for
    V-MoE's importance + load losses, because the super-class loss (`superclass_loss_weight` 0.3, the paper's)
    is what balances the paper's router.
    """

    family = "mobile_vmoe"
    legacy_defaults: ClassVar[dict[str, Any]] = {"expert_width": "flop_matched"}
    mlp_hidden: int = 768
    num_experts: int = 10
    moe_layers: int = 2
    top_k: int = 2
    expert_width: str = "full"  # full (the paper) | flop_matched (ours: hidden = mlp_hidden // top_k)
    expert_hidden: int = 0  # > 0 overrides expert_width
    router_source: str = "cls"  # cls | mean (the paper leaves it open)
    router_noise_std: float = 0.0
    aux_loss_weight: float = 0.0  # learned router's balancing loss; the super-class loss usually does this job
    superclass_loss_weight: float = 0.3

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.moe_layers <= self.depth - 1:
            raise ConfigError(f"moe_layers must be in 1..depth-1 (a dense block feeds the router), got {self.moe_layers}")
        if not 1 <= self.top_k <= self.num_experts:
            raise ConfigError(f"top_k must be in 1..num_experts ({self.num_experts}), got {self.top_k}")
        if self.router_source not in ("cls", "mean"):
            raise ConfigError(f"router_source must be cls or mean, got {self.router_source!r}")
        if self.expert_width not in EXPERT_WIDTHS:
            raise ConfigError(f"expert_width must be one of {EXPERT_WIDTHS}, got {self.expert_width!r}")
        if self.expert_hidden < 0:
            raise ConfigError(f"expert_hidden must be >= 0 (0 = from expert_width), got {self.expert_hidden}")
        if self.mlp_hidden < 1:
            raise ConfigError(f"mlp_hidden must be >= 1, got {self.mlp_hidden}")
        for field_name in ("router_noise_std", "aux_loss_weight", "superclass_loss_weight"):
            if getattr(self, field_name) < 0:
                raise ConfigError(f"{field_name} must be >= 0, got {getattr(self, field_name)}")

    @property
    def expert_hidden_size(self) -> int:
        """Hidden width of one expert MLP."""
        if self.expert_hidden:
            return self.expert_hidden
        return self.mlp_hidden if self.expert_width == "full" else max(1, self.mlp_hidden // self.top_k)

    @property
    def first_moe_block(self) -> int:
        return self.depth - self.moe_layers


__all__ = ["BaseConfig", "MMoEViTConfig", "MobileVMoEConfig", "ViTConfig", "config_class", "config_from_dict",
           "field"]
