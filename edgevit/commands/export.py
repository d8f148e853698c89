"""`edgevit export`: checkpoint -> validated artifacts (+ edgevit.json) for onnx / coreml / tflite / executorch."""

from __future__ import annotations

import json
from pathlib import Path

import typer

_HELP = """Export a checkpoint with static MoE routing, validate it in its runtime, write the contract.

Each artifact goes to OUT/<target>-<precision>[-<quant>][-nhwc][-image][-dense]/ (OUT defaults to
CHECKPOINT/export/) holding the model file and edgevit.json, published atomically once it validates.
Run `edgevit export --list` for what each target supports.
"""


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def format_list(width: int = 80) -> str:
    """`export --list` as plain text: one short block per target, wrapped to `width` (no table to squeeze,
    no rich markup to eat `edgevit[onnx]`)."""
    import textwrap

    from edgevit.export.formats import formats_rows

    blocks = []
    for r in formats_rows():
        lines = [f"{r['target']}: {r['format']}, {r['file']}  (pip install '{r['extra']}')"]
        for label, text in (("precision", r["precisions"]), ("int8", r["int8"]), ("layout", r["layouts"]),
                            ("metadata", r["metadata"]), ("flags", r["flags"])):
            if text:
                lines += textwrap.wrap(f"{label}: {text}", width, initial_indent="  ", subsequent_indent="    ",
                                       break_on_hyphens=False)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _precision(plan) -> str:
    """'int8 dynamic', 'fp32': the precision with its int8 scheme."""
    return plan.precision + (f" {plan.quant}" if plan.quant else "")


def _print_results(console, results) -> None:
    from rich.table import Table
    from rich.text import Text

    from edgevit.runtimes.console import fit_columns

    styles = {"[✓]": "green", "[x]": "bold red", "[-]": "dim"}
    for r in results:
        routing = "" if r.routing == "none" else f", {r.routing} routing"  # a dense ViT has no router
        console.print(Text(f"{r.plan.fmt.name} {_precision(r.plan)}{routing}", style="bold"))
        if r.report:
            for line in r.report.lines():
                console.print(Text("  " + line, style=styles.get(line[:3], "")))
        if r.error:
            console.print(Text(f"  [x] {r.error}", style="bold red"))
    headers = ["artifact", "precision", "size", "max diff", "top-1 agree", "accuracy", "time", "status"]
    rows = []
    for r in results:
        rep = r.report
        diff = f"{rep.max_abs_diff:.1e}" if rep and rep.max_abs_diff is not None else "-"
        agree = f"{rep.top1_agreement:.1%}" if rep and rep.top1_agreement is not None else "-"
        acc = f"{rep.accuracy:.1%}" if rep and rep.accuracy is not None else "-"
        if r.ok:
            status = "ok" + ("" if rep.numeric else " (structure only)")
        else:
            status = "invalid, kept" if r.published else "failed"
        where = r.folder.name if r.folder else f"{r.plan.tag} (not written)"
        rows.append([where, _precision(r.plan), _fmt_size(r.size_bytes) if r.size_bytes else "-", diff, agree, acc,
                     f"{r.total_seconds:.1f}s", status])
    # the artifact folder already names the precision; time and max diff matter least at a narrow terminal
    keep = fit_columns(headers, rows, console.width if console.is_terminal else None,
                       ["precision", "time", "max diff", "size"])
    t = Table(title="export summary", title_justify="left")
    for i in keep:
        t.add_column(headers[i], justify="left" if i in (0, 1, 7) else "right", no_wrap=True)
    for row in rows:
        t.add_row(*[Text(row[i], style=("green" if row[i].startswith("ok") else "red") if i == 7 else "")
                    for i in keep])
    console.print(t)
    roots = sorted({str(r.folder.parent) for r in results if r.folder})
    if roots:
        console.print(Text(f"artifacts in {', '.join(roots)}"), highlight=False)
    for r in results:
        if r.app_bundle is not None:
            console.print(Text(f"app bundle ({r.folder.name if r.folder else r.plan.tag}) in {r.app_bundle}"),
                          highlight=False)
    for line in _next_steps(results, roots):
        console.print(Text(line), highlight=False)


def _next_steps(results, roots: list[str]) -> list[str]:
    """What to run next: bench the published artifacts; on LiteRT, the faster int8 scheme when dynamic was used."""
    import shlex

    lines = [f"next: edgevit bench {shlex.quote(root)}" for root in roots if any(r.ok for r in results)]
    for r in results:
        if r.app_bundle is not None:
            app = "apps/android" if r.plan.fmt.name == "tflite" else "apps/ios"
            lines.append(f"next: build and run the sample app in {app} (its README.md says how)")
    if any(r.ok and r.plan.fmt.name == "tflite" and r.plan.quant == "dynamic" for r in results):
        lines.append("tip: --quant static (calibrated on the checkpoint's data) runs int8 faster on LiteRT")
    return lines


def _live_console(console):
    """The progress display writes to a duplicate of the terminal's fd: converters run with fds 1/2 silenced."""
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if console.stderr else sys.stdout
    try:
        if not stream.isatty():
            return console
        return Console(file=os.fdopen(os.dup(stream.fileno()), "w", buffering=1))
    except (OSError, ValueError, AttributeError):
        return console


def register(app: typer.Typer) -> None:
    @app.command("export", help=_HELP)
    def export(
        checkpoint: Path = typer.Option(None, "--checkpoint", "-c", help="Checkpoint directory (edgevit train output)."),
        target: str = typer.Option("onnx", "--target", "-t", help="onnx, coreml, tflite, executorch, comma-separated for several, or all (those installed here)."),
        precision: str = typer.Option(None, "--precision", "-p", help="fp32 | fp16 | int8, or several: fp32,int8 (default: the target's first; Core ML: fp16)."),
        routing: str = typer.Option("static", "--routing", help="static (per-image gather: only k experts run) | dense (all experts, masked)."),
        layout: str = typer.Option(None, "--layout", help="NCHW | NHWC input (tflite, coreml)."),
        quant: str = typer.Option(None, "--quant", help="int8 scheme: onnx dynamic|static, tflite dynamic|static|weight, executorch dynamic|static, coreml linear|palettize; the first is the default. static is calibrated on the checkpoint's data: fastest on LiteRT (see --list)."),
        out: Path = typer.Option(None, "--out", "-o", help="Parent folder of the artifacts (default CHECKPOINT/export)."),
        app_name: str = typer.Option(None, "--app", help="Also write the android (tflite) or ios (coreml) sample-app bundle."),
        app_out: Path = typer.Option(None, "--app-out", help="Bundle folder (default: the sample app's assets in this tree)."),
        keep_invalid: bool = typer.Option(False, "--keep-invalid", help="Publish an artifact even when validation fails (marked invalid)."),
        calib_images: int = typer.Option(None, "--calib-images", help="Real images for int8 static calibration (default 64)."),
        eval_images: int = typer.Option(128, "--eval-images", help="Real eval images used by validation."),
        min_agreement: float = typer.Option(None, "--min-agreement", help="Top-1 agreement with PyTorch an artifact needs (default: int8 0.9, else none)."),
        opset: int = typer.Option(None, "--opset", help="ONNX opset (>= 17; default 23: attention as one Attention op, onnxruntime >= 1.23)."),
        no_simplify: bool = typer.Option(False, "--no-simplify", help="ONNX: skip onnxslim."),
        image_input: bool = typer.Option(False, "--image-input", help="Core ML: image input + classifier labels (for Vision)."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
        list_targets: bool = typer.Option(False, "--list", help="Show the targets table and exit."),
    ) -> None:
        from edgevit.errors import ExportError
        from edgevit.runtimes.console import make_console

        console = make_console(stderr=as_json)
        if list_targets:
            typer.echo(format_list(min(console.width, 100) if console.is_terminal else 80))
            return
        if checkpoint is None:
            raise ExportError("--checkpoint DIR is required (a folder written by edgevit train)")
        from edgevit.export.pipeline import ExportRequest, export_checkpoint, plan_targets, raise_for_failures

        req = ExportRequest(checkpoint=checkpoint, targets=target, precision=precision, routing=routing,
                            layout=layout, quant=quant, out=out, calib_images=calib_images,
                            eval_images=eval_images, min_agreement=min_agreement, keep_invalid=keep_invalid,
                            options={"opset": opset, "no_simplify": no_simplify, "image_input": image_input},
                            app=app_name, app_out=app_out)
        for t, p, why in plan_targets(req)[1]:
            console.print(f"skipped {t} {p}: {why}", highlight=False, markup=False)
        if not console.is_terminal:  # piped or logged: no spinner (rich would leave a blank line behind)
            results = export_checkpoint(req)
        else:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=_live_console(console), transient=True) as prog:
                task = prog.add_task("loading checkpoint", total=None)

                def say(tag: str, msg: str) -> None:
                    prog.update(task, description=f"{tag}: {msg}")

                results = export_checkpoint(req, progress=say)
        _print_results(console, results)
        if as_json:
            typer.echo(json.dumps([{"target": r.plan.fmt.name, "precision": r.plan.precision, "quant": r.plan.quant,
                                    "routing": r.routing, "folder": str(r.folder) if r.folder else None,
                                    "app_bundle": str(r.app_bundle) if r.app_bundle else None,
                                    "size_bytes": r.size_bytes, "seconds": round(r.total_seconds, 2),
                                    "ok": r.ok, "error": r.error,
                                    "validation": r.report.to_dict() if r.report else None} for r in results],
                                  indent=2))
        raise_for_failures(results)
