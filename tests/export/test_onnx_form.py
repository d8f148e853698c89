"""onnxruntime's export form: the same function as eager PyTorch in PyTorch and in onnxruntime, in fewer nodes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_testlib import make_model
from test_routing import VARIANTS

from edgevit.export import onnx as onnx_target
from edgevit.export.onnx_form import OnnxAttention, TopKTokenMoE, grouped_attention, to_onnx_form
from edgevit.export.routing import GroupedAttention, StaticTokenMoE, to_static


def _inputs(model, n, seed=0):
    c = model.config
    return torch.randn(n, c.in_chans, c.img_size, c.img_size, generator=torch.Generator().manual_seed(seed))


def _export(model, path, opset):
    sample = _inputs(model, 1)
    onnx_target.export(to_static(model), sample, path, opset=opset)
    return path


def _run_ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


@pytest.mark.parametrize("opset", [18, 23, 26])
@pytest.mark.parametrize("name", ["mmoe_vit_test", "mobile_vmoe_test", "vit_test"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_onnx_form_equals_eval_in_pytorch(name, variant, opset):
    model = make_model(name, **variant)
    form = to_onnx_form(to_static(model), opset)
    x = _inputs(model, 16, seed=3)
    with torch.no_grad():
        assert float((model(x) - form(x)).abs().max()) < 1e-5
    softmax = variant.get("attention", "softmax") == "softmax"
    assert any(isinstance(m, OnnxAttention) for m in form.modules()) == (softmax and opset in (23, 24, 25))
    assert not any(type(m) is StaticTokenMoE for m in form.modules())
    assert any(isinstance(m, TopKTokenMoE) for m in form.modules()) == (name == "mmoe_vit_test")


def test_onnx_form_leaves_the_static_model_alone():
    static = to_static(make_model("mmoe_vit_test"))
    to_onnx_form(static, 23)
    assert any(type(m) is GroupedAttention for m in static.modules())
    assert any(type(m) is StaticTokenMoE for m in static.modules())


@pytest.mark.parametrize("heads,kv_heads", [(4, 4), (4, 2), (4, 1), (6, 3)])
def test_grouped_attention_op_reads_kv_head_h_over_rep(heads, kv_heads):
    """The custom op against attention written head by head: query head h uses kv head h // (heads / kv_heads)."""
    g = torch.Generator().manual_seed(heads * 10 + kv_heads)
    B, N, d = 2, 7, 5
    q, k, v = (torch.randn(B, N, h * d, generator=g) for h in (heads, kv_heads, kv_heads))
    out = grouped_attention(q, k, v, heads, kv_heads).view(B, N, heads, d)
    rep = heads // kv_heads
    for h in range(heads):
        qh, kh, vh = q.view(B, N, heads, d)[:, :, h], k.view(B, N, kv_heads, d)[:, :, h // rep], \
            v.view(B, N, kv_heads, d)[:, :, h // rep]
        ref = (qh @ kh.transpose(1, 2)).softmax(-1) @ vh
        assert torch.allclose(out[:, :, h], ref, atol=1e-6)


@pytest.mark.parametrize("variant", [{}, {"num_kv_heads": 1}, {"pos": "rope"}], ids=["gqa", "mqa", "rope"])
def test_onnxruntime_runs_both_opsets_like_pytorch_in_fewer_nodes(tmp_path, variant):
    model = make_model("mmoe_vit_test", **variant)
    x = _inputs(model, 8, seed=5)
    with torch.no_grad():
        ref = model(x).numpy()
    ops = {}
    for opset in (18, 23, 26):
        path = _export(model, tmp_path / f"m{opset}.onnx", opset)
        assert np.abs(_run_ort(path, x) - ref).max() < 1e-4
        ops[opset] = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
        assert ops[opset]["ArgMax"] == 0 and ops[opset]["TopK"] == model.config.depth
    rope = "pos" in variant
    assert ops[23]["Attention"] == (0 if rope else model.config.depth)
    assert ops[18]["Attention"] == ops[26]["Attention"] == 0
    if not rope:
        assert sum(ops[23].values()) < sum(ops[18].values()) - 5 * model.config.depth


def test_onnx_topk_breaks_exact_ties_like_eval(tmp_path):
    """A zero router ties every expert: eval picks the lowest indices, and so must the exported TopK."""
    model = make_model("mmoe_vit_test")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "w_gate" in name:
                p.zero_()
    x = _inputs(model, 8, seed=7)
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(_run_ort(_export(model, tmp_path / "tied.onnx", 23), x) - ref).max() < 1e-4
