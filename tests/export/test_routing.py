"""Static routing: the export form computes the eval model's function, picks the same experts, hits them all."""

from __future__ import annotations

import pytest
import torch
from export_testlib import make_model

from edgevit.export.routing import (
    DenseImageExperts,
    GatherImageExperts,
    Int8GatherImageExperts,
    StaticImageRouter,
    StaticTokenMoE,
    argmax_topk,
    expert_tensors,
    int8_expert_stacks,
    to_static,
)
from edgevit.models.layers.moe import PerImageExperts, PerImageRouter, SharedSwiGLUMoE

VARIANTS = [
    {},
    {"attention": "performer"},
    {"attention": "linformer", "linformer_k": 8},
    {"attention": "nystrom", "nystrom_landmarks": 4, "nystrom_conv_kernel": 3},
    {"pos": "rope"},
    {"stem": "conv"},
    {"num_kv_heads": 1, "class_token": False},
]


def _inputs(model, n=64, seed=1):
    c = model.config
    return torch.randn(n, c.in_chans, c.img_size, c.img_size, generator=torch.Generator().manual_seed(seed))


def _max_diff(a, b):
    return float((a - b).abs().max())


def test_argmax_topk_matches_topk_without_ties():
    x = torch.randn(500, 7, generator=torch.Generator().manual_seed(0))
    vals, idx, hots = argmax_topk(x, 3)
    tv, ti = x.topk(3, dim=-1)
    assert torch.equal(idx, ti) and torch.allclose(vals, tv)
    assert torch.equal(hots.argmax(-1), ti) and torch.all(hots.sum(-1) == 1)


def test_argmax_topk_breaks_ties_to_lowest_index():
    _, idx, _ = argmax_topk(torch.zeros(3, 5), 2)
    assert idx.tolist() == [[0, 1]] * 3


@pytest.mark.parametrize("routing", ["static", "dense"])
@pytest.mark.parametrize("name", ["mmoe_vit_test", "mobile_vmoe_test"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_static_equals_eval_on_random_inputs(name, variant, routing):
    model = make_model(name, **variant)
    static = to_static(model, routing)
    for seed in range(2):
        x = _inputs(model, 32, seed)
        with torch.no_grad():
            assert _max_diff(model(x), static(x)) < 1e-5


def test_swap_replaces_every_moe_module_and_keeps_the_original():
    for name, kinds in [("mmoe_vit_test", (SharedSwiGLUMoE,)), ("mobile_vmoe_test", (PerImageExperts, PerImageRouter))]:
        model = make_model(name)
        static = to_static(model)
        assert not any(isinstance(m, kinds) for m in static.modules())
        assert any(isinstance(m, kinds) for m in model.modules())  # the original is untouched
        assert all(m.exportable for m in static.modules() if hasattr(m, "exportable"))
        assert static.edgevit_routing == "static"
    assert to_static(make_model("vit_test")).edgevit_routing == "none"
    assert isinstance(to_static(make_model("mobile_vmoe_test"), "dense").blocks[-1].ffn, DenseImageExperts)
    assert isinstance(to_static(make_model("mobile_vmoe_test")).blocks[-1].ffn, GatherImageExperts)
    assert isinstance(to_static(make_model("mobile_vmoe_test")).router, StaticImageRouter)
    assert isinstance(to_static(make_model("mmoe_vit_test")).blocks[0].ffn, StaticTokenMoE)


def test_token_moe_hits_every_expert_and_matches():
    model = make_model("mmoe_vit_test")
    static = to_static(model)
    x = _inputs(model, 64)
    with torch.no_grad():
        y = model(x)
        for _, m in model.moe_modules():  # every expert of every layer received tokens in this batch
            assert torch.unique(m.last_indices).numel() == m.num_experts
        assert _max_diff(y, static(x)) < 1e-5


@pytest.mark.parametrize("routing", ["static", "dense"])
def test_per_image_forced_to_each_expert(routing):
    """Bias the router so every image picks expert e (for each e): each expert's path matches eager."""
    model = make_model("mobile_vmoe_test")
    x = _inputs(model, 16)
    E = model.router.num_experts
    for e in range(E):
        with torch.no_grad():
            model.router.proj.bias.zero_()
            model.router.proj.bias[e] = 50.0
            y = model(x)
            assert (model.router.last_indices[:, 0] == e).all()
            assert _max_diff(y, to_static(model, routing)(x)) < 1e-5
    with torch.no_grad():
        model.router.proj.bias.zero_()


def test_per_image_mixed_batch_covers_every_expert():
    """One batch whose images pick different experts (mean-token router): gathers index per image correctly."""
    model = make_model("mobile_vmoe_test", router_source="mean")
    x = _inputs(model, 64) * 3
    with torch.no_grad():
        y = model(x)
        assert torch.unique(model.router.last_indices).numel() == model.router.num_experts
        assert torch.unique(model.router.last_indices[:, 0]).numel() > 1
        for routing in ("static", "dense"):
            assert _max_diff(y, to_static(model, routing)(x)) < 1e-5


def test_static_form_has_no_topk_or_data_dependent_ops():
    for name in ("mmoe_vit_test", "mobile_vmoe_test"):
        model = to_static(make_model(name))
        ep = torch.export.export(model, (_inputs(model, 2),))
        targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
        bad = [t for t in targets if any(k in t for k in ("topk", "nonzero", "one_hot", "sort", "index_put"))]
        assert not bad, bad


def test_expert_tensors_lists_every_expert():
    assert [len(v) for v in expert_tensors(make_model("mmoe_vit_test")).values()] == [2, 3, 4]
    assert [len(v) for v in expert_tensors(make_model("mobile_vmoe_test")).values()] == [4]


def test_int8_expert_stacks_round_each_expert_per_output_channel():
    model = make_model("mobile_vmoe_test", router_source="mean")
    static = to_static(model)
    q = int8_expert_stacks(static)
    (layer,) = [m for m in q.modules() if isinstance(m, Int8GatherImageExperts)]
    assert any(type(m) is GatherImageExperts for m in static.modules())  # the input is left as it was
    for name in ("w1", "w2"):
        w = getattr(model.blocks[-1].ffn, name).detach()
        got = getattr(layer, f"{name}_q").float() * getattr(layer, f"{name}_scale")
        assert getattr(layer, f"{name}_q").dtype == torch.int8
        # symmetric rounding: within half a step of each (expert, output channel)'s scale
        assert torch.all((got - w).abs() <= getattr(layer, f"{name}_scale") / 2 + 1e-7)
        assert torch.equal(getattr(layer, f"{name}_q").abs().amax(dim=1), torch.full_like(
            getattr(layer, f"{name}_q").abs().amax(dim=1), 127))
    x = _inputs(model, 64) * 3
    with torch.no_grad():
        ref, y = static(x), q(x)
    assert (ref.argmax(-1) == y.argmax(-1)).float().mean() > 0.9
    assert 0 < _max_diff(ref, y) < 0.05 * float(ref.abs().max())
