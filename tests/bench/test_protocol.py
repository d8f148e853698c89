"""The bench protocol, statistics and result schema (in-process, on the real ONNX / TFLite artifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from digits_checkpoint import MODEL

from edgevit.errors import ContractError
from edgevit.runtimes.base import open_harness
from edgevit.runtimes.bench import (
    LATENCY_KEYS,
    SCHEMA,
    BenchConfig,
    accuracy_metrics,
    bench_artifact,
    bench_harness,
    latency_stats,
    new_result,
    result_filename,
    write_result,
)
from edgevit.runtimes.evalset import EvalSet, load_eval_set, shipped_digits

SCHEMA_KEYS = {"schema", "status", "error", "model", "artifact", "format", "runtime", "precision", "routing",
               "batch", "latency_ms", "throughput_ips", "load_time_ms", "peak_rss_mb", "size_bytes", "accuracy",
               "eval_set", "top1_agreement", "max_abs_diff", "reference", "validation", "machine", "device",
               "source", "timestamp", "edgevit_version", "notes"}


def test_latency_stats_known_values() -> None:
    s = latency_stats(list(range(1, 101)))  # 1..100 ms
    assert s["runs"] == 100 and s["min"] == 1 and s["max"] == 100
    assert s["p50"] == pytest.approx(50.5) and s["p90"] == pytest.approx(90.1) and s["p99"] == pytest.approx(99.01)
    assert s["mean"] == pytest.approx(50.5) and s["trimmed_mean"] == pytest.approx(50.5)
    s = latency_stats([1.0] * 9 + [1000.0])  # one outlier: the trimmed mean ignores it
    assert s["trimmed_mean"] == pytest.approx(1.0) and s["mean"] > 100 and s["p50"] == 1.0
    assert set(latency_stats([2.0])) == set(LATENCY_KEYS) and latency_stats([2.0])["std"] == 0.0
    assert latency_stats([])["runs"] == 0


def test_accuracy_and_agreement() -> None:
    logits = np.eye(4, dtype=np.float32)
    m = accuracy_metrics(logits, np.array([0, 1, 2, 0]), reference=logits * 2)
    assert m["accuracy"] == 0.75 and m["top1_agreement"] == 1.0 and m["max_abs_diff"] == 1.0
    assert accuracy_metrics(logits, np.array([0, 1, 2, 9]), num_classes=4)["accuracy"] is None
    with pytest.raises(ContractError, match="reference logits"):
        accuracy_metrics(logits, None, reference=np.zeros((3, 4)))


def test_eval_sets(tmp_path: Path) -> None:
    d = shipped_digits()
    assert len(d) == 360 and d.images.shape == (360, 8, 8) and d.images.dtype == np.uint8 and d.name == "digits"
    small = load_eval_set("digits", limit=10)
    assert len(small) == 10
    p = small.save(tmp_path / "ten.npz")
    back = load_eval_set(str(p))
    assert back.name == "digits[:10]" and np.array_equal(back.images, small.images)
    assert len(load_eval_set(f"npz:{p}", limit=3)) == 3


def test_bench_harness_protocol(artifacts: Path) -> None:
    ref = np.load(artifacts / "reference_logits.npy")
    h = open_harness(artifacts / "onnx", threads=1, load=False)
    cfg = BenchConfig(warmup=2, runs=15, batch=2, large_batch=16, large_runs=2)
    r, logits = bench_harness(h, shipped_digits(), cfg, reference=ref, result=new_result(batch=2))
    assert r["status"] == "ok" and logits.shape == (360, 10)
    assert r["latency_ms"]["runs"] == 15 and r["latency_ms"]["p50"] > 0
    assert r["latency_ms"]["min"] <= r["latency_ms"]["p50"] <= r["latency_ms"]["p90"] <= r["latency_ms"]["max"]
    assert set(r["throughput_ips"]) == {"2", "16"} and all(v > 0 for v in r["throughput_ips"].values())
    assert r["top1_agreement"] == 1.0 and r["max_abs_diff"] < 1e-4 and r["accuracy"] > 0.9
    assert r["load_time_ms"] > 0 and r["peak_rss_mb"] > 10 and r["eval_set"] == {"name": "digits", "n": 360}


def test_time_budget(artifacts: Path) -> None:
    h = open_harness(artifacts / "onnx", threads=1, load=False)
    cfg = BenchConfig(warmup=1, runs=1, time_budget_s=0.05, large_batch=0, eval_limit=20)
    r, _ = bench_harness(h, load_eval_set("digits", 20), cfg)
    assert r["latency_ms"]["runs"] >= 3 and list(r["throughput_ips"]) == ["1"]


def test_reference_from_another_model_is_a_note_not_a_failure(artifacts: Path) -> None:
    r, _ = bench_artifact(artifacts / "onnx", "onnx", cfg=BenchConfig(runs=3, warmup=1, large_batch=0),
                          reference=np.zeros((360, 7), np.float32), reference_name="torch")
    assert r["status"] == "ok" and r["top1_agreement"] is None and "no top-1 agreement" in r["notes"][0]


def test_labels_outside_the_model_classes(artifacts: Path) -> None:
    h = open_harness(artifacts / "onnx", load=False)
    ev = EvalSet("odd", shipped_digits().images[:8], np.full(8, 42))
    r, _ = bench_harness(h, ev, BenchConfig(runs=2, warmup=1, large_batch=0))
    assert r["accuracy"] is None and "do not fit" in r["notes"][0]


def test_result_schema_and_file_name(artifacts: Path, tmp_path: Path) -> None:
    r, _ = bench_artifact(artifacts / "tflite", "tflite", threads=2,
                          cfg=BenchConfig(runs=5, warmup=1, large_batch=4))
    assert set(r) == SCHEMA_KEYS | {"checkpoint"} and r["schema"] == SCHEMA and r["status"] == "ok"
    assert r["runtime"]["name"] == "tflite" and r["runtime"]["threads"] == 2
    assert r["precision"] == "fp32" and r["model"] == MODEL and r["size_bytes"] > 1000
    assert set(r["machine"]) >= {"cpu", "cores", "arch", "os", "python", "hostname", "name"}
    assert r["validation"] == {"top1_agreement": 1.0}  # the exporter's report, carried over
    r["machine"]["name"] = "pi5"
    ckpt = r["checkpoint"]
    assert ckpt is None or len(ckpt) == 8  # the contract's sha256 prefix when the exporter recorded one
    name = f"{MODEL}{'-' + ckpt if ckpt else ''}-tflite-fp32-b1-t2-pi5.json"
    assert result_filename(r) == name
    path = write_result(r, tmp_path / "results")
    assert path.name == name and json.loads(path.read_text()) == json.loads(json.dumps(r))
    assert result_filename({**r, "routing": "dense"}) == name.replace("-fp32-", "-fp32-dense-")  # no overwrite
    assert result_filename({**r, "checkpoint": "0123abcd"}) != result_filename({**r, "checkpoint": "4567cdef"})
    assert not list((tmp_path / "results").glob(".*tmp"))  # atomic: no temp file left


def test_bench_artifact_never_raises_for_a_bad_artifact(tmp_path: Path) -> None:
    r, logits = bench_artifact(tmp_path / "nope", "onnx")
    assert r["status"] == "error" and "does not exist" in r["error"] and logits is None
