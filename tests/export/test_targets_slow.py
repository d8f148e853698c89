"""Every target's export through the pipeline (slow: each conversion takes 5-40 s on this machine).

The fp32 export of every target is tested per configuration in `test_config_grid.py` (one conversion per
config x target, with the checks on the published folder); this file covers the other precisions, layouts,
quantization schemes, routings and options."""

from __future__ import annotations

import json

import pytest
import torch

from edgevit.export.pipeline import ExportRequest, export_checkpoint

pytestmark = pytest.mark.slow


def export_one(ck, out, target, **kw):
    kw.setdefault("eval_images", 48)
    kw.setdefault("random_inputs", 8)
    (res,) = export_checkpoint(ExportRequest(checkpoint=ck, targets=target, out=out, **kw))
    return res


def check_common(res):
    assert res.ok, res.error or res.report.failure()
    beside = json.loads((res.folder / "edgevit.json").read_text())
    assert beside["validation"]["passed"] is True and beside["target"] == res.plan.fmt.name
    assert [p.name for p in res.folder.parent.iterdir() if p.name.startswith(".")] == []


def test_tflite_nhwc(checkpoint_factory, tmp_path):
    res = export_one(checkpoint_factory("mobile_vmoe_test"), tmp_path, "tflite", layout="NHWC")
    check_common(res)
    rerun_published(res)
    assert res.folder.name == "tflite-fp32-nhwc" and res.contract.input["shape"] == [1, 16, 16, 3]
    assert res.contract.layout == "NHWC" and res.report.max_abs_diff < 1e-4


@pytest.mark.parametrize("target, precision, quant", [
    ("onnx", "fp16", None), ("onnx", "int8", "dynamic"), ("tflite", "fp16", None), ("tflite", "int8", "dynamic"),
    ("tflite", "int8", "weight"), ("executorch", "int8", "dynamic"), ("coreml", "fp16", None),
    ("coreml", "int8", "linear"), ("coreml", "int8", "palettize"),
])
def test_reduced_precision(checkpoint_factory, tmp_path, target, precision, quant):
    # random-init logits sit close together, so int8 is only asked to agree on most images here
    res = export_one(checkpoint_factory("mobile_vmoe_test"), tmp_path, target, precision=precision, quant=quant,
                     min_agreement=0.75 if precision == "int8" else None)
    check_common(res)
    assert res.contract.precision == precision
    if res.report.numeric:
        assert res.report.max_abs_diff < (2e-2 if precision == "fp16" else 0.25)
        rerun_published(res)
    if precision == "int8" and target in ("tflite", "executorch"):  # the gathered expert stacks are int8 too
        from edgevit import create_model
        from edgevit.models.layers.moe import PerImageExperts

        moes = [m for m in create_model("mobile_vmoe_test").modules() if isinstance(m, PerImageExperts)]
        assert int8_expert_stacks(res.folder / res.plan.fmt.file, target, moes[0].num_experts) == 2 * len(moes)


def int8_expert_stacks(path, target, num_experts):
    """How many (E, in, out) int8 tensors the file keeps outside the delegate: the gathered expert stacks."""
    if target == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        details = Interpreter(model_path=str(path)).get_tensor_details()
        return sum(1 for t in details if t["dtype"].__name__ == "int8" and len(t["shape"]) == 3
                   and t["shape"][0] == num_experts)
    from executorch.exir._serialize._program import deserialize_pte_binary

    plan = deserialize_pte_binary(path.read_bytes()).program.execution_plan[0]
    tensors = [v.val for v in plan.values if type(v.val).__name__ == "Tensor"]
    int8 = 1  # ExecuTorch's ScalarType.Char
    return sum(1 for t in tensors if t.scalar_type == int8 and len(t.sizes) == 3 and t.sizes[0] == num_experts
               and t.data_buffer_idx)


def rerun_published(res):
    """Run the published file (after the contract was embedded) independently of the pipeline."""
    from edgevit.checkpoint import load_checkpoint
    from edgevit.runtimes.base import open_harness
    from edgevit.runtimes.evalset import shipped_digits

    model, info = load_checkpoint(res.contract.source["checkpoint"])
    images = shipped_digits().images[:16]
    h = open_harness(res.folder, runtime=res.plan.fmt.runtime)
    got = h.predict(images)
    with torch.no_grad():
        want = model(torch.from_numpy(h.preprocess(images) if res.contract.layout == "NCHW" else
                                      h.preprocess(images).transpose(0, 3, 1, 2).copy())).numpy()
    h.close()
    assert abs(got - want).max() < 0.25, abs(got - want).max()


@pytest.mark.parametrize("target", ["onnx", "tflite", "executorch"])
def test_int8_static_calibrates_on_real_images(checkpoint_factory, tmp_path, target):
    res = export_one(checkpoint_factory("mobile_vmoe_test"), tmp_path, target, precision="int8", quant="static",
                     calib_images=16, min_agreement=0.0)
    check_common(res)
    assert res.folder.name == f"{target}-int8-static" and res.contract.extra["quantization"] == "static"
    assert res.report.top1_agreement is not None
    if target == "tflite":
        # int8 compute only where XNNPACK runs it (TFLite's own int8 kernels are slow); the gathers of the
        # expert stacks are int8 and outside XNNPACK, as their float form is
        from edgevit.export.tflite import inspect, xnnpack_partitions

        assert inspect(res.folder / "model.tflite").ops["FULLY_CONNECTED"] > 0
        delegation = xnnpack_partitions(res.folder / "model.tflite")
        assert delegation["partitions"] >= 1
        assert delegation["undelegated_int8"] and set(delegation["undelegated_int8"]) <= {"GATHER", "GATHER_ND"}, \
            delegation


def test_dense_routing_and_several_targets(checkpoint_factory, tmp_path):
    results = export_checkpoint(ExportRequest(checkpoint_factory("mobile_vmoe_test"), "onnx,tflite", routing="dense",
                                              out=tmp_path, eval_images=32, random_inputs=4))
    assert [r.folder.name for r in results] == ["onnx-fp32-dense", "tflite-fp32-dense"]
    for r in results:
        check_common(r)
        assert r.contract.routing == "dense"


def test_tflite_rejection_names_op_and_module(tmp_path):
    from edgevit.export import tflite
    from edgevit.export.common import converter_error

    class Sparse(torch.nn.Module):
        def forward(self, x):
            return x.flatten()[torch.nonzero(x.flatten() > 0).squeeze(1)].sum().reshape(1)

    net = torch.nn.Sequential(torch.nn.Identity(), Sparse())
    x = torch.randn(1, 4)
    with pytest.raises(Exception) as e:
        tflite.export(net, x, tmp_path / "m.tflite")
    msg = str(converter_error("tflite", e.value, net, x))
    assert "nonzero" in msg and "module 1 (Sparse)" in msg, msg


def test_app_bundle_android(checkpoint_factory, tmp_path):
    results = export_checkpoint(ExportRequest(checkpoint_factory("mobile_vmoe_test"), "tflite", out=tmp_path / "x",
                                              eval_images=16, random_inputs=2, app="android",
                                              app_out=tmp_path / "bundle"))
    assert results[0].ok
    assert (tmp_path / "bundle" / "model.tflite").is_file() and (tmp_path / "bundle" / "labels.txt").is_file()


def test_coreml_image_input_classifier(checkpoint_factory, tmp_path):
    res = export_one(checkpoint_factory("mobile_vmoe_test"), tmp_path, "coreml", options={"image_input": True})
    check_common(res)
    assert res.folder.name == "coreml-fp16-image"
    assert res.contract.input["dtype"] == "image" and res.contract.input["name"] == "image"
    assert res.contract.output["label_output"] == "classLabel" and res.contract.output["dictionary"] is True
    assert res.report.structure["classifier"] is True
