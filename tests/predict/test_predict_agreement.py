"""Predict on real image files agrees with `edgevit eval` on the same files, in every runtime available here.

Digits (the whole test split, PNG) and Fashion-MNIST (80 test images, JPEG) through trained `vit_test` models
exported by `edgevit export`: predict's labels give exactly eval's confusion matrix on `imagefolder:` the same
files, and match the checkpoint's torch argmax file by file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from predict_fixtures import eval_json, torch_reference

from edgevit.runtimes.predict import run_predict

RUNTIMES = {"onnx": "export/onnx-fp32", "tflite": "export/tflite-fp32", "torch": "best"}
_cache: dict[tuple[str, str], dict] = {}


def _report(models: Path, image_sets: dict[str, Path], data: str, runtime: str) -> dict:
    if (data, runtime) not in _cache:
        _cache[data, runtime] = run_predict([image_sets[data] / "test"], models / data / RUNTIMES[runtime],
                                            runtime, topk=3, threads=1)
    return _cache[data, runtime]


@pytest.fixture(scope="module")
def evals(models: Path, image_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("eval")
    return {d: eval_json(models / d / "best", image_sets[d], out / d) for d in image_sets}


def _confusion(report: dict, n: int) -> np.ndarray:
    cm = np.zeros((n, n), dtype=int)
    for f in report["files"]:
        cm[int(Path(f["path"]).parent.name), f["top"][0]["index"]] += 1
    return cm


@pytest.mark.parametrize("runtime", list(RUNTIMES))
@pytest.mark.parametrize("data", ["digits", "fashion-mnist"])
def test_labels_agree_with_eval(models: Path, image_sets: dict[str, Path], evals: dict[str, dict], data: str,
                                runtime: str) -> None:
    report = _report(models, image_sets, data, runtime)
    ev = evals[data]
    assert report["summary"]["failed"] == 0 and report["summary"]["ok"] == ev["count"]
    assert report["runtime"]["name"] == runtime
    assert np.array_equal(_confusion(report, len(ev["labels"])), np.asarray(ev["confusion"]))
    acc = np.trace(np.asarray(ev["confusion"])) / ev["count"]
    assert acc == pytest.approx(ev["accuracy"]) and acc > (0.7 if data == "digits" else 0.4)  # a trained model


@pytest.mark.parametrize("runtime", list(RUNTIMES))
@pytest.mark.parametrize("data", ["digits", "fashion-mnist"])
def test_labels_match_torch_file_by_file(models: Path, image_sets: dict[str, Path], data: str,
                                         runtime: str) -> None:
    report = _report(models, image_sets, data, runtime)
    files = [Path(f["path"]) for f in report["files"]]
    ref = torch_reference(models / data / "best", files)
    got = np.array([f["top"][0]["index"] for f in report["files"]])
    assert (got == ref).all(), f"{(got != ref).sum()} of {len(ref)} files differ"
    labels = [f["top"][0]["label"] for f in report["files"]]
    names = (models / data / "best" / "labels.json").read_text()
    assert all(lab in names for lab in labels)


def test_report_content(models: Path, image_sets: dict[str, Path]) -> None:
    report = _report(models, image_sets, "fashion-mnist", "onnx")
    f = report["files"][0]
    assert f["ok"] and len(f["top"]) == 3 and f["size"] == [28, 28] and f["channels"] == 1
    probs = [t["prob"] for t in f["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert f["top"][0]["label"] in ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                    "Sneaker", "Bag", "Ankle boot")
    assert f["latency_ms"] > 0 and f["preprocess_ms"] >= 0
    lat = report["summary"]["latency_ms"]
    assert lat["min"] <= lat["p50"] <= lat["max"] and report["load_ms"] > 0
    assert report["model"] == "vit_test" and report["input"] == {"shape": [1, 3, 16, 16], "layout": "NCHW"}


@pytest.mark.slow
def test_executorch_agrees(models: Path, image_sets: dict[str, Path], evals: dict[str, dict],
                           tmp_path: Path) -> None:
    """ExecuTorch through `edgevit export --target executorch` (slow: the XNNPACK lowering takes a while)."""
    pytest.importorskip("executorch")
    from predict_fixtures import cli

    cli("export", "--checkpoint", str(models / "digits" / "best"), "--target", "executorch",
        "--out", str(tmp_path))
    report = run_predict([image_sets["digits"] / "test"], tmp_path / "executorch-fp32", None, topk=1)
    assert report["runtime"]["name"] == "executorch" and report["summary"]["failed"] == 0
    assert np.array_equal(_confusion(report, 10), np.asarray(evals["digits"]["confusion"]))
