"""LiteRT's export form: the same function as eager PyTorch, in PyTorch and in LiteRT, with the affines folded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from export_testlib import make_model
from test_routing import VARIANTS
from torch import nn

from edgevit.export import tflite as tflite_target
from edgevit.export.routing import GroupedAttention, StaticTokenMoE, as_form, to_static, topk_mask
from edgevit.export.tflite_form import (
    SOFTMAX_OP_FROM_KEYS,
    FusedSwiGLU,
    LiteRTAttention,
    LiteRTTokenMoE,
    fold_norm_affine,
    rank_topk_mask,
    to_tflite_form,
)
from edgevit.models.layers.mlp import SwiGLU
from edgevit.models.layers.moe import ordered_topk


def _inputs(model, n, seed=0):
    c = model.config
    return torch.randn(n, c.in_chans, c.img_size, c.img_size, generator=torch.Generator().manual_seed(seed))


def _random_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every LayerNorm a non-trivial affine (a fresh model's is 1 and 0, which a wrong fold would pass)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            m.weight.data = 1 + 0.5 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = 0.5 * torch.randn(m.bias.shape, generator=g)
    return model


# every model kind x every attention / position / stem variant: the grid each target form is checked on
model_kinds = pytest.mark.parametrize(
    "name,extra", [("mmoe_vit_test", {}), ("mobile_vmoe_test", {}), ("vit_test", {}),
                   ("vit_test", {"mlp_kind": "swiglu"})], ids=["mmoe", "mobile_vmoe", "vit", "vit-swiglu"])
variants = pytest.mark.parametrize("variant", VARIANTS,
                                   ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")


def form_equals_eval(to_form, name: str, extra: dict, variant: dict) -> tuple[nn.Module, nn.Module, bool]:
    """Check `to_form(to_static(model))` computes eager's outputs (LayerNorms with random affines); return the
    model, its form, and whether its attention is softmax."""
    model = _random_norms(make_model(name, **extra, **variant))
    form = to_form(to_static(model))
    x = _inputs(model, 16, seed=3)
    with torch.no_grad():
        assert float((model(x) - form(x)).abs().max()) < 1e-4
    return model, form, variant.get("attention", "softmax") == "softmax"


@model_kinds
@variants
def test_tflite_form_equals_eval_in_pytorch(name, extra, variant):
    model, form, softmax = form_equals_eval(to_tflite_form, name, extra, variant)
    assert any(isinstance(m, LiteRTAttention) for m in form.modules()) == softmax
    assert not any(type(m) is GroupedAttention or isinstance(m, SwiGLU) for m in form.modules())
    assert any(isinstance(m, FusedSwiGLU) for m in form.modules()) == (extra.get("mlp_kind") == "swiglu")
    assert not any(type(m) is StaticTokenMoE for m in form.modules())
    assert any(isinstance(m, LiteRTTokenMoE) for m in form.modules()) == (name == "mmoe_vit_test")
    norms = [m for m in form.modules() if isinstance(m, nn.LayerNorm)]
    folded = [m for m in norms if not m.elementwise_affine]
    # each block's norm before a softmax attention and before a dense feed-forward, and the final norm
    blocks = len(model.blocks)
    dense_ffn = sum(1 for b in model.blocks if type(b.ffn).__name__ in ("Mlp", "SwiGLU"))
    assert len(folded) == blocks * softmax + dense_ffn + 1


def test_tflite_form_leaves_the_static_model_alone():
    static = to_static(_random_norms(make_model("vit_test", mlp_kind="swiglu")))
    before = {k: v.clone() for k, v in static.state_dict().items()}
    to_tflite_form(static)
    after = static.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert any(type(m) is GroupedAttention for m in static.modules())


@pytest.mark.parametrize("bias", [True, False])
def test_fold_norm_affine_is_the_same_function(bias):
    g = torch.Generator().manual_seed(7)
    norm = _random_norms(nn.LayerNorm(12), seed=1)
    linear = nn.Linear(12, 5, bias=bias)
    x = torch.randn(4, 3, 12, generator=g)
    with torch.no_grad():
        ref = linear(norm(x))
        fold_norm_affine(norm, linear)
        assert not norm.elementwise_affine and linear.bias is not None
        assert torch.allclose(linear(norm(x)), ref, atol=1e-5)
        fold_norm_affine(norm, linear)  # a second fold is a no-op
        assert torch.allclose(linear(norm(x)), ref, atol=1e-5)


@pytest.mark.parametrize("experts", [2, 3, 4, 8])
def test_rank_topk_mask_is_eval_top_k_with_ties_to_the_lowest_index(experts):
    g = torch.Generator().manual_seed(experts)
    s = torch.randn(600, experts, generator=g)
    s[:100] = torch.round(s[:100])  # many exact ties
    s[100:150, 1] = s[100:150, 0]
    s[150:200, 1] = torch.nextafter(s[150:200, 0], torch.tensor(float("inf")))  # one ulp apart
    s[200:210] = 0.0  # an untrained router: all tied
    s[210:220] = 1e-40 * torch.randint(0, 3, (10, experts), generator=g)  # subnormal differences
    s[220:230] *= 1e6
    for k in range(1, experts + 1):
        mask = rank_topk_mask(s, k)
        _, idx = ordered_topk(s, k)
        assert torch.equal(mask, torch.zeros_like(s).scatter(-1, idx, 1.0)), k
        assert torch.equal(mask, topk_mask(s, k).to(s.dtype)), k


def test_as_form_shares_everything_but_the_class():
    static = to_static(make_model("mmoe_vit_test"))
    moe = next(m for m in static.modules() if type(m) is StaticTokenMoE)
    form = as_form(moe, LiteRTTokenMoE)
    assert type(form) is LiteRTTokenMoE and form.w_in is moe.w_in and form.top_k == moe.top_k
    form.extra = nn.Identity()  # a module added to the form is not added to the original
    assert "extra" not in moe._modules
    with pytest.raises(TypeError, match="not a form of"):
        as_form(moe, LiteRTAttention)


@pytest.mark.parametrize("keys", [7, SOFTMAX_OP_FROM_KEYS - 1, SOFTMAX_OP_FROM_KEYS, 200])
def test_litert_attention_weights_are_a_softmax(keys):
    scores = torch.randn(2, 3, 10, keys, generator=torch.Generator().manual_seed(2)) * 30
    assert torch.allclose(LiteRTAttention.normalize(scores), scores.softmax(-1), atol=1e-6)


def _export_and_compare(model: nn.Module, x: torch.Tensor, path) -> Counter:
    """Export `model` to LiteRT, check it computes eager PyTorch's outputs on `x`; the file's op counts."""
    from ai_edge_litert.interpreter import Interpreter

    with torch.no_grad():
        ref = model(x).numpy()
    tflite_target.export(to_static(model), x[:1], path)
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    got = []
    for i in range(len(x)):
        it.set_tensor(inp, x[i:i + 1].numpy())
        it.invoke()
        got.append(it.get_tensor(out))
    assert np.abs(np.concatenate(got) - ref).max() < 1e-4
    return tflite_target.inspect(path).ops


def test_litert_runs_the_form_like_pytorch_without_softmax_op_or_norm_affines(tmp_path):
    model = _random_norms(make_model("vit_test", mlp_kind="swiglu", num_kv_heads=2))
    ops = _export_and_compare(model, _inputs(model, 4, seed=5), tmp_path / "m.tflite")
    blocks = len(model.blocks)
    assert ops["SOFTMAX"] == 0 and ops["EXP"] == blocks
    assert ops["FULLY_CONNECTED"] == 4 * blocks + 1  # qkv, proj, w1|v, w2 per block; the head


def test_litert_keeps_the_softmax_op_for_long_rows(tmp_path):
    """From SOFTMAX_OP_FROM_KEYS keys on, XNNPACK's SOFTMAX op is the faster form: the file has it, not EXP."""
    model = make_model("vit_test", mlp_kind="swiglu", num_kv_heads=2, img_size=48, patch_size=4)
    assert model.config.num_tokens >= SOFTMAX_OP_FROM_KEYS
    ops = _export_and_compare(model, _inputs(model, 2, seed=7), tmp_path / "m.tflite")
    assert ops["SOFTMAX"] == len(model.blocks) and ops["EXP"] == 0


def test_litert_runs_the_token_router_in_one_xnnpack_partition(tmp_path):
    """The flagship's top-k mask in arithmetic: no ARG_MAX / ONE_HOT left to TFLite, the same routing as eager."""
    model = make_model("mmoe_vit_test")
    ops = _export_and_compare(model, _inputs(model, 16, seed=6), tmp_path / "m.tflite")
    assert ops["ARG_MAX"] == ops["ONE_HOT"] == ops["SELECT_V2"] == 0 and ops["CEIL"] > 0
    assert tflite_target.xnnpack_partitions(tmp_path / "m.tflite")["partitions"] == 1
