"""Crash isolation (a runtime dying on a bad file must not take the bench down) and the torch-free promise."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from edgevit_bench_fixtures import NO_TORCH, child_env, shim_dir

from edgevit.runtimes.isolate import bench_in_subprocess, describe_exit, parse_child_output
from edgevit.runtimes.job import BenchJob

RUNTIMES_DIR = Path(__file__).resolve().parents[2] / "runtimes"


def test_truncated_onnx_and_garbage_tflite_give_error_results(artifacts: Path, tmp_path: Path) -> None:
    onnx = shutil.copytree(artifacts / "onnx", tmp_path / "bad onnx")
    data = (onnx / "model.onnx").read_bytes()
    (onnx / "model.onnx").write_bytes(data[: len(data) // 3])
    tfl = shutil.copytree(artifacts / "tflite", tmp_path / "bad tflite")
    (tfl / "model.tflite").write_bytes(os.urandom(3000))
    for d, runtime, name in ((onnx, "onnx", "model.onnx"), (tfl, "tflite", "model.tflite")):
        r = bench_in_subprocess(BenchJob(str(d), runtime), timeout=120)
        assert r["status"] == "error", r
        assert name in r["error"] and str(d) in r["error"]
        assert r["runtime"]["name"] == runtime and r["latency_ms"]["p50"] is None


def test_a_crashing_child_becomes_an_error_result(artifacts: Path, tmp_path: Path) -> None:
    # a runtime that segfaults while loading: the child dies by a signal, the parent reports it and lives on
    shim = shim_dir(tmp_path / "crash", "import os, signal, sys\n"
                    "if 'bench' in sys.argv:\n"
                    "    import edgevit.runtimes.onnx as o\n"
                    "    o.OnnxHarness._load = lambda self: os.kill(os.getpid(), signal.SIGSEGV)\n")
    r = bench_in_subprocess(BenchJob(str(artifacts / "onnx"), "onnx"), env=child_env(shim), timeout=60)
    assert r["status"] == "error" and "crashed with SIGSEGV" in r["error"] and str(artifacts / "onnx") in r["error"]
    code = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    r = parse_child_output(proc.stdout, proc.stderr, proc.returncode, "m.tflite", "tflite")
    assert r["status"] == "error" and "crashed with SIGSEGV" in r["error"] and "m.tflite" in r["error"]
    assert describe_exit(-9) == "crashed with SIGKILL" and describe_exit(3) == "exited with status 3"


def test_timeout_is_an_error_result(artifacts: Path) -> None:
    r = bench_in_subprocess(BenchJob(str(artifacts / "onnx"), "onnx"), timeout=0.01)
    assert r["status"] == "error" and "timed out" in r["error"]


def test_bench_runs_with_torch_unimportable(artifacts: Path, tmp_path: Path) -> None:
    """`python -m edgevit.runtimes bench` for onnx and tflite with torch (and the torch side of edgevit) blocked."""
    env = child_env(shim_dir(tmp_path / "notorch", NO_TORCH))
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert check.returncode != 0 and "import of torch halted" in check.stderr  # the shim works
    for runtime in ("onnx", "tflite"):
        proc = subprocess.run([sys.executable, "-m", "edgevit.runtimes", "bench", "--artifact",
                               str(artifacts / runtime), "--runs", "5", "--warmup", "1", "--large-batch", "4",
                               "--reference-logits", str(artifacts / "reference_logits.npy")],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        r = json.loads(proc.stdout)
        assert r["status"] == "ok" and r["accuracy"] > 0.9 and r["top1_agreement"] == 1.0
    info = subprocess.run([sys.executable, "-m", "edgevit.runtimes", "info"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert info.returncode == 0 and json.loads(info.stdout)["machine"]["cores"] >= 1


def test_torch_runtime_without_torch_is_a_clear_error(artifacts: Path, tmp_path: Path) -> None:
    env = child_env(shim_dir(tmp_path / "notorch", NO_TORCH))
    r = bench_in_subprocess(BenchJob(str(artifacts / "ckpt"), "torch"), env=env, timeout=120)
    assert r["status"] == "error" and "edgevit[train]" in r["error"], r["error"]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_torch_imports_in_runtimes_source() -> None:
    banned = ("torch", "edgevit.models", "edgevit.train", "edgevit.export", "edgevit.checkpoint",
              "edgevit.registry", "edgevit.torch_harness", "edgevit.data")
    for path in RUNTIMES_DIR.glob("*.py"):
        bad = {n for n in _imports(path) if any(n == b or n.startswith(b + ".") for b in banned)}
        assert not bad, f"{path.name} imports {bad}"
