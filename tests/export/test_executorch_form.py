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
    ExecuTorchTokenMoE,
    MatmulLayerNorm,
    SlicedSwiGLU,
    to_executorch_form,
)
from edgevit.export.routing import GroupedAttention, StaticTokenMoE, to_static
from edgevit.export.tflite_form import rank_topk_mask
from edgevit.models.layers.mlp import SwiGLU


@model_kinds
@variants
def test_executorch_form_equals_eval_in_pytorch(name, extra, variant):
    _model, form, softmax = form_equals_eval(to_executorch_form, name, extra, variant)
    assert any(isinstance(m, BmmAttention) for m in form.modules()) == softmax
    assert not any(type(m) in (GroupedAttention, StaticTokenMoE, nn.LayerNorm) or isinstance(m, SwiGLU)
                   for m in form.modules())
    assert any(isinstance(m, SlicedSwiGLU) for m in form.modules()) == (extra.get("mlp_kind") == "swiglu")
    assert any(isinstance(m, ExecuTorchTokenMoE) for m in form.modules()) == (name == "mmoe_vit_test")


def test_executorch_form_leaves_the_static_model_alone():
    static = to_static(_random_norms(make_model("mmoe_vit_test")))
    before = {k: v.clone() for k, v in static.state_dict().items()}
    to_executorch_form(static)
    after = static.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert any(type(m) is nn.LayerNorm for m in static.modules())


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
