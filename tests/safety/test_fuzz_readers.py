"""Issue 12 fuzz: a few hundred seeded byte mutations of a real .onnx and .tflite export. The runtimes' readers
may reject, crash or loop on them; edgevit's commands must not: `predict` and `bench` never die by a signal or
hang (the model runs in a child), `info` never loads the model, and every failure is a clear error.

Fast path: the mutants are screened many per child (`fuzz_worker.py`, restarted after the mutant that killed
it). The commands themselves then run on every mutant that crashed or hung a screening child (the dangerous
ones) and on a few that did not."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgevit.errors import EdgevitError
from edgevit.runtimes.describe import describe_artifact
from edgevit.runtimes.isolate import ChildFailed, bench_in_subprocess, json_lines, streaming_child
from edgevit.runtimes.job import BenchConfig, BenchJob

HERE = Path(__file__).resolve().parent
MUTANTS = 150  # per format
CHECKED = 6  # per format: mutants run through the real commands
TIMEOUT = 30.0


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.random()
    if kind < 0.15:  # truncated
        return bytes(b[: rng.randrange(1, len(b))])
    if kind < 0.45:  # the header / flatbuffer tables / protobuf tags near the start
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(min(len(b), 256))] = rng.randrange(256)
        return bytes(b)
    for _ in range(rng.randint(1, 16)):  # anywhere (weights, offsets, op codes)
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _mutants(src: Path, name: str, root: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    data = (src / name).read_bytes()
    contract = (src / "edgevit.json").read_text()
    out = []
    for i in range(MUTANTS):
        d = root / f"m{i:03d}"
        d.mkdir(parents=True)
        (d / name).write_bytes(_mutate(data, rng))
        (d / "edgevit.json").write_text(contract)
        out.append(d)
    return out


def _screen(mutants: list[Path], images: Path) -> dict[Path, str]:
    """mutant -> "ok" | "error" | "crash: ..." | "hang", running many mutants per child."""
    outcome: dict[Path, str] = {}
    todo = list(mutants)
    while todo:
        argv = [sys.executable, str(HERE / "fuzz_worker.py"), str(images), *map(str, todo)]
        with streaming_child(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}) as proc:
            try:
                for msg in json_lines(proc, TIMEOUT):
                    outcome[todo.pop(0)] = msg["outcome"]
            except ChildFailed as e:
                if todo:
                    outcome[todo.pop(0)] = "hang" if "timed out" in e.how else f"crash: {e.how}"
    return outcome


@pytest.mark.parametrize("fmt, name, seed", [("onnx", "model.onnx", 12), ("tflite", "model.tflite", 34)])
def test_mutated_models_never_kill_predict_info_or_bench(artifacts: Path, tmp_path: Path, fmt: str, name: str,
                                                        seed: int) -> None:
    from PIL import Image

    from edgevit.runtimes.evalset import shipped_digits

    digits = shipped_digits()
    images = tmp_path / "images.npy"
    np.save(images, digits.images[:2])
    png = tmp_path / "digit.png"
    Image.fromarray(digits.images[0]).save(png)
    mutants = _mutants(artifacts / fmt, name, tmp_path / "mutants", seed)

    for m in mutants:  # info reads the contract and the file size only: never the model
        try:
            d = describe_artifact(m)
            assert d["file"].endswith(name)
        except EdgevitError:
            pass

    outcome = _screen(mutants, images)
    assert len(outcome) == MUTANTS
    dangerous = [m for m in mutants if outcome[m].startswith(("crash", "hang"))]
    rest = [m for m in mutants if m not in dangerous]
    checked = dangerous[:CHECKED] + random.Random(seed).sample(rest, max(0, min(len(rest), CHECKED - len(dangerous))))

    for m in checked:
        proc = subprocess.run([sys.executable, "-m", "edgevit.runtimes", "predict", str(png), "--artifact", str(m),
                               "--timeout", str(TIMEOUT), "--json"], capture_output=True, text=True,
                              timeout=4 * TIMEOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode in (0, 1), (m, outcome[m], proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        if proc.returncode == 1:
            errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
            assert len(errors) == 1, proc.stderr[-2000:]
        else:
            assert json.loads(proc.stdout)["summary"]["ok"] == 1
        cfg = BenchConfig(warmup=1, runs=2, large_batch=0, eval_limit=8)
        r = bench_in_subprocess(BenchJob(str(m), protocol=cfg), timeout=4 * TIMEOUT)
        assert r["status"] in ("ok", "error"), r
        assert (r["status"] == "error") == bool(r["error"]) and "\n" not in (r["error"] or "")
    summary = {k: sum(1 for v in outcome.values() if v.startswith(k)) for k in ("ok", "error", "crash", "hang")}
    print(f"{fmt}: {summary} over {MUTANTS} mutants; {len(checked)} run through predict and bench")


def test_fuzz_worker_reports_each_mutant(tmp_path: Path) -> None:
    """The screen itself can fail: a missing artifact is an error line, not a silent skip."""
    images = tmp_path / "i.npy"
    np.save(images, np.zeros((1, 8, 8), np.uint8))
    missing = tmp_path / "nothing"
    out = _screen([missing], images)
    assert out == {missing: "error"}
    shutil.rmtree(tmp_path)
