"""ExecuTorch's export form: the same function as eager PyTorch, and nothing in the blocks left to portable kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_testlib import make_model
from test_tflite_form import _inputs, _random_norms, form_equals_eval, model_kinds, variants
from torch import nn

from edgevit.export.executorch_form import (
    BmmAttention,
    BmmImageExperts,
    ExecuTorchTokenMoE,
    Int8BmmImageExperts,
    MatmulLayerNorm,
    SlicedSwiGLU,
    to_executorch_form,
)
from edgevit.export.routing import (
    GatherImageExperts,
    GroupedAttention,
    Int8GatherImageExperts,
    StaticTokenMoE,
    int8_expert_stacks,
    to_static,
)
from edgevit.export.tflite_form import rank_topk_mask
from edgevit.models.layers.mlp import SwiGLU


@model_kinds
@variants
def test_executorch_form_equals_eval_in_pytorch(name, extra, variant):
    _model, form, softmax = form_equals_eval(to_executorch_form, name, extra, variant)
    assert any(isinstance(m, BmmAttention) for m in form.modules()) == softmax
    assert not any(type(m) in (GroupedAttention, StaticTokenMoE, GatherImageExperts, nn.LayerNorm)
                   or isinstance(m, SwiGLU) for m in form.modules())
    assert any(isinstance(m, BmmImageExperts) for m in form.modules()) == (name == "mobile_vmoe_test")
    assert any(isinstance(m, SlicedSwiGLU) for m in form.modules()) == (extra.get("mlp_kind") == "swiglu")
    assert any(isinstance(m, ExecuTorchTokenMoE) for m in form.modules()) == (name == "mmoe_vit_test")


def test_executorch_form_leaves_the_static_model_alone():
    static = to_static(_random_norms(make_model("mmoe_vit_test")))
    before = {k: v.clone() for k, v in static.state_dict().items()}
    to_executorch_form(static)
    after = static.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert any(type(m) is nn.LayerNorm for m in static.modules())


@pytest.mark.parametrize("top_k", [1, 2])
def test_int8_image_experts_compute_the_int8_gather(top_k):
    """With `int8_stacks` the stacks are int8 buffers, rounded as `int8_expert_stacks` rounds them, and the
    scale applied after the product gives that model's outputs; without, the fp32 form is eager's."""
    model = _random_norms(make_model("mobile_vmoe_test", top_k=top_k))
    static = to_static(model)
    fp32, int8 = to_executorch_form(static), to_executorch_form(static, int8_stacks=True)
    layers = [m for m in int8.modules() if isinstance(m, Int8BmmImageExperts)]
    (reference,) = [m for m in int8_expert_stacks(static).modules() if isinstance(m, Int8GatherImageExperts)]
    assert len(layers) == 1 and layers[0].w1_q.dtype == torch.int8
    assert torch.equal(layers[0].w1_q, reference.w1_q) and torch.equal(layers[0].w2_scale, reference.w2_scale)
    x = _inputs(model, 8, seed=6)
    with torch.no_grad():
        assert float((fp32(x) - model(x)).abs().max()) < 1e-4
        want = int8_expert_stacks(static)(x)
        assert float((int8(x) - want).abs().max()) < 1e-4 * max(1.0, float(want.abs().max()))
        assert float((int8(x) - model(x)).abs().max()) > 1e-6  # the int8 rounding is really there


def test_executorch_runs_the_image_experts_in_xnnpack(tmp_path):
    """Mobile V-MoE: the gathered experts' products, biases and activations are delegated, and in int8 the
    gathered int8 stacks become floats in XNNPACK too (no portable dtype cast beyond what fp32 has); the
    outputs are the form's own in PyTorch."""
    from executorch.runtime import Runtime

    from edgevit.export import executorch as executorch_target

    model = _random_norms(make_model("mobile_vmoe_test"))
    x = _inputs(model, 4, seed=7)
    ops = {}
    for precision in ("fp32", "int8"):
        path = executorch_target.export(to_static(model), x[:1], tmp_path / f"{precision}.pte", precision=precision)
        ops[precision] = executorch_target.inspect(path).ops
        portable = {k for k in ops[precision] if not k.startswith("delegate:")}
        assert not portable & {"aten::bmm", "aten::mm", "aten::mul", "aten::add", "aten::gelu"}, ops
        method = Runtime.get().load_program(path).load_method("forward")
        got = np.concatenate([method.execute([x[i:i + 1]])[0].numpy() for i in range(len(x))])
        with torch.no_grad():
            want = to_executorch_form(to_static(model), int8_stacks=precision == "int8")(x).numpy()
        assert np.abs(got - want).max() < (1e-4 if precision == "fp32" else 0.25), (precision, np.abs(got - want).max())
    cast = "dim_order_ops::_to_dim_order_copy"
    assert ops["int8"].get(cast, 0) == ops["fp32"].get(cast, 0), ops


@pytest.mark.parametrize("affine", [True, False])
def test_matmul_layer_norm_is_layer_norm(affine):
    norm = nn.LayerNorm(24, eps=1e-6, elementwise_affine=affine)
    if affine:
        _random_norms(norm, seed=2)
    x = torch.randn(3, 17, 24, generator=torch.Generator().manual_seed(4)) * 5 + 3  # far from zero mean
    with torch.no_grad():
        assert torch.allclose(MatmulLayerNorm(norm)(x), norm(x), atol=2e-5)


@pytest.mark.parametrize("experts", [2, 5])
def test_rank_count_as_a_product_with_ones_is_the_same_mask(experts):
    s = torch.round(torch.randn(400, experts, generator=torch.Generator().manual_seed(experts)))  # many ties
    ones = torch.ones(experts, 1)
    for k in range(1, experts + 1):
        by_product = rank_topk_mask(s, k, total=lambda t: (t @ ones).reshape(t.shape[:-1]))
        assert torch.equal(by_product, rank_topk_mask(s, k)), k


@pytest.mark.parametrize("name,extra", [("mmoe_vit_test", {}), ("vit_test", {"mlp_kind": "swiglu"})],
                         ids=["mmoe", "vit-swiglu"])
def test_executorch_runs_the_blocks_in_xnnpack_like_pytorch(name, extra, tmp_path):
    """Only the class token's copy and pick are left to portable kernels; the outputs are eager PyTorch's."""
    from executorch.runtime import Runtime

    from edgevit.export import executorch as executorch_target

    model = _random_norms(make_model(name, **extra))
    x = _inputs(model, 6, seed=5)
    path = executorch_target.export(to_static(model), x[:1], tmp_path / "m.pte")
    ops = executorch_target.inspect(path).ops
    portable = {k for k in ops if not k.startswith("delegate:")}
    assert portable <= {"aten::expand_copy", "aten::select_copy"}, ops
    method = Runtime.get().load_program(path).load_method("forward")
    got = np.concatenate([method.execute([x[i:i + 1]])[0].numpy() for i in range(len(x))])
    with torch.no_grad():
        assert np.abs(got - model(x).numpy()).max() < 1e-4
