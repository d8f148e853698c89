"""The registered models: one table-like page of configs. Every MoE model names its dense twin.

- `mmoe_vit_*` / `mlit_*`: PAPERS.md section 1 table; twins `vit_mlit_*` have the same skeleton with dense SwiGLU
  FFNs sized per block to the same total parameter count. Input 36 px with patch 3 (144 tokens) follows the
  third-party implementation: the paper's own image and patch size are not confirmed.
- `mobile_vmoe_*`: PAPERS.md section 2, full-width experts (the paper's form); twins are the plain ViT with the
  same trunk. `mobile_vmoe_tiny` is the paper's configuration (ViT-Tiny, E=10, L=2, k=2: 6.31M active of 11.05M
  at 1000 classes) and its twin `vit_tiny` the paper's baseline: one extra expert MLP per MoE block per image,
  as the paper compares them. The CPU-scale `mobile_vmoe_t32` / `_s32` route k=1 full-width expert per image
  (among the paper's best, k = 1 or 2), so their per-image active parameters and FLOPs equal their twin's plus
  the router: an equal-compute comparison. `mobile_vmoe_s32_fm` is the FLOP-matched variant (ours: k=2 experts
  of half width, `expert_width="flop_matched"`), equal to the twin up to the router and one output bias per
  extra expert; it is what `mobile_vmoe_s32` was before experts became full-width.
- `*_test`: tiny configs for fast tests.
"""

from __future__ import annotations

from edgevit.models.config import MMoEViTConfig, MobileVMoEConfig, ViTConfig
from edgevit.registry import register_model

# --------------------------------------------------------------------------- mMoE-ViT / mLiT
_MLIT = {  # size: (dim, depth, hidden_first, hidden_last, heads, kv_heads)
    "s": (144, 15, 144, 72, 8, 4),
    "xs": (128, 12, 96, 32, 8, 4),
    "xxs": (108, 9, 81, 27, 6, 3),
}


def mlit_config(size: str, **kw) -> MMoEViTConfig:
    dim, depth, h1, h2, heads, kv = _MLIT[size]
    base = dict(name=f"mmoe_vit_{size}", img_size=36, patch_size=3, dim=dim, depth=depth, num_heads=heads,
                num_kv_heads=kv, hidden_first=h1, hidden_last=h2, experts_per_stage=(3, 4, 5), top_k=2)
    base.update(kw)
    return MMoEViTConfig(**base)


def swiglu_twin_hidden(cfg: MMoEViTConfig) -> tuple[int, ...]:
    """Per-block dense SwiGLU width with the MoE block's parameter count: 3*d*h' = d*h*(E+2) + 2*d*E."""
    return tuple(round((cfg.hidden(i) * (cfg.experts(i) + 2) + 2 * cfg.experts(i)) / 3) for i in range(cfg.depth))


def mlit_twin_config(size: str) -> ViTConfig:
    moe = mlit_config(size)
    return ViTConfig(name=f"vit_mlit_{size}", img_size=moe.img_size, patch_size=moe.patch_size, dim=moe.dim,
                     depth=moe.depth, num_heads=moe.num_heads, num_kv_heads=moe.num_kv_heads, mlp_kind="swiglu",
                     mlp_hidden=max(swiglu_twin_hidden(moe)), mlp_hidden_per_block=swiglu_twin_hidden(moe))


for _size in _MLIT:
    register_model(f"mmoe_vit_{_size}", family="mmoe_vit", dense_twin=f"vit_mlit_{_size}", aliases=(f"mlit_{_size}",))(
        lambda s=_size: mlit_config(s))
    register_model(f"vit_mlit_{_size}", family="vit")(lambda s=_size: mlit_twin_config(s))


# --------------------------------------------------------------------------- dense ViT baselines + Mobile V-MoE
_VIT = {  # name: (img, patch, dim, depth, heads, mlp_hidden)
    "vit_tiny": (224, 16, 192, 12, 3, 768),  # ViT-Tiny, the paper's base for Mobile V-MoE
    "vit_s32": (32, 4, 192, 8, 3, 768),  # CPU-scale for 32x32 inputs
    "vit_t32": (32, 4, 96, 6, 3, 384),
}
_VMOE = {  # name: (dense twin, experts, moe layers, top_k, expert width)
    "mobile_vmoe_tiny": ("vit_tiny", 10, 2, 2, "full"),  # paper: ViT-Tiny, E=10, L=2, k=2
    "mobile_vmoe_s32": ("vit_s32", 10, 2, 1, "full"),  # equal active params/FLOPs to the twin (+ router)
    "mobile_vmoe_s32_fm": ("vit_s32", 10, 2, 2, "flop_matched"),  # ours: k=2 half-width experts, same cost
    "mobile_vmoe_t32": ("vit_t32", 5, 2, 1, "full"),
}


def vit_config(name: str, **kw) -> ViTConfig:
    img, patch, dim, depth, heads, mlp = _VIT[name]
    return ViTConfig(**{**dict(name=name, img_size=img, patch_size=patch, dim=dim, depth=depth, num_heads=heads,
                               mlp_hidden=mlp), **kw})


def vmoe_config(name: str, **kw) -> MobileVMoEConfig:
    twin, experts, layers, k, width = _VMOE[name]
    img, patch, dim, depth, heads, mlp = _VIT[twin]
    return MobileVMoEConfig(**{**dict(name=name, img_size=img, patch_size=patch, dim=dim, depth=depth,
                                      num_heads=heads, mlp_hidden=mlp, num_experts=experts, moe_layers=layers,
                                      top_k=k, expert_width=width), **kw})


for _name in _VIT:
    register_model(_name, family="vit")(lambda n=_name: vit_config(n))
for _name, (_twin, *_rest) in _VMOE.items():
    register_model(_name, family="mobile_vmoe", dense_twin=_twin)(lambda n=_name: vmoe_config(n))


# --------------------------------------------------------------------------- tiny test configs
_TEST = dict(img_size=16, patch_size=4, dim=32, depth=3, num_heads=4, num_kv_heads=2)


@register_model("vit_test", family="vit")
def vit_test() -> ViTConfig:
    """Tiny dense ViT for unit tests."""
    return ViTConfig(name="vit_test", mlp_hidden=64, **_TEST)


@register_model("mmoe_vit_test", family="mmoe_vit", dense_twin="vit_test")
def mmoe_vit_test() -> MMoEViTConfig:
    """Tiny mMoE-ViT for unit tests."""
    return MMoEViTConfig(name="mmoe_vit_test", hidden_first=32, hidden_last=16, experts_per_stage=(2, 3, 4), **_TEST)


@register_model("mobile_vmoe_test", family="mobile_vmoe", dense_twin="vit_test")
def mobile_vmoe_test() -> MobileVMoEConfig:
    """Tiny Mobile V-MoE for unit tests."""
    return MobileVMoEConfig(name="mobile_vmoe_test", mlp_hidden=64, num_experts=4, moe_layers=1, top_k=2, **_TEST)
