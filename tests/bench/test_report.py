"""Reports: terminal table, markdown, PNG plot (and its absence without matplotlib), merging result files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from edgevit.errors import EdgevitError
from edgevit.runtimes.bench import new_result, write_result
from edgevit.runtimes.report import load_results, merge, plot, render_table, row, to_markdown


def fake(runtime: str, machine: str = "vm", status: str = "ok", p50: float | None = 2.0, acc: float | None = 0.9,
         ts: str = "2025-01-01T00:00:00+00:00", **kw) -> dict:
    r = new_result(model="mmoe_vit_xxs", artifact=f"out/{runtime}", format=runtime, precision="fp32",
                   status=status, size_bytes=1_068_000, accuracy=acc, timestamp=ts, **kw)
    r["runtime"].update(name=runtime, version="1.0", threads=1)
    r["machine"]["name"] = machine
    r["latency_ms"].update(p50=p50, p90=None if p50 is None else p50 * 1.5, mean=p50)
    r["throughput_ips"] = {} if p50 is None else {"1": 1000 / p50}
    if status != "ok":
        r["error"] = "Core ML prediction needs macOS" if status == "unsupported" else "cannot load out/x"
    return r


def _text(table) -> str:
    c = Console(width=200, record=True)
    c.print(table)
    return c.export_text()


def test_table_rows_and_status() -> None:
    rs = [fake("onnx"), fake("tflite", p50=1.0, top1_agreement=1.0), fake("coreml", status="unsupported", p50=None,
                                                                         acc=None), fake("executorch", status="error", p50=None, acc=None)]
    text = _text(render_table(rs))
    assert "✅" in text and "❌ needs macOS" in text and "cannot load out/x" in text
    assert "(model mmoe_vit_xxs, machine vm, threads 1)" in text  # constant columns move to the title
    cells = row(rs[1])
    assert cells[6] == "✅" and cells[7] == "1.068" and cells[8] == "90.00" and cells[9] == "100.0"
    assert cells[10] == "1.000" and cells[11] == "1.500" and cells[12] == "1000.0"
    two = _text(render_table([fake("onnx", "vm"), fake("onnx", "pi5")]))
    assert "Machine" in two and "pi5" in two


def test_batch_and_mean_fallback() -> None:
    r = fake("tflite", p50=8.0)
    r["batch"] = 4
    assert row(r)[10] == "2.000"  # ms per image = per call / batch
    r = fake("tflite", p50=None, source="benchmark_model")
    r["latency_ms"]["mean"] = 3.0
    assert row(r)[10] == "3.000*" and "* mean" in to_markdown([r])


def test_markdown() -> None:
    md = to_markdown([fake("onnx"), fake("coreml", status="unsupported", p50=None, acc=None)])
    lines = md.splitlines()
    assert lines[0].startswith("| Model | Format | Runtime") and lines[1].startswith("|---|")
    assert "| mmoe_vit_xxs | onnx | onnx 1.0 | fp32 |" in md and "needs macOS" in md and "machine `vm`" in md


def test_plot_png(tmp_path: Path) -> None:
    path, note = plot([fake("onnx"), fake("tflite", p50=1.0)], tmp_path / "p" / "report.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and note.startswith("plot")
    assert plot([fake("coreml", status="unsupported", p50=None, acc=None)], tmp_path / "x.png")[0] is None


def test_plot_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path, note = plot([fake("onnx")], tmp_path / "report.png")
    assert path is None and "matplotlib is not installed" in note and not (tmp_path / "report.png").exists()


def test_load_and_merge_results_from_several_machines(tmp_path: Path) -> None:
    write_result(fake("onnx", "vm"), tmp_path / "vm")
    write_result(fake("tflite", "pi5"), tmp_path / "pi" / "nested")
    old, new = fake("onnx", "pi5", ts="2025-01-01T00:00:00+00:00"), fake("onnx", "pi5", p50=9.0,
                                                                          ts="2025-02-01T00:00:00+00:00")
    (tmp_path / "pi" / "ios_app_results.json").write_text(json.dumps([old, new]))  # a file holding a list
    (tmp_path / "pi" / "junk.json").write_text("{not json")
    (tmp_path / "pi" / "other.json").write_text(json.dumps({"hello": 1}))
    rs = load_results([tmp_path / "vm", tmp_path / "pi"])
    assert len(rs) == 3
    pi_onnx = [r for r in rs if r["machine"]["name"] == "pi5" and r["runtime"]["name"] == "onnx"]
    assert len(pi_onnx) == 1 and pi_onnx[0]["latency_ms"]["p50"] == 9.0  # newest kept
    assert len(merge(rs + rs)) == 3
    with pytest.raises(EdgevitError, match="no such result"):
        load_results([tmp_path / "missing"])


def test_sample_app_result_without_schema_tag_is_ingested(tmp_path: Path) -> None:
    ios = {"model": "mmoe_vit_xxs", "artifact": "Model.mlpackage", "batch": 1, "precision": "fp32",
           "latency_ms": {"p50": 0.362, "p90": 0.441, "mean": 0.384, "runs": 200}, "accuracy": None,
           "runtime": {"name": "coreml-ios", "version": "iOS 18.2.0", "threads": None, "delegate": "all"},
           "machine": {"device": "Apple iPhone16,1", "os": "iOS 18.2.0", "arch": "arm64"},
           "throughput_ips": 2604.167, "size_bytes": 1124355, "timestamp": "2026-01-15T10:25:02Z"}
    (tmp_path / "ios.json").write_text(json.dumps(ios))
    (r,) = load_results([tmp_path])
    assert r["status"] == "ok" and r["format"] == "coreml" and r["runtime"]["provider"] == "all"
    assert r["machine"]["name"] == "Apple-iPhone16-1" and r["throughput_ips"] == {"1": 2604.167}
    assert row(r)[10] == "0.362" and row(r)[12] == "2604.2"
