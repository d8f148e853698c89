"""Issue 12, class 5: strings from artifacts (labels, model names, file names, errors) are data everywhere they
are shown: no ANSI/OSC escape reaches the terminal, rich markup in them is printed literally, and mathtext in
them neither breaks nor changes the bench plot."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from edgevit.runtimes.safe_text import plot_safe, terminal_safe

EVIL = "x\x1b]0;owned\x07\x1b[2J\x9b31m\u202e[/][bold]$\\frac{1}{0}$\ny"
EVIL_FILE = "photo\x1b[31m[/].png"


def _render(renderable) -> str:
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=True, color_system=None).print(renderable)
    return buf.getvalue()


def _clean(text: str) -> None:
    assert "\x1b]" not in text and "\x1b[2J" not in text and "\x9b" not in text and "\u202e" not in text
    assert "\x07" not in text


def test_terminal_safe_and_plot_safe() -> None:
    s = terminal_safe(EVIL)
    _clean(s)
    assert "\\x1b" in s and "\n" not in s and "[/]" in s
    assert plot_safe("$x$") == r"\$x\$"


def test_contract_strings_are_escaped_in_info(tmp_path: Path) -> None:
    from edgevit.runtimes.describe import describe_artifact, render_description

    d = tmp_path / "art"
    d.mkdir()
    (d / "model.onnx").write_bytes(b"x")
    contract = {"model": {"name": EVIL, "family": EVIL}, "labels": [EVIL, "b"],
                "input": {"shape": [1, 3, 4, 4], "layout": "NCHW"}, "output": {"shape": [1, 2]},
                "preprocess": {"size": [4, 4], "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3},
                "target": "onnx", "file": "model.onnx", "precision": EVIL, "routing": EVIL,
                "validation": {"passed": False, "checks": [{"name": EVIL, "ok": False, "detail": EVIL}]}}
    (d / "edgevit.json").write_text(json.dumps(contract))
    out = _render(render_description(describe_artifact(d)))
    _clean(out)
    assert "[/]" in out and "$\\frac" in out  # shown literally, not parsed


def test_predict_report_escapes_labels_paths_and_errors() -> None:
    from edgevit.runtimes.predict import failure_line, render_report

    top = [{"label": EVIL, "index": 0, "prob": 0.9}, {"label": EVIL, "index": 1, "prob": 0.1}]
    report = {"artifact": "a", "model": EVIL, "runtime": {"name": "onnx", "version": EVIL, "threads": 1,
                                                          "extra": {"package": EVIL}},
              "precision": EVIL, "input": {}, "topk": 2, "load_ms": 1.0, "warmup_runs": 1,
              "files": [{"path": EVIL_FILE, "ok": True, "top": top, "latency_ms": 1.0, "preprocess_ms": 1.0,
                         "size": [4, 4], "channels": 3, "notes": [EVIL], "error": None},
                        {"path": EVIL_FILE, "ok": False, "top": [], "latency_ms": None, "preprocess_ms": None,
                         "size": None, "channels": None, "notes": [], "error": EVIL}],
              "summary": {"files": 2, "ok": 1, "failed": 1, "latency_ms": None}}
    _clean(_render(render_report(report)))
    _clean(terminal_safe(failure_line(report)))


def test_cli_error_line_is_escaped(capsys) -> None:
    from edgevit.cli import fail

    with pytest.raises(SystemExit):
        fail(f"cannot read {EVIL_FILE}: {EVIL}")
    err = capsys.readouterr().err
    _clean(err)
    assert err.count("error:") == 1 and "[/]" in err


def test_bench_table_markdown_and_plot_survive_hostile_names(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from edgevit.runtimes.bench import new_result
    from edgevit.runtimes.report import plot, render_table, to_markdown

    results = []
    for i, name in enumerate([EVIL, "$\\undefinedcommand{$", "ok"]):
        r = new_result(model=name, artifact=EVIL_FILE, status="ok", precision=EVIL, accuracy=0.5 + i / 10,
                       batch=1)
        r["runtime"].update(name=f"rt{i}", version=EVIL)
        r["latency_ms"].update(p50=1.0 + i, p90=2.0 + i, mean=1.5 + i)
        results.append(r)
    results.append(new_result(model=EVIL, artifact=EVIL_FILE, error=EVIL))
    _clean(_render(render_table(results)))
    _clean(to_markdown(results))
    path, note = plot(results, tmp_path / "report.png")
    assert path is not None and path.is_file() and path.stat().st_size > 1000, note
