"""Every configuration a user can set exports exactly: a grid of off-registry configs x every target.

The configs are ones no registry entry has (multi-query attention, one expert stage, k = E, patch = image, RoPE,
conv stem, the linear attentions, a grey input ...), each on a `*_test`-sized skeleton. The fast part checks the
static form against eager PyTorch for the whole grid and a few configs end to end through ONNX; the slow part
exports every setting of the grid (size-only settings merged into fewer rows) to every target through the pipeline (its validation compares the artifact in its runtime
with eager PyTorch). A setting that cannot export is refused when its config is built (before training); none
of these is.

Found by this grid: litert-torch rewrote the k transpose that follows a multi-query repeat (`num_kv_heads=1`)
into a RESHAPE (max logit diff 0.15-0.55 on a trained mmoe_vit_xxs). The export form (`GroupedAttention`) no
longer repeats k/v, so no target sees that pattern.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_testlib import make_model, write_checkpoint

from edgevit.export.routing import to_static

GREY = {"in_chans": 1, "mean": (0.5,), "std": (0.5,)}
GRID = [  # (model, overrides): depth, width, heads / kv heads, expert stages, top-k, patch, attention/stem/pos
    ("mmoe_vit_test", {"num_kv_heads": 1}),
    ("mmoe_vit_test", {"num_kv_heads": 4, "depth": 1, "experts_per_stage": (3,), "top_k": 3}),
    ("mmoe_vit_test", {"depth": 5, "experts_per_stage": (2, 4, 6, 8), "top_k": 1}),
    ("mmoe_vit_test", {"patch_size": 2, "dim": 24, "num_heads": 3, "num_kv_heads": 1}),
    ("mmoe_vit_test", {"patch_size": 16, "class_token": False}),
    ("mmoe_vit_test", {"pos": "rope", "stem": "conv", "num_kv_heads": 1}),
    ("mmoe_vit_test", {"attention": "performer", "num_kv_heads": 1}),
    ("mmoe_vit_test", {"attention": "linformer", "linformer_k": 8, "num_kv_heads": 1}),
    ("mmoe_vit_test", {"attention": "nystrom", "nystrom_landmarks": 4, "nystrom_conv_kernel": 3, "num_kv_heads": 1}),
    ("mobile_vmoe_test", {"num_experts": 2, "top_k": 1, "moe_layers": 2, "router_source": "mean", "num_kv_heads": 1}),
    ("mobile_vmoe_test", {"num_experts": 3, "top_k": 3, "num_classes": 2, "pos": "rope", **GREY}),
    ("vit_test", {"mlp_kind": "swiglu", "num_kv_heads": 1, "img_size": 20, "patch_size": 5}),
]
FAST_ONNX = (0, 5, 9)  # multi-query + RoPE + conv stem + per-image top-1: end to end through ONNX in the fast suite
# Every target converts the grid with the size-only settings merged (each setting still appears on every target):
# multi-query is in every linear-attention row; one row is MHA + one block + k = E + patch = image, no class token;
# one is deep + four expert stages + top-1 + patch 2 + narrow (each conversion costs 5-65 s).
SLOW_GRID = [
    ("mmoe_vit_test", {"num_kv_heads": 4, "depth": 1, "experts_per_stage": (3,), "top_k": 3, "patch_size": 16,
                       "class_token": False}),
    ("mmoe_vit_test", {"depth": 5, "experts_per_stage": (2, 4, 6, 8), "top_k": 1, "patch_size": 2, "dim": 24,
                       "num_heads": 3, "num_kv_heads": 1}),
    *GRID[5:],
]


def _id(case: tuple[str, dict]) -> str:
    name, ov = case
    return name.replace("_test", "") + ":" + ",".join(f"{k}={v}" for k, v in ov.items() if k not in ("mean", "std"))


IDS = [_id(c) for c in GRID]


@pytest.mark.parametrize("routing", ["static", "dense"])
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_grid_static_form_equals_eval(case, routing):
    name, ov = case
    model = make_model(name, **ov)
    static = to_static(model, routing)
    c = model.config
    x = torch.randn(16, c.in_chans, c.img_size, c.img_size, generator=torch.Generator().manual_seed(3)) * 2
    with torch.no_grad():
        assert float((model(x) - static(x)).abs().max()) < 1e-5


def test_slow_grid_holds_every_setting_of_the_grid():
    """Merging rows for the slow export grid drops no setting: each (model, key=value) is in some slow row."""
    slow = {(name, k, repr(v)) for name, ov in SLOW_GRID for k, v in ov.items()}
    missing = [(name, k, v) for name, ov in GRID for k, v in ov.items() if (name, k, repr(v)) not in slow]
    assert not missing, missing
    for name, ov in SLOW_GRID:  # and every merged row is a valid config
        make_model(name, **ov)


@pytest.mark.parametrize("case", [GRID[i] for i in FAST_ONNX], ids=[IDS[i] for i in FAST_ONNX])
def test_grid_exports_exactly_to_onnx(case, tmp_path):
    """The static form through the ONNX exporter and onnxruntime, against eager PyTorch on random inputs."""
    import onnxruntime as ort

    from edgevit.export import onnx as onnx_target

    name, ov = case
    model = make_model(name, **ov)
    c = model.config
    x = torch.randn(8, c.in_chans, c.img_size, c.img_size, generator=torch.Generator().manual_seed(5)) * 2
    path = onnx_target.export(to_static(model), x[:1], tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {onnx_target.INPUT_NAME: x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(out - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())
    assert (out.argmax(1) == ref.argmax(1)).all()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["onnx", "tflite", "executorch", "coreml"])
@pytest.mark.parametrize("case", SLOW_GRID, ids=[_id(c) for c in SLOW_GRID])
def test_grid_exports_on_every_target(case, target, tmp_path):
    """Through the pipeline: validation (artifact in its runtime vs eager) must pass; Core ML is structural on Linux.

    This is every target's fp32 export test (one conversion per config x target), so it also checks what the
    published folder holds: the contract beside and inside the file, every expert's weights in the graph (not
    countable in a .pte, whose weights live in delegate blobs), the target's own structure (XNNPACK delegation,
    Core ML's readable weights)."""
    import importlib
    import json
    import platform

    from edgevit.export.pipeline import ExportRequest, export_checkpoint

    name, ov = case
    ck = write_checkpoint(tmp_path / "ckpt", name, **ov)
    (res,) = export_checkpoint(ExportRequest(checkpoint=ck, targets=target, precision="fp32", out=tmp_path / "out",
                                             eval_images=32, random_inputs=8))
    assert res.ok, res.error or res.report.failure()
    beside = json.loads((res.folder / "edgevit.json").read_text())
    assert beside["validation"]["passed"] is True and beside["target"] == target
    assert [p.name for p in res.folder.parent.iterdir() if p.name.startswith(".")] == []  # no temp left
    if name != "vit_test" and target != "executorch":  # every expert's weights are in the graph's constants
        assert res.report.experts and all(a == b for a, b in (v.split("/") for v in res.report.experts.values()))
    graph = importlib.import_module(f"edgevit.export.{target}").inspect(res.file)
    if target in ("tflite", "coreml"):  # the contract is embedded in the file as well
        assert json.loads(graph.metadata["edgevit"]) == beside
    if target == "executorch":
        assert res.report.structure["delegated_nodes"] > 0
    if target == "coreml":
        assert list(graph.input_shape) == list(res.contract.input["shape"])
        assert graph.output_name == "logits" and graph.constants  # weights readable after the metadata rewrite
    if res.report.numeric:
        assert res.report.max_abs_diff < 1e-4 and res.report.top1_agreement == 1.0
    elif target == "coreml" and platform.system() != "Darwin":  # numbers need macOS: skipped clearly, never invented
        assert res.report.max_abs_diff is None
        assert any(c.ok is None and "needs macOS" in c.detail for c in res.report.checks)
    else:
        pytest.fail(f"{target} export was not compared numerically with eager PyTorch")
