"""The harness interface and each runtime's harness, on real artifacts (tiny CNN trained on digits)."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from digits_checkpoint import MODEL

from edgevit.errors import ContractError, MissingDependencyError, RuntimeHarnessError
from edgevit.runtimes.base import (
    Harness,
    UnsupportedPlatformError,
    expand_artifacts,
    get_harness,
    open_harness,
    resolve_artifact,
    runtime_for_path,
)
from edgevit.runtimes.evalset import shipped_digits


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_runtime_for_path_and_registry(artifacts: Path) -> None:
    assert runtime_for_path(artifacts / "onnx") == "onnx"
    assert runtime_for_path(artifacts / "onnx" / "model.onnx") == "onnx"
    assert runtime_for_path(artifacts / "tflite" / "edgevit.json") == "tflite"
    assert runtime_for_path(artifacts / "ckpt") == "torch"
    assert runtime_for_path("x.pte") == "executorch" and runtime_for_path("m.mlpackage") == "coreml"
    assert {p.name for p in expand_artifacts(artifacts)} == {"ckpt", "onnx", "tflite"}
    with pytest.raises(RuntimeHarnessError, match="unknown runtime 'tensorrt'"):
        get_harness("tensorrt")
    c, model = resolve_artifact(artifacts / "tflite")
    assert model == artifacts / "tflite" / "model.tflite" and c.num_classes == 10


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_harness_matches_torch_reference(artifacts: Path, runtime: str) -> None:
    ref = np.load(artifacts / "reference_logits.npy")
    digits = shipped_digits()
    with open_harness(artifacts / runtime, threads=1) as h:
        assert isinstance(h, Harness) and h.name == runtime
        logits = h.predict(digits.images)
        assert logits.shape == (360, 10) and logits.dtype == np.float32
        np.testing.assert_allclose(logits, ref, atol=1e-4)
        assert (logits.argmax(1) == digits.labels).mean() > 0.9
        # odd batch sizes: dynamic (onnx) or looped over the static batch of 1 (tflite), same answers
        x = h.preprocess(digits.images[:7])
        np.testing.assert_allclose(h.run(x), ref[:7], atol=1e-4)
        assert h.fixed_batch == (None if runtime == "onnx" else 1)
        info = h.info()
        assert info.name == runtime and info.version and info.threads == 1 and info.provider
        assert info.extra["package"] == {"onnx": "onnxruntime", "tflite": "ai-edge-litert"}[runtime]
        assert h.load_time_ms is not None and h.load_time_ms > 0


def test_preprocess_is_the_contract(artifacts: Path) -> None:
    h = open_harness(artifacts / "onnx", load=False)
    x = h.preprocess(np.full((2, 8, 8), 255, np.uint8))
    assert x.shape == (2, 3, 16, 16) and np.allclose(x, 1.0)  # (1 - 0.5) / 0.5


def test_input_shape_mismatch_is_a_contract_error(artifacts: Path, tmp_path: Path) -> None:
    for runtime in ("onnx", "tflite"):
        d = _copy(artifacts / runtime, tmp_path / runtime)
        c = json.loads((d / "edgevit.json").read_text())
        c["input"]["shape"] = [1, 3, 24, 24]
        c["preprocess"]["size"] = [24, 24]
        (d / "edgevit.json").write_text(json.dumps(c))
        with pytest.raises(ContractError, match=r"does not match the contract"):
            open_harness(d)


def test_output_classes_mismatch_is_a_contract_error(artifacts: Path, tmp_path: Path) -> None:
    d = _copy(artifacts / "onnx", tmp_path / "onnx")
    c = json.loads((d / "edgevit.json").read_text())
    c["labels"] = c["labels"][:5]
    c["output"]["shape"] = [1, 5]  # a consistent contract (else it fails on load), for a model of 10 outputs
    (d / "edgevit.json").write_text(json.dumps(c))
    with open_harness(d) as h, pytest.raises(ContractError, match="5 classes"):
        h.predict(shipped_digits().images[:2])


def test_missing_contract_and_missing_model(artifacts: Path, tmp_path: Path) -> None:
    (tmp_path / "lonely").mkdir()
    shutil.copy(artifacts / "onnx" / "model.onnx", tmp_path / "lonely" / "model.onnx")
    with pytest.raises(ContractError, match="no edgevit.json"):
        open_harness(tmp_path / "lonely" / "model.onnx")
    d = _copy(artifacts / "onnx", tmp_path / "gone")
    (d / "model.onnx").unlink()
    with pytest.raises(RuntimeHarnessError, match="does not exist"):
        open_harness(d, runtime="onnx")


def test_truncated_onnx_is_a_clear_error(artifacts: Path, tmp_path: Path) -> None:
    d = _copy(artifacts / "onnx", tmp_path / "onnx")
    data = (d / "model.onnx").read_bytes()
    (d / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeHarnessError, match=r"onnxruntime cannot load .*model\.onnx"):
        open_harness(d)


def test_onnx_opset_newer_than_the_runtime_says_what_to_do(artifacts: Path, tmp_path: Path) -> None:
    import onnx

    d = _copy(artifacts / "onnx", tmp_path / "onnx")
    proto = onnx.load(str(d / "model.onnx"))
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 99  # an opset no onnxruntime knows, as opset 23 is for onnxruntime < 1.23
    onnx.save(proto, str(d / "model.onnx"))
    with pytest.raises(RuntimeHarnessError, match=r"may be older than this file's opset.*onnxruntime >= 1\.23\.1.*lower --opset"):
        open_harness(d)


def test_missing_runtime_names_the_extra(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"edgevit\[pi\]"):
        open_harness(artifacts / "onnx")
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    with pytest.raises(MissingDependencyError, match=r"ai-edge-litert.*edgevit\[pi\]"):
        open_harness(artifacts / "tflite")


def test_tflite_options(artifacts: Path) -> None:
    ref = np.load(artifacts / "reference_logits.npy")[:4]
    with open_harness(artifacts / "tflite", options={"delegate": "none", "interpreter": "litert"}) as h:
        assert h.info().provider == "builtin" and h.info().extra["package"] == "ai-edge-litert"
        np.testing.assert_allclose(h.predict(shipped_digits().images[:4]), ref, atol=1e-4)
    with pytest.raises(RuntimeHarnessError, match="delegate must be"):
        open_harness(artifacts / "tflite", options={"delegate": "gpu"})


def test_onnx_options(artifacts: Path) -> None:
    with open_harness(artifacts / "onnx", options={"graph_optimization_level": "disable"}) as h:
        assert h.info().provider == "CPUExecutionProvider"
    with pytest.raises(RuntimeHarnessError, match="provider"):
        open_harness(artifacts / "onnx", options={"provider": "TensorrtExecutionProvider"})


@pytest.mark.skipif(platform.system() == "Darwin", reason="checks the non-macOS refusal")
def test_coreml_needs_macos_clearly(artifacts: Path, tmp_path: Path) -> None:
    from edgevit_bench_fixtures import contract

    from edgevit.runtimes.bench import BenchConfig, bench_artifact

    d = tmp_path / "coreml"
    (d / "model.mlpackage").mkdir(parents=True)
    (d / "model.mlpackage" / "Manifest.json").write_text("{}")
    contract("coreml", "model.mlpackage").save(d)
    assert runtime_for_path(d) == "coreml"
    with pytest.raises(UnsupportedPlatformError, match="needs macOS"):
        open_harness(d)
    r, logits = bench_artifact(d, "coreml", cfg=BenchConfig(runs=2, warmup=1))
    assert r["status"] == "unsupported" and "needs macOS" in r["error"] and logits is None
    assert r["latency_ms"]["p50"] is None and r["accuracy"] is None  # nothing faked
    assert r["size_bytes"] > 0 and r["model"] == MODEL


def test_torch_harness_with_a_real_checkpoint(artifacts: Path) -> None:
    ref = np.load(artifacts / "reference_logits.npy")
    with open_harness(artifacts / "ckpt", threads=1) as h:
        assert h.name == "torch" and h.contract.model["name"] == MODEL
        assert h.contract.input_shape == (1, 3, 16, 16) and h.contract.layout == "NCHW"
        np.testing.assert_allclose(h.predict(shipped_digits().images), ref, atol=1e-5)
        assert h.info().provider == "eager" and h.info().version.startswith("2.")
        assert h.size_bytes() > 0 and h.load_time_ms > 0
    # an exported artifact names its checkpoint: --runtime torch on it runs that checkpoint
    with open_harness(artifacts / "onnx", runtime="torch") as h:
        np.testing.assert_allclose(h.predict(shipped_digits().images[:3]), ref[:3], atol=1e-5)
    with pytest.raises(RuntimeHarnessError, match="needs a checkpoint folder"):
        open_harness(artifacts / "tflite", runtime="torch")


@pytest.mark.slow
def test_executorch_harness(pte_artifact: Path, artifacts: Path) -> None:
    ref = np.load(artifacts / "reference_logits.npy")
    with open_harness(pte_artifact, threads=1) as h:
        assert h.name == "executorch" and h.fixed_batch == 1
        np.testing.assert_allclose(h.predict(shipped_digits().images), ref, atol=1e-4)
        assert h.info().version == "1.5.1" and h.info().provider == "xnnpack"


@pytest.mark.slow
def test_executorch_corrupt_file(pte_artifact: Path, tmp_path: Path) -> None:
    from edgevit.runtimes.isolate import bench_in_subprocess
    from edgevit.runtimes.job import BenchJob

    d = _copy(pte_artifact, tmp_path / "pte")
    (d / "model.pte").write_bytes(b"\x00garbage" * 100)
    r = bench_in_subprocess(BenchJob(str(d), "executorch"))
    assert r["status"] == "error" and "model.pte" in r["error"]


@pytest.mark.slow
@pytest.mark.skipif(platform.system() == "Darwin", reason="on macOS the real prediction runs instead")
def test_real_coreml_package_still_needs_macos(coreml_artifact: Path) -> None:
    import coremltools as ct

    spec = ct.models.MLModel(str(coreml_artifact / "model.mlpackage"), skip_model_load=True).get_spec()
    assert len(spec.description.input) == 1  # the conversion is real; only prediction needs a Mac
    with pytest.raises(UnsupportedPlatformError, match="needs macOS"):
        open_harness(coreml_artifact)
