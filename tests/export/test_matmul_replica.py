"""`benchmarks/matmul_replica.py`: the model's matrix products alone, which `targets.py` times beside the model to
bound what int8 kernels can do for it."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from matmul_replica import ATTENTION, PRODUCTS, ReplicaRun, _captured, int8_replica, replica  # noqa: E402


def test_replica_is_every_product_on_its_real_input(onnx_exports, tmp_path):
    import onnx
    from onnx import numpy_helper

    res = onnx_exports["mmoe_vit_test"]
    x = np.random.default_rng(0).standard_normal([1, *res.contract.input["shape"][1:]]).astype(np.float32)
    fp32, feeds = replica(res.file, x, tmp_path)

    model = onnx.load(str(res.file)).graph
    consts = {i.name: numpy_helper.to_array(i) for i in model.initializer}
    want = Counter(n.op_type for n in model.node if n.op_type in PRODUCTS and n.input[1] in consts)
    rep = onnx.load(str(fp32)).graph
    assert Counter(n.op_type for n in rep.node if n.op_type in PRODUCTS) == want and want["MatMul"] >= 4
    assert np.array_equal(feeds["in0_0"], x)  # the patch embedding reads the image itself

    runner = ReplicaRun(fp32, feeds)
    runner.run()
    got = {o.name: v.numpy() for o, v in zip(runner.session.get_outputs(), runner._outputs, strict=True)}
    produced = {n.output[0]: n for n in rep.node}
    checked = 0
    for out, value in got.items():
        node = produced[out]
        bias = 0.0
        if node.op_type == "Add":  # MatMul followed by the model's own bias add
            bias = consts[node.input[1]]
            node = produced[node.input[0]]
        if node.op_type == "MatMul":
            np.testing.assert_allclose(value, feeds[node.input[0]] @ consts[node.input[1]] + bias, rtol=1e-4,
                                       atol=1e-4)
            checked += 1
    assert checked == want["MatMul"]

    int8 = int8_replica(fp32)
    q = Counter(n.op_type for n in onnx.load(str(int8)).graph.node)
    assert "MatMul" not in q and q["DynamicQuantizeLinear"] + q["DynamicQuantizeMatMul"] >= want["MatMul"], q
    runner8 = ReplicaRun(int8, feeds)
    runner8.run()
    for a, b in zip(runner._outputs, runner8._outputs, strict=True):
        ref = a.numpy()
        assert np.abs(b.numpy() - ref).max() < 0.1 * max(1.0, np.abs(ref).max())


def test_floor_replica_adds_each_attention_on_its_captured_q_k_v(onnx_exports, tmp_path):
    """The floor graph holds the products and every Attention node, fed what the model feeds them: its
    attention outputs equal the model's own (captured by running the model)."""
    import onnx

    res = onnx_exports["mmoe_vit_test"]
    x = np.random.default_rng(1).standard_normal([2, *res.contract.input["shape"][1:]]).astype(np.float32)
    model = onnx.load(str(res.file)).graph
    attention = [n for n in model.node if n.op_type in ATTENTION]
    assert attention, "the ONNX form exports ONNX Attention at the default opset"
    path, feeds = replica(res.file, x, tmp_path, PRODUCTS + ATTENTION, name="floor-fp32")
    rep = onnx.load(str(path)).graph
    ops = Counter(n.op_type for n in rep.node)
    assert ops["Attention"] == len(attention) and ops["MatMul"] >= 4
    runner = ReplicaRun(path, feeds)
    runner.run()
    outs = {o.name: v.numpy() for o, v in zip(runner.session.get_outputs(), runner._outputs, strict=True)}
    want = _captured(onnx.load(str(res.file)), x, [n.output[0] for n in attention])
    got = [outs[n.output[0]] for n in rep.node if n.op_type == "Attention"]
    for g, n in zip(got, attention, strict=True):
        np.testing.assert_allclose(g, want[n.output[0]], rtol=1e-5, atol=1e-5)
