"""Mobile V-MoE as the paper specifies it: full-width experts, the paper's parameter counts, the twins'
equal-compute relation, the FLOP-matched variant, and old checkpoints that still load half-width."""

from __future__ import annotations

import json

import pytest
import torch

from edgevit import create_model
from edgevit.checkpoint import CONFIG_FILE, load_checkpoint, save_checkpoint
from edgevit.models.config import config_from_dict
from edgevit.models.stats import active_flops, active_params, count_flops, count_params
from edgevit.registry import create_config, get_model_entry
from edgevit.runtimes.contract import Preprocess


def _vit_params(dim: int, depth: int, hidden: int, tokens: int, patch: int, classes: int) -> int:
    """Independent count of a plain ViT: patch conv, cls, pos, blocks (2 norms, qkv, proj, MLP), norm, head."""
    block = 4 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + _mlp_params(dim, hidden)
    return 3 * patch * patch * dim + dim + dim + tokens * dim + depth * block + 2 * dim + dim * classes + classes


def _mlp_params(dim: int, hidden: int) -> int:
    return dim * hidden + hidden + hidden * dim + dim


def test_vit_tiny_matches_the_papers_base_count() -> None:
    """PAPERS.md section 2: ViT-Tiny has 5,717,416 parameters and one MLP 295,872 (1000 classes, 224 px)."""
    n = count_params(create_model("vit_tiny", num_classes=1000))
    assert n == _vit_params(192, 12, 768, 197, 16, 1000) == 5_717_416
    assert _mlp_params(192, 768) == 295_872


def test_mobile_vmoe_tiny_has_the_papers_parameter_counts() -> None:
    """k=2 of E=10 full-width experts in the last L=2 blocks: 6.31M active per image, 11.05M in all."""
    model = create_model("mobile_vmoe_tiny", num_classes=1000)
    mlp, router = _mlp_params(192, 768), count_params(model.router)
    assert router == 2 * 192 + 192 * 10 + 10  # our LayerNorm (384) + the paper's 1,930-parameter linear router
    assert count_params(model) == 5_717_416 + 2 * (10 - 1) * mlp + router == 11_045_426
    assert active_params(model) == 5_717_416 + 2 * (2 - 1) * mlp + router == 6_311_474
    assert round(count_params(model) / 1e6, 2) == 11.05 and round(active_params(model) / 1e6, 2) == 6.31


def test_full_width_is_the_default_and_flop_matched_a_variant() -> None:
    cfg = create_config("mobile_vmoe_tiny")
    assert cfg.expert_width == "full" and cfg.expert_hidden_size == cfg.mlp_hidden == 768
    assert cfg.replace(expert_width="flop_matched").expert_hidden_size == 768 // 2
    assert cfg.replace(expert_width="flop_matched", expert_hidden=100).expert_hidden_size == 100
    fm = create_config("mobile_vmoe_s32_fm")
    assert fm.expert_width == "flop_matched" and fm.top_k == 2 and fm.expert_hidden_size == fm.mlp_hidden // 2
    with pytest.raises(Exception, match="expert_width"):
        cfg.replace(expert_width="half")


@pytest.mark.parametrize("name", ["mobile_vmoe_t32", "mobile_vmoe_s32", "mobile_vmoe_s32_fm"])
def test_cpu_scale_models_cost_what_their_dense_twin_costs(name: str) -> None:
    """The twins compare at equal compute: active params and FLOPs per image = the twin's + the router
    (+ one output bias per extra expert for the FLOP-matched k=2 form)."""
    moe, dense = create_model(name), create_model(get_model_entry(name).dense_twin)
    cfg = moe.config
    extra_bias = cfg.moe_layers * (cfg.top_k - 1) * cfg.dim
    assert active_params(moe) == count_params(dense) + count_params(moe.router) + extra_bias
    assert count_flops(moe) == active_flops(moe) == count_flops(dense) + 2 * cfg.dim * cfg.num_experts


def test_tiny_costs_one_extra_mlp_per_moe_block() -> None:
    """k=2 full-width (the paper) vs its dense twin: the last L blocks run two MLPs per image."""
    cfg = create_config("mobile_vmoe_tiny", img_size=32, patch_size=16)  # same structure, cheap to count
    moe, dense = create_model("mobile_vmoe_tiny", img_size=32, patch_size=16), create_model(
        "vit_tiny", img_size=32, patch_size=16)
    extra = cfg.moe_layers * cfg.num_tokens * 2 * (2 * cfg.dim * cfg.mlp_hidden)
    assert count_flops(moe) == count_flops(dense) + extra + 2 * cfg.dim * cfg.num_experts


def test_config_saved_before_expert_width_existed_loads_half_width(tmp_path) -> None:
    """A config.json without `expert_width` was written when experts were mlp_hidden // top_k wide."""
    torch.manual_seed(0)
    old = create_model("mobile_vmoe_test", expert_width="flop_matched").eval()
    ckpt = save_checkpoint(tmp_path / "old", old, [str(i) for i in range(10)], Preprocess(size=(16, 16)))
    stored = json.loads((ckpt / CONFIG_FILE).read_text())
    del stored["expert_width"]  # exactly what an older edgevit wrote
    (ckpt / CONFIG_FILE).write_text(json.dumps(stored))
    model, info = load_checkpoint(ckpt)
    assert info.config.expert_width == "flop_matched"
    assert model.blocks[-1].ffn.w1.shape[-1] == old.config.mlp_hidden // old.config.top_k
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(model(x), old(x))
    # a fresh config (no field given) gets the paper's full width; a stored one keeps what it says
    assert create_config("mobile_vmoe_test").expert_width == "full"
    assert config_from_dict({**stored, "expert_width": "full"}).expert_hidden_size == old.config.mlp_hidden
