"""`--device adb[:SERIAL]`: LiteRT benchmark_model output parsing (recorded logs) and the exact command lines sent
to a fake `adb` on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from digits_checkpoint import MODEL
from edgevit_bench_fixtures import child_env

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.adb import ADBDevice, parse_benchmark_model, parse_getprop
from edgevit.runtimes.bench import SCHEMA
from edgevit.runtimes.job import BenchConfig, BenchJob
from edgevit.runtimes.remote import parse_device

DATA = Path(__file__).parent / "data"
BM = "/data/local/tmp/bench tools/benchmark_model"  # a space: must be quoted for the phone's shell
FAKE_ADB = r'''#!{python}
"""Fake adb: each call must equal the next expected argv in $FAKE_ADB_SPEC; replies with the canned output."""
import json, os, sys
spec = json.load(open(os.environ["FAKE_ADB_SPEC"]))
state = os.environ["FAKE_ADB_SPEC"] + ".n"
n = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(n + 1))
with open(os.environ["FAKE_ADB_SPEC"] + ".log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if n >= len(spec) or sys.argv[1:] != spec[n]["argv"]:
    want = spec[n]["argv"] if n < len(spec) else None
    sys.stderr.write("fake adb: unexpected command line %r, expected %r\n" % (sys.argv[1:], want))
    sys.exit(99)
sys.stdout.write(spec[n].get("stdout", ""))
sys.stderr.write(spec[n].get("stderr", ""))
sys.exit(spec[n].get("rc", 0))
'''


def test_parse_recorded_litert_log() -> None:
    p = parse_benchmark_model((DATA / "benchmark_model_litert_android.txt").read_text())
    assert p["inference"] == {"count": 50, "first": 1301, "curr": 1247, "min": 1229, "max": 1894, "avg": 1288.66,
                              "std": 98}
    assert p["warmup"]["count"] == 5 and p["init_us"] == 9713 and p["first_us"] == 2954
    assert p["inference_avg_us"] == 1288.66 and p["peak_mb"] == 12.8242 and p["threads"] == 4
    assert p["delegate"] == "xnnpack" and p["model_mb"] == 1.06813


def test_parse_older_log_and_percentiles() -> None:
    p = parse_benchmark_model((DATA / "benchmark_model_tflite_2_4_rpi.txt").read_text())
    assert p["inference"]["count"] == 786 and p["inference"]["avg"] == 1268.9 and p["peak_mb"] == 5.91406
    p = parse_benchmark_model("count=50 first=10 curr=9 min=8 max=12 avg=9.5 std=1 p5=8 median=9 p95=11\n"
                              "count=3 curr=7(all same)\n")
    assert p["warmup"]["median"] == 9 and p["inference"] == {"count": 3, "curr": 7, "avg": 7, "min": 7, "max": 7,
                                                              "std": 0.0}
    assert parse_benchmark_model("Failed to load model")  == {"delegate": None}
    assert parse_getprop((DATA / "getprop_pixel.txt").read_text())["ro.product.model"] == "Pixel 7 Pro"


@pytest.fixture
def fake_adb(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.replace("{python}", sys.executable))
    adb.chmod(0o755)
    spec = tmp_path / "spec.json"

    def expect(calls: list[dict]) -> dict[str, str]:
        spec.write_text(json.dumps(calls))
        env = child_env()
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        env["FAKE_ADB_SPEC"] = str(spec)
        return env

    def calls() -> list[list[str]]:
        log = Path(str(spec) + ".log")
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return expect, calls


def _expected(model: Path, serial: str, log: str) -> list[dict]:
    s = ["-s", serial]
    remote = "/data/local/tmp/edgevit/model.tflite"
    return [
        {"argv": s + ["shell", "getprop"], "stdout": (DATA / "getprop_pixel.txt").read_text()},
        {"argv": s + ["push", str(model), remote], "stdout": f"{model}: 1 file pushed, 0 skipped.\n"},
        {"argv": s + ["shell", f"'{BM}' --graph={remote} --num_runs=50 --warmup_runs=5 --min_secs=0 "
                               "--warmup_min_secs=0 --use_xnnpack=true --num_threads=4"], "stdout": log},
        {"argv": s + ["shell", f"rm -f {remote}"]},
    ]


def test_adb_bench_exact_command_lines(fake_adb, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expect, calls = fake_adb
    model = artifacts / "tflite" / "model.tflite"
    spec = _expected(model, "emulator-5554", (DATA / "benchmark_model_litert_android.txt").read_text())
    env = expect(spec)
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("FAKE_ADB_SPEC", env["FAKE_ADB_SPEC"])
    dev = ADBDevice(parse_device("adb:emulator-5554"), benchmark_model=BM)
    r = dev.bench(BenchJob(str(artifacts / "tflite"), threads=4, protocol=BenchConfig(runs=50, warmup=5)))
    assert calls() == [c["argv"] for c in spec]
    assert r["schema"] == SCHEMA and r["status"] == "ok" and r["source"] == "benchmark_model"
    assert r["device"] == "adb:emulator-5554" and r["model"] == MODEL and r["precision"] == "fp32"
    assert r["latency_ms"]["mean"] == 1.2887 and r["latency_ms"]["min"] == 1.229 and r["latency_ms"]["runs"] == 50
    assert r["latency_ms"]["p50"] is None and r["accuracy"] is None  # benchmark_model gives neither
    assert r["load_time_ms"] == 9.713 and r["peak_rss_mb"] == 12.8242 and r["throughput_ips"] == {"1": 776.0}
    assert r["runtime"] == {"name": "tflite", "version": None, "threads": 4, "provider": "xnnpack",
                            "extra": {"tool": "benchmark_model", "path": BM}}
    m = r["machine"]
    assert m["name"] == "Pixel-7-Pro" and m["arch"] == "arm64-v8a" and m["cpu"] == "GS201"
    assert m["os"] == "Android 14 (SDK 34)"


def test_adb_errors(fake_adb, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expect, calls = fake_adb
    env = expect([{"argv": ["-s", "gone", "shell", "getprop"], "stderr": "adb: device 'gone' not found\n", "rc": 1}])
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("FAKE_ADB_SPEC", env["FAKE_ADB_SPEC"])
    with pytest.raises(RuntimeHarnessError, match="cannot reach adb:gone"):
        ADBDevice(parse_device("adb:gone"), benchmark_model=BM).bench(BenchJob(str(artifacts / "tflite")))
    with pytest.raises(RuntimeHarnessError, match="runs .tflite files"):
        ADBDevice(parse_device("adb"), benchmark_model=BM).bench(BenchJob(str(artifacts / "onnx")))
    with pytest.raises(RuntimeHarnessError, match="--benchmark-model"):
        ADBDevice(parse_device("adb"), benchmark_model="")
    model = artifacts / "tflite" / "model.tflite"
    spec = _expected(model, "x", "/system/bin/sh: /data/local/tmp/bench tools/benchmark_model: inaccessible or "
                                 "not found\n")
    spec[2]["rc"] = 127
    env = expect(spec)
    Path(env["FAKE_ADB_SPEC"] + ".n").unlink(missing_ok=True)
    with pytest.raises(RuntimeHarnessError, match="cannot run .*benchmark_model.*not found"):
        ADBDevice(parse_device("adb:x"), benchmark_model=BM).bench(
            BenchJob(str(artifacts / "tflite"), threads=4, protocol=BenchConfig(runs=50, warmup=5)))


def test_cli_adb(fake_adb, artifacts: Path, tmp_path: Path) -> None:
    expect, calls = fake_adb
    model = artifacts / "tflite" / "model.tflite"
    spec = _expected(model, "emulator-5554", (DATA / "benchmark_model_litert_android.txt").read_text())
    env = expect(spec)
    p = subprocess.run([sys.executable, "-m", "edgevit", "bench", "--artifact", str(artifacts / "tflite"),
                        "--device", "adb:emulator-5554", "--benchmark-model", BM, "--threads", "4", "--runs", "50",
                        "--warmup", "5", "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "✅" in p.stdout and "1.289*" in p.stdout and "* mean" in p.stdout and "Pixel-7-Pro" in p.stdout
    assert len(calls()) == 4
    assert (tmp_path / "o" / f"{MODEL}-tflite-fp32-b1-t4-Pixel-7-Pro.json").exists()
