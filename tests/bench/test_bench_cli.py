"""`edgevit bench` and `edgevit bench report` end to end (the real CLI, in a child process where exit codes and
the one-red-line error matter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from digits_checkpoint import MODEL
from edgevit_bench_fixtures import NO_TORCH, child_env, shim_dir

FAST = ["--runs", "5", "--warmup", "1", "--large-batch", "4", "--threads", "1"]


def edgevit(args: list[str], env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgevit", *args], capture_output=True, text=True, timeout=300,
                          env=env or child_env(), cwd=cwd)


def test_bench_two_runtimes_json_and_files(artifacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), "--artifact", str(artifacts / "tflite"), *FAST,
                 "--out", str(out), "--json"])
    assert p.returncode == 0, p.stderr
    rs = json.loads(p.stdout)
    assert [r["runtime"]["name"] for r in rs] == ["onnx", "tflite"] and all(r["status"] == "ok" for r in rs)
    names = sorted(f.name for f in out.iterdir())
    host = rs[0]["machine"]["name"]
    assert names == sorted([f"{MODEL}-onnx-fp32-b1-t1-{host}.json", f"{MODEL}-tflite-fp32-b1-t1-{host}.json",
                            "report.md", "report.png"])
    assert f"| {MODEL} | — | onnx | onnxruntime 1.31" in (out / "report.md").read_text()


def test_bench_takes_artifacts_as_plain_paths_between_options(artifacts: Path, tmp_path: Path) -> None:
    """`edgevit bench PATH ...` as `--artifact PATH ...`: an option's value is never taken for a path."""
    p = edgevit(["bench", str(artifacts / "onnx"), *FAST, str(artifacts / "tflite"), "--out", str(tmp_path / "o"),
                 "--json"])
    assert p.returncode == 0, p.stderr
    rs = json.loads(p.stdout)
    assert [r["runtime"]["name"] for r in rs] == ["onnx", "tflite"]
    assert all(r["latency_ms"]["runs"] == 5 and r["runtime"]["threads"] == 1 for r in rs)
    missing = edgevit(["bench", str(tmp_path / "nowhere"), *FAST])
    assert missing.returncode == 1 and missing.stderr.startswith("error:") and "nowhere" in missing.stderr


def test_bench_table_with_torch_reference(artifacts: Path, tmp_path: Path) -> None:
    env = child_env()
    p = edgevit(["bench", "--artifact", str(artifacts), "--runtime", "onnx", "--runtime", "tflite", "--runtime",
                 "torch", *FAST, "--out", str(tmp_path / "o"), "--json"], env=env)
    assert p.returncode == 0, p.stderr
    rs = json.loads(p.stdout)
    assert [r["runtime"]["name"] for r in rs] == ["torch", "onnx", "tflite"]  # the reference runs first
    assert rs[0]["runtime"]["provider"] == "eager" and rs[0]["top1_agreement"] is None
    for r in rs[1:]:
        assert r["reference"] == "torch" and r["top1_agreement"] == 1.0 and r["max_abs_diff"] < 1e-4
    assert (tmp_path / "o" / "report.md").read_text().count("| 100.0 |") == 2


def test_bad_artifacts_one_red_line_and_the_rest_still_measured(artifacts: Path, tmp_path: Path) -> None:
    bad = shutil.copytree(artifacts / "onnx", tmp_path / "truncated")
    data = (bad / "model.onnx").read_bytes()
    (bad / "model.onnx").write_bytes(data[:200])
    junk = shutil.copytree(artifacts / "tflite", tmp_path / "garbage")
    (junk / "model.tflite").write_bytes(os.urandom(2048))
    p = edgevit(["bench", "--artifact", str(bad), "--artifact", str(junk), "--artifact", str(artifacts / "tflite"),
                 *FAST, "--out", str(tmp_path / "o")])
    assert p.returncode == 1
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "2 of 3 benches failed" in errors[0] and "truncated" in errors[0]
    assert p.stdout.count("❌") == 4 and p.stdout.count("✅") == 1  # 2 rows + 2 footnotes; 1 good row


def test_usage_errors(artifacts: Path, tmp_path: Path) -> None:
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), "--runtime", "coreml", "--out", str(tmp_path)])
    assert p.returncode == 1 and "runs with coreml" in p.stderr and "Traceback" not in p.stderr
    p = edgevit(["bench", "--artifact", str(tmp_path / "nothing-here"), "--out", str(tmp_path)])
    assert p.returncode == 1 and "nothing-here" in p.stderr and "Traceback" not in p.stderr
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), "--device", "ftp://x", "--out", str(tmp_path)])
    assert p.returncode == 1 and "unknown device 'ftp://x'" in p.stderr
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), "--threads", "0", "--out", str(tmp_path)])
    assert p.returncode == 1 and p.stderr.strip() == "error: --threads must be a whole number >= 1, got 0"


def test_missing_runtime_package_names_the_extra(artifacts: Path, tmp_path: Path) -> None:
    env = child_env(shim_dir(tmp_path / "noort", "import sys\nsys.modules['onnxruntime'] = None\n"))
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), *FAST, "--out", str(tmp_path / "o")], env=env)
    assert p.returncode == 1 and "onnxruntime is needed" in p.stderr and "pip install 'edgevit" in p.stderr


def test_error_line_keeps_brackets(artifacts: Path, tmp_path: Path) -> None:
    env = child_env(shim_dir(tmp_path / "noort", "import sys\nsys.modules['onnxruntime'] = None\n"))
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), *FAST, "--out", str(tmp_path / "o")], env=env)
    assert "pip install 'edgevit[pi]'" in p.stderr


def test_cli_bench_without_torch(artifacts: Path, tmp_path: Path) -> None:
    env = child_env(shim_dir(tmp_path / "notorch", NO_TORCH))
    p = edgevit(["bench", "--artifact", str(artifacts / "onnx"), "--artifact", str(artifacts / "tflite"), *FAST,
                 "--out", str(tmp_path / "o"), "--json"], env=env)
    assert p.returncode == 0, p.stderr
    assert all(r["status"] == "ok" for r in json.loads(p.stdout))


def test_bench_report_merges_machines(artifacts: Path, tmp_path: Path) -> None:
    from edgevit.runtimes.bench import BenchConfig, bench_artifact, write_result

    for machine in ("workstation", "pi5"):
        os.environ["EDGEVIT_MACHINE"] = machine
        try:
            r, _ = bench_artifact(artifacts / "onnx", "onnx", cfg=BenchConfig(runs=3, warmup=1, large_batch=0))
        finally:
            del os.environ["EDGEVIT_MACHINE"]
        write_result(r, tmp_path / machine)
    out = tmp_path / "merged"
    p = edgevit(["bench", "report", str(tmp_path / "workstation"), str(tmp_path / "pi5"), "--out", str(out)])
    assert p.returncode == 0, p.stderr
    assert "workstation" in p.stdout and "pi5" in p.stdout and "Machine" in p.stdout
    assert {f.name for f in out.iterdir()} == {"merged.json", "report.md", "report.png"}
    assert len(json.loads((out / "merged.json").read_text())) == 2
    p = edgevit(["bench", "report", str(tmp_path / "merged"), "--json", "--no-plot"])
    assert p.returncode == 0 and len(json.loads(p.stdout)) == 2
    (tmp_path / "empty").mkdir()
    p = edgevit(["bench", "report", str(tmp_path / "empty")])
    assert p.returncode == 1 and "no edgevit bench results" in p.stderr
