"""`export --target all` and several precisions in one call; `edgevit benchmark` (one-shot) on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgevit.errors import ExportError
from edgevit.export.formats import FORMATS
from edgevit.export.pipeline import ExportRequest, plan_targets


def _req(targets: str, precision: str | None = None, **kw) -> ExportRequest:
    return ExportRequest(checkpoint=Path("unused"), targets=targets, precision=precision, **kw)


def test_all_targets_times_precisions_skip_what_is_not_offered() -> None:
    plans, skipped = plan_targets(_req("all", "fp32,fp16,int8"))
    tags = {p.tag for p in plans}
    offered = {f"{f.name}-{p}" for f in FORMATS.values() for p in f.precisions}
    assert tags == offered - {f"{t}-{p}" for t, p, _ in skipped}  # every offered pair planned or skipped
    assert ("executorch", "fp16") in {(t, p) for t, p, _ in skipped}  # executorch has no fp16
    assert all(why for _, _, why in skipped)


def test_one_target_one_precision_is_still_an_error_when_not_offered() -> None:
    with pytest.raises(ExportError, match="executorch does not support --precision fp16"):
        plan_targets(_req("executorch", "fp16"))
    plans, skipped = plan_targets(_req("onnx,executorch", "fp32,fp16"))
    assert [p.tag for p in plans] == ["onnx-fp32", "onnx-fp16", "executorch-fp32"] and len(skipped) == 1
    with pytest.raises(ExportError, match="nothing to export"):
        plan_targets(_req("executorch", "fp16,fp16"))


def test_all_skips_a_target_whose_converter_is_missing(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "coremltools" else real(name, *a))
    plans, skipped = plan_targets(_req("all"))
    assert "coreml" not in {p.fmt.name for p in plans}
    assert any(t == "coreml" and "edgevit[coreml]" in why for t, _, why in skipped)


@pytest.mark.slow
def test_one_shot_benchmark_table_json_and_plot(checkpoint_factory, tmp_path: Path) -> None:
    ck = checkpoint_factory("mmoe_vit_test")
    out = tmp_path / "bm"
    r = subprocess.run([sys.executable, "-m", "edgevit", "benchmark", "-c", str(ck), "-t", "onnx,executorch",
                        "-p", "fp32,fp16", "--runs", "5", "-o", str(out), "--json"],
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(r.stdout)
    got = {(x["format"], x["precision"]): x["status"] for x in rows}
    assert got[("onnx", "fp32")] == got[("onnx", "fp16")] == got[("executorch", "fp32")] == "ok"
    assert got[("executorch", "fp16")] == "unsupported" and got[("torch", "fp32")] == "ok"
    assert all(x["top1_agreement"] is not None for x in rows if x["status"] == "ok" and x["format"] != "torch")
    assert (out / "results" / "report.md").is_file()
