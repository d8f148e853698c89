"""How `edgevit predict` shows its report."""

from __future__ import annotations


def test_the_title_names_the_runtime_package_as_bench_does():
    """`predict` and `bench` name the same thing: the package whose version is shown (ai-edge-litert 2.3.0)."""
    import io

    from rich.console import Console

    from edgevit.runtimes.predict import render_report

    def title(runtime: dict) -> str:
        report = {"model": "m", "runtime": runtime, "precision": "int8", "files": [],
                  "summary": {"files": 0, "ok": 0, "failed": 0, "latency_ms": None}, "load_ms": 1.0,
                  "warmup_runs": 1}
        buf = io.StringIO()
        Console(file=buf, width=120).print(render_report(report))
        return buf.getvalue().splitlines()[0]

    assert "m · ai-edge-litert 2.3.0 · int8" in title({"name": "tflite", "version": "2.3.0", "threads": None,
                                                         "extra": {"package": "ai-edge-litert"}})
    assert "m · tflite 2.3.0 · int8" in title({"name": "tflite", "version": "2.3.0"})  # older reports
