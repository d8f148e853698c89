"""ONNX fp32 through the whole pipeline (fast suite): validated artifact, contract, experts in the graph."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from export_testlib import make_model
from torch import nn

from edgevit.checkpoint import checkpoint_sha256, load_checkpoint
from edgevit.export import onnx as onnx_target
from edgevit.export.routing import GatherImageExperts, expert_tensors, to_static
from edgevit.export.validate import count_experts
from edgevit.runtimes.contract import load_contract

NAMES = ("mmoe_vit_test", "mobile_vmoe_test")


@pytest.mark.parametrize("name", NAMES)
def test_onnx_fp32_validates_and_publishes(onnx_exports, checkpoint_factory, name):
    res = onnx_exports[name]
    ck = checkpoint_factory(name)
    assert res.ok, res.error or res.report.failure()
    assert res.folder == ck / "export" / "onnx-fp32"
    assert sorted(p.name for p in res.folder.iterdir()) == ["edgevit.json", "model.onnx"]
    assert not [p for p in res.folder.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    rep = res.report
    assert rep.numeric and rep.max_abs_diff < 1e-4 and rep.top1_agreement == 1.0
    assert rep.n_real == 48 and rep.n_random == 8
    assert all(c.ok is not False for c in rep.checks)


@pytest.mark.parametrize("name", NAMES)
def test_contract_is_complete_and_embedded(onnx_exports, checkpoint_factory, name):
    res = onnx_exports[name]
    ck = checkpoint_factory(name)
    c = load_contract(res.folder)
    assert c.model["name"] == name and c.model["config"]["name"] == name
    assert c.labels == [f"class{i}" for i in range(10)]
    assert c.input["name"] == "input" and c.input["shape"] == [1, 3, 16, 16] and c.layout == "NCHW"
    assert c.input["dtype"] == "float32" and c.input["dynamic_batch"] is True
    assert c.output["name"] == "logits" and c.output["shape"] == [1, 10]
    assert (c.target, c.file, c.precision, c.routing) == ("onnx", "model.onnx", "fp32", "static")
    assert c.source["sha256"] == checkpoint_sha256(ck)
    assert c.eval_set == "digits" and c.edgevit_version
    assert c.validation["passed"] is True and c.validation["max_abs_diff"] < 1e-4
    embedded = onnx_target.contract_from_file(res.file)
    assert embedded == json.loads((res.folder / "edgevit.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_every_expert_is_in_the_onnx_graph(onnx_exports, checkpoint_factory, name):
    model, _ = load_checkpoint(checkpoint_factory(name))
    experts = expert_tensors(model)
    counts = count_experts(onnx_target.inspect(onnx_exports[name].file).constants, experts)
    assert counts and all(have == total for have, total in counts.values()), counts
    assert sum(total for _, total in counts.values()) == {"mmoe_vit_test": 9, "mobile_vmoe_test": 4}[name]
    assert onnx_exports[name].report.experts == {k: f"{b}/{b}" for k, (_, b) in counts.items()}


class OneExpert(nn.Module):
    """What a tracer that specialised on the routing it saw would keep: only the expert the probe images used."""

    def __init__(self, experts: GatherImageExperts, e: int) -> None:
        super().__init__()
        self.w1, self.b1 = nn.Parameter(experts.w1[e].clone()), nn.Parameter(experts.b1[e].clone())
        self.w2, self.b2 = nn.Parameter(experts.w2[e].clone()), nn.Parameter(experts.b2[e].clone())

    def forward(self, x, idx, gates):
        y = torch.nn.functional.gelu(x @ self.w1 + self.b1) @ self.w2 + self.b2
        return gates[:, :1, None] * y


def test_counter_catches_a_graph_that_dropped_experts(tmp_path):
    model = make_model("mobile_vmoe_test")
    static = to_static(model)
    static.blocks[-1].ffn = OneExpert(static.blocks[-1].ffn, 1)
    path = onnx_target.export(static, torch.randn(1, 3, 16, 16), tmp_path / "m.onnx")
    counts = count_experts(onnx_target.inspect(path).constants, expert_tensors(model))
    assert list(counts.values()) == [(1, 4)]


def test_pipeline_rejects_an_export_that_dropped_experts(checkpoint_factory, tmp_path, monkeypatch):
    """The eval images all route to one expert, so numbers alone would pass: the count must fail it."""
    import edgevit.export.routing as routing
    from edgevit.export.pipeline import ExportRequest, export_checkpoint

    real_to_static = routing.to_static

    def dropping(model, mode="static"):
        s = real_to_static(model, mode)
        s.blocks[-1].ffn = OneExpert(s.blocks[-1].ffn, 1)
        return s

    monkeypatch.setattr(routing, "to_static", dropping)
    (res,) = export_checkpoint(ExportRequest(checkpoint_factory("mobile_vmoe_test"), "onnx", out=tmp_path,
                                             eval_images=16, random_inputs=0))
    assert not res.ok and not res.published
    assert "experts in graph" in res.report.failure() and "1/4" in res.report.failure()
    assert list(tmp_path.iterdir()) == []


def test_onnx_batch_is_dynamic(onnx_exports):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_exports["mobile_vmoe_test"].file))
    x = np.random.default_rng(0).standard_normal((5, 3, 16, 16)).astype(np.float32)
    assert sess.run(None, {"input": x})[0].shape == (5, 10)


def test_structure_check_flags_sort_ops_and_bad_shapes():
    from collections import Counter
    from types import SimpleNamespace

    from edgevit.export.common import GraphInfo
    from edgevit.export.validate import ValidationReport, check_structure

    contract = SimpleNamespace(input={"shape": [1, 3, 16, 16]}, layout="NCHW", labels=list("0123456789"),
                               precision="fp32")
    good = GraphInfo("x", [1, 3, 16, 16], "float32", "y", [1, 10], ops=Counter({"FULLY_CONNECTED": 3}))
    rep = ValidationReport("tflite", "fp32")
    check_structure(rep, "tflite", contract, good, None)
    assert rep.passed
    bad = GraphInfo("x", [1, 3, 32, 32], "float32", "y", [1, 7], ops=Counter({"STABLEHLO_SORT": 1}))
    rep = ValidationReport("tflite", "fp32")
    check_structure(rep, "tflite", contract, bad, None)
    assert not rep.passed and {c.name for c in rep.checks if c.ok is False} == {"input", "output", "builtin ops only"}


def test_executorch_delegation_check_names_portable_ops_without_cutting_them():
    from collections import Counter
    from types import SimpleNamespace

    from edgevit.export.common import GraphInfo
    from edgevit.export.validate import PORTABLE_OPS_LISTED, ValidationReport, check_structure

    contract = SimpleNamespace(input={"shape": [1, 3, 16, 16]}, layout="NCHW", labels=list("01"), precision="fp32")
    portable = {f"aten::op_with_a_long_name_{i}": 10 + i for i in range(PORTABLE_OPS_LISTED + 2)}
    graph = GraphInfo("x", [1, 3, 16, 16], "float32", "y", [1, 2],
                      ops=Counter({"delegate:XnnpackBackend": 3, **portable}),
                      extra={"delegated_nodes": 3, "non_delegated_nodes": sum(portable.values())})
    rep = ValidationReport("executorch", "fp32")
    check_structure(rep, "executorch", contract, graph, None)
    (check,) = [c for c in rep.checks if c.name == "delegated to XNNPACK"]
    assert check.ok is True and check.detail.startswith(f"3 delegate calls, {sum(portable.values())} portable")
    shown = [f"op_with_a_long_name_{i} x{10 + i}" for i in range(PORTABLE_OPS_LISTED + 2)]
    assert check.detail.endswith("and 2 more op types)")
    for i in range(PORTABLE_OPS_LISTED + 2):  # the most frequent ones are named whole, the rest only counted
        assert (shown[i] in check.detail) == (i >= 2), i


@pytest.mark.parametrize("opts", [dict(attention="performer"), dict(attention="linformer"),
                                  dict(attention="nystrom", nystrom_landmarks=8), dict(stem="conv", pos="rope")])
def test_vision_xformer_options_export_to_onnx(tmp_path, opts):
    """Every Vision-Xformer option exports and validates (the Nystrom pseudo-inverse once used an ONNX-less op)."""
    from export_testlib import write_checkpoint

    from edgevit.export.pipeline import ExportRequest, export_checkpoint

    ck = write_checkpoint(tmp_path / "ckpt", "vit_test", **opts)
    (res,) = export_checkpoint(ExportRequest(checkpoint=ck, targets="onnx", eval_images=16, random_inputs=4))
    assert res.ok, res.error or res.report.failure()
    assert res.report.max_abs_diff < 1e-4
