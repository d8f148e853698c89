"""The whole path a user walks: train -> export (static routing) -> bench -> predict, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def edgevit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgevit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "run"
    r = edgevit("train", "--model", "mmoe_vit_test", "--data", "digits", "--epochs", "10", "--warmup-epochs", "1", "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "edgevit export" in r.stdout  # tells the user what to run next
    return out


def test_train_export_bench_predict_agree(trained: Path, tmp_path: Path) -> None:
    ckpt = trained / "best"
    results = json.loads((trained / "results.json").read_text())
    assert results["test_acc"] > 0.4  # a 24k-param model, 10 epochs: 4x chance (0.1) at least

    exp = tmp_path / "export"
    r = edgevit("export", "--checkpoint", ckpt, "--target", "onnx", "--out", exp, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    onnx_dir = next(exp.glob("onnx-fp32*"))
    contract = json.loads((onnx_dir / "edgevit.json").read_text())
    assert contract["routing"] == "static" and contract["model"]["name"] == "mmoe_vit_test"
    assert contract["validation"]  # validated before it was declared good

    r = edgevit("bench", "--artifact", onnx_dir, "--runs", "20", "--warmup", "2", "--large-batch", "0",
                "--reference", ckpt, "--json", "--out", tmp_path / "bench")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(r.stdout)
    row = next(x for x in rows if x["runtime"]["name"] == "onnx")
    assert row["status"] == "ok" and row["top1_agreement"] >= 0.99
    assert abs(row["accuracy"] - results["test_acc"]) < 0.02  # same shipped digits test split
    assert row["latency_ms"]["p50"] > 0

    # predict on real PNG files written from the digits test set: labels match the benchmarked model's argmax
    from PIL import Image

    d = np.load(Path(__file__).resolve().parents[2] / "runtimes" / "data" / "digits_test.npz")
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    for i in range(12):
        Image.fromarray(d["images"][i]).save(img_dir / f"{i:02d}_label{d['labels'][i]}.png")
    r = edgevit("predict", img_dir, "--artifact", onnx_dir, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    files = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert len(files) == 12 and all(f["ok"] for f in files.values())

    from edgevit.runtimes.base import open_harness

    h = open_harness(onnx_dir)
    expected = h.predict(d["images"][:12]).argmax(-1)
    h.close()
    got = [files[f"{i:02d}_label{d['labels'][i]}.png"]["top"][0]["index"] for i in range(12)]
    assert got == expected.tolist()
