"""Reports: terminal table, markdown, PNG plot (and its absence without matplotlib), merging result files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from edgevit.errors import EdgevitError
from edgevit.runtimes.bench import new_result, write_result
from edgevit.runtimes.report import COLUMNS, load_results, merge, plot, render_table, row, to_markdown


def cell(r: dict, column: str) -> str:
    return row(r)[COLUMNS.index(column)]


HARNESS_PACKAGES = {"onnx": "onnxruntime", "tflite": "ai-edge-litert"}


def fake(runtime: str, machine: str = "vm", status: str = "ok", p50: float | None = 2.0, acc: float | None = 0.9,
         ts: str = "2025-01-01T00:00:00+00:00", **kw) -> dict:
    r = new_result(model="mmoe_vit_xxs", artifact=f"out/{runtime}", format=runtime, precision="fp32",
                   status=status, size_bytes=1_068_000, accuracy=acc, timestamp=ts, **kw)
    r["runtime"].update(name=runtime, version="1.0", threads=1)
    if runtime in HARNESS_PACKAGES:  # what the harness's info() records
        r["runtime"]["extra"]["package"] = HARNESS_PACKAGES[runtime]
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
    assert "(model mmoe_vit_xxs, machine vm, batch 1, threads 1)" in text  # constant columns move to the title
    r = rs[1]
    assert cell(r, "Status") == "✅" and cell(r, "Size (MB)") == "1.068" and cell(r, "Accuracy") == "90.00"
    assert cell(r, "Top-1 agree") == "100.0"
    assert cell(r, "ms/img p50") == "1.000" and cell(r, "ms/img p90") == "1.500" and cell(r, "FPS") == "1000.0"
    two = _text(render_table([fake("onnx", "vm"), fake("onnx", "pi5")]))
    assert "Machine" in two and "pi5" in two


def test_runtime_cell_names_the_package_whose_version_it_shows() -> None:
    assert cell(fake("onnx"), "Runtime") == "onnxruntime 1.0"
    assert cell(fake("tflite"), "Runtime") == "ai-edge-litert 1.0"
    old = fake("tflite")
    old["runtime"]["extra"] = {"package": "tflite-runtime"}  # the Pi's other interpreter package
    assert cell(old, "Runtime") == "tflite-runtime 1.0"
    app = fake("coreml")
    app.update(source="ios-app")
    app["runtime"].update(version="iOS 18.2", extra={})  # an app's result: its own name and version
    assert cell(app, "Runtime") == "coreml iOS 18.2"
    app["runtime"].update(version=None)
    assert cell(app, "Runtime") == "coreml"


def test_batch_and_mean_fallback() -> None:
    r = fake("tflite", p50=8.0)
    r["batch"] = 4
    assert cell(r, "ms/img p50") == "2.000" and cell(r, "Batch") == "4"  # ms per image = per call / batch
    r = fake("tflite", p50=None, source="benchmark_model")
    r["latency_ms"]["mean"] = 3.0
    assert cell(r, "ms/img p50") == "3.000*" and "* mean" in to_markdown([r])


def test_markdown() -> None:
    md = to_markdown([fake("onnx"), fake("coreml", status="unsupported", p50=None, acc=None)])
    lines = md.splitlines()
    assert lines[0].startswith("| Model | Checkpoint | Format | Runtime") and lines[1].startswith("|---|")
    assert "| mmoe_vit_xxs | — | onnx | onnxruntime 1.0 | fp32 | 1 |" in md and "needs macOS" in md and "machine `vm`" in md


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
    assert cell(r, "ms/img p50") == "0.362" and cell(r, "FPS") == "2604.2"


def _mixed() -> list[dict]:
    """Rows that differ in every movable column, with long values: the widest table the bench writes."""
    rs = []
    for i, (rt, machine) in enumerate([("onnx", "raspberrypi-5"), ("tflite", "workstation-vm"), ("executorch", "pi")]):
        r = fake(rt, machine, p50=123.456 * (i + 1), acc=0.97531, top1_agreement=0.99, checkpoint=f"{i:08x}")
        r["runtime"]["threads"], r["batch"], r["size_bytes"] = i + 1, 1 + 3 * i, 123_456_789
        rs.append(r)
    return rs


@pytest.mark.parametrize("width", [80, 100, 200])
def test_table_never_cuts_a_number(width: int) -> None:
    rs = _mixed()
    c = Console(width=width, record=True)
    c.print(render_table(rs, width=width))
    text = c.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines() if "│" in line) <= width
    for r in rs:  # every number that stays is whole
        for col in ("Accuracy", "ms/img p50", "FPS"):
            assert cell(r, col) in text
    if width >= 200:
        assert "Machine" in text and "raspberrypi-5" in text and "ms/img p90" in text


def test_two_checkpoints_of_one_model_keep_two_rows(tmp_path: Path) -> None:
    a, b = fake("onnx", checkpoint="aaaaaaaa"), fake("onnx", p50=3.0, checkpoint="bbbbbbbb")
    assert write_result(a, tmp_path) != write_result(b, tmp_path)  # two files, not one overwritten
    rs = load_results([tmp_path])
    assert sorted(r["checkpoint"] for r in rs) == ["aaaaaaaa", "bbbbbbbb"]
    text = _text(render_table(rs))
    assert "Checkpoint" in text and "aaaaaaaa" in text and "bbbbbbbb" in text


def test_plot_legend_style_colour_per_model_marker_per_runtime_threads_encoded() -> None:
    import matplotlib.pyplot as plt

    from edgevit.runtimes.report import latency_figure

    rs = _mixed()
    rs[1]["model"] = "other_model"
    fig = latency_figure(rs)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "runtime: onnx" in legend and "runtime: tflite" in legend and "runtime: executorch" in legend
    assert any(x.startswith("mmoe_vit_xxs") for x in legend) and any(x.startswith("other_model") for x in legend)
    assert {"1 thread(s)", "2 thread(s)", "3 thread(s)"} <= set(legend)  # threads differ: encoded by size
    assert not ax.texts  # no labels on the points (they overlapped on one line)
    sizes = sorted(c.get_sizes()[0] for c in ax.collections if len(c.get_offsets()))
    assert sizes[0] < sizes[-1]
    plt.close(fig)
