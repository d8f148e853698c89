"""`edgevit benchmark --checkpoint DIR`: the one-shot benchmark (ultralytics' `yolo benchmark`).

Exports every target x precision available here (`export --target all --precision fp32,fp16,int8`; what is
not installed or not offered is skipped with its reason), validates each against PyTorch, benches each
artifact that validated, and prints one table: status per format, size, accuracy, top-1 agreement with the
torch reference, p50 and FPS; plus a result JSON per row, report.md and report.png in `--out`. It composes
the export pipeline and the bench, so it adds no new measurement, only the one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

ALL_PRECISIONS = "fp32,fp16,int8"


def _row(model: str, ckpt_id: str | None, target: str, precision: str, status: str, error: str) -> dict[str, Any]:
    """A table row for an export that did not reach the bench (skipped or failed), in the bench schema."""
    from edgevit.runtimes.bench import new_result

    r = new_result(model=model, checkpoint=ckpt_id, format=target, precision=precision, status=status, error=error,
                   artifact=f"{target}-{precision}")
    r["runtime"]["name"] = target
    return r


def register(app: typer.Typer) -> None:
    @app.command("benchmark")
    def benchmark(
        checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint folder (edgevit train output)."),
        target: str = typer.Option("all", "--target", "-t", help="Targets (default all installed here)."),
        precision: str = typer.Option(ALL_PRECISIONS, "--precision", "-p", help="Precisions, comma-separated."),
        out: Path = typer.Option(None, "--out", "-o", help="Folder for the artifacts and results "
                                 "(default runs/benchmark/<checkpoint's run>)."),
        threads: int = typer.Option(None, "--threads", help="Bench threads (default: each runtime's)."),
        runs: int = typer.Option(100, help="Timed runs per artifact."),
        data: str = typer.Option(None, help="Eval set (default: the checkpoint's own dataset, test split)."),
        limit: int = typer.Option(None, help="Use only the first N eval images."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
        plot: bool = typer.Option(None, "--plot/--no-plot", help="Write report.png (default: when matplotlib "
                                  "is installed)."),
    ) -> None:
        """Export every target x precision available here, validate, bench, and print one table."""
        from rich.text import Text

        from edgevit.commands.bench import _checkpoint_eval_set, _console, _load_eval_set, _outputs
        from edgevit.export.pipeline import ExportRequest, export_checkpoint, plan_targets
        from edgevit.runtimes.compare import CompareOptions, plan_jobs, run_jobs
        from edgevit.runtimes.job import BenchConfig, BenchJob

        ckpt = Path(checkpoint)
        out = out or Path("runs") / "benchmark" / (ckpt.parent.name if ckpt.name == "best" else ckpt.name)
        err = _console(stderr=True)
        req = ExportRequest(checkpoint=ckpt, targets=target, precision=precision, out=out / "export")
        plans, skipped = plan_targets(req)
        err.print(Text(f"exporting {len(plans)} artifact(s) to {out / 'export'}"
                       + (f", {len(skipped)} skipped" if skipped else ""), style="dim"), highlight=False)
        exports = export_checkpoint(req, progress=lambda tag, msg: err.print(Text(f"{tag}: {msg}", style="dim")))
        from edgevit.checkpoint import checkpoint_sha256, read_checkpoint_info
        from edgevit.runtimes.bench import checkpoint_id

        model = read_checkpoint_info(ckpt).model_name
        cid = checkpoint_id({"sha256": checkpoint_sha256(ckpt)})
        rows = [_row(model, cid, t, p, "unsupported", why) for t, p, why in skipped]
        rows += [_row(model, cid, r.plan.fmt.name, r.plan.precision, "error",
                      f"export: {r.error or 'validation failed'}") for r in exports if not r.ok]
        folders = [r.folder for r in exports if r.ok and r.folder]
        results: list[dict[str, Any]] = []
        if folders:
            cfg = BenchConfig(runs=runs, batch=1, eval_limit=limit)
            jobs = plan_jobs(folders, None, [threads] if threads else None, reference=ckpt)
            opts = CompareOptions(job=BenchJob(protocol=cfg, data=data), load_eval_set=_load_eval_set,
                                  checkpoint_eval_set=_checkpoint_eval_set)
            results = run_jobs(jobs, opts, progress=lambda msg: err.print(Text(msg, style="dim"), highlight=False))
        _outputs(results + rows, out / "results", as_json, plot, write_each=True)
        if not any(r.get("status") == "ok" for r in results):
            from edgevit.errors import EdgevitError

            raise EdgevitError("no artifact was benched: see the table for each format's reason")
