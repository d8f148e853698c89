"""`edgevit bench`: latency / throughput / memory / accuracy of exported artifacts, on this machine or a device;
`edgevit bench report DIR...`: merge earlier results (from several machines) into one table and plot.

The work lives in the torch-free `edgevit.runtimes` (see `edgevit.runtimes.bench` for the protocol and the
JSON schema); this module is the typer glue. torch is imported only for `--runtime torch` / `--reference`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

RUNTIME_HELP = "onnx | tflite | coreml | executorch | torch (repeatable; default: each artifact's own runtime)"


def _console(stderr: bool = False):
    from edgevit.runtimes.console import make_console

    return make_console(stderr=stderr)


def _outputs(results: list[dict], out: Path | None, as_json: bool, plot: bool | None, write_each: bool) -> None:
    """Result JSONs, report.md, report.png and the table. `plot=None` (the default): the plot when matplotlib
    is installed, silently none when not (the pi extra has no matplotlib); `--plot`: say why there is none."""
    import json

    from edgevit.runtimes.bench import write_result
    from edgevit.runtimes.files import atomic_write_text
    from edgevit.runtimes.report import plot as make_plot
    from edgevit.runtimes.report import render_table, to_markdown

    err = _console(stderr=True)
    if out is not None:
        if write_each:
            for r in results:
                write_result(r, out)
        atomic_write_text(out / "report.md", to_markdown(results))
        note = ""
        if plot is not False:
            _, note = make_plot(results, out / "report.png")
        quiet = plot is None and "not installed" in note
        err.print(f"results: {out}/ (json per run, report.md{', report.png' if note.startswith('plot') else ''})"
                  + ("" if not note or note.startswith("plot") or quiet else f"; {note}"), highlight=False,
                  markup=False)
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        console = _console()
        console.print(render_table(results, width=console.width if console.is_terminal else None))


def _finish(results: list[dict]) -> None:
    from edgevit.errors import RuntimeHarnessError
    from edgevit.runtimes.bench import error_line

    bad = [r for r in results if r.get("status") == "error"]
    if bad or all(r.get("status") != "ok" for r in results):
        failed = bad or results
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise RuntimeHarnessError(f"{len(failed)} of {len(results)} benches failed: {error_line(failed[0])}{more}")


def _load_eval_set(spec: str, limit: int | None):
    """Dataset specs are read here, on the workstation (edgevit.data), and travel to the bench as an .npz."""
    from edgevit.data.evalset import load_eval_set

    return load_eval_set(spec, limit)


def _checkpoint_eval_set(checkpoint: Path) -> str:
    """A checkpoint is scored on its own dataset's test split, as its exports were validated (the shipped
    digits when that dataset is not on this machine, as `export` falls back): torch and its exports side by side
    then read the same images."""
    from edgevit.checkpoint import read_checkpoint_info
    from edgevit.data.evalset import split_or_shipped

    return split_or_shipped(read_checkpoint_info(checkpoint).dataset, "test", 1).name


class _BenchGroup(TyperGroup):
    """`edgevit bench PATH...` reads as `edgevit bench --artifact PATH...`.

    A group takes a positional word as a subcommand name, so a path (where no subcommand has that name and
    no option is waiting for its value) is rewritten into `--artifact PATH` before click parses the line.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        takes_value = {name for p in self.params if p.param_type_name == "option"
                       and not getattr(p, "is_flag", False) and not getattr(p, "count", False) for name in p.opts}
        out: list[str] = []
        i = 0
        while i < len(args):
            word = args[i]
            if word == "--" or (not word.startswith("-") and word in self.commands and not out):
                out += args[i:]  # the rest belongs to a subcommand (or is positional after `--`)
                break
            if word.startswith("-"):
                out.append(word)
                if word in takes_value and i + 1 < len(args):
                    out.append(args[i + 1])
                    i += 1
            else:
                out += ["--artifact", word]
            i += 1
        return super().parse_args(ctx, out)

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        return ["[OPTIONS] [ARTIFACT]...", "| report [OPTIONS] PATHS..."]


def register(app: typer.Typer) -> None:
    bench_app = typer.Typer(help="Benchmark exported artifacts (and merge results with `bench report`).",
                            invoke_without_command=True, no_args_is_help=False, cls=_BenchGroup)

    @bench_app.callback(invoke_without_command=True)
    def bench(
        ctx: typer.Context,
        artifact: list[Path] = typer.Option(None, "--artifact", "-a", help="Artifact file or folder (repeatable); "
                                            "a folder of exports expands to its sub-folders; a checkpoint for torch."),
        runtime: list[str] = typer.Option(None, "--runtime", "-r", help=RUNTIME_HELP),
        threads: list[int] = typer.Option(None, "--threads", "-t", help="Threads (repeatable: one bench each)."),
        runs: int = typer.Option(100, help="Timed runs."),
        warmup: int = typer.Option(10, help="Untimed warm-up runs."),
        time_budget: float = typer.Option(None, "--time", help="Time budget in seconds for timed runs (instead of --runs)."),
        batch: int = typer.Option(1, help="Batch size of the timed runs."),
        large_batch: int = typer.Option(32, help="Batch size for the throughput run (0: skip)."),
        data: str = typer.Option(None, help="Eval set: digits (shipped) | FILE.npz | a dataset spec (default: each artifact's own, "
                                 "named in its edgevit.json; a checkpoint's training dataset)."),
        limit: int = typer.Option(None, help="Use only the first N eval images."),
        reference: Path = typer.Option(None, help="Checkpoint whose torch logits are the top-1 agreement reference."),
        option: list[str] = typer.Option(None, "--option", "-O", help="Runtime option key=value (repeatable), e.g. "
                                         "provider=CPUExecutionProvider, delegate=none, compute_units=cpu_only."),
        device: str = typer.Option("local", help="local | ssh://user@host[:port] | adb[:SERIAL]"),
        remote_python: str = typer.Option("python3", help="Python with edgevit[pi] on the ssh device."),
        ssh_option: list[str] = typer.Option(None, "--ssh-option", help="Extra ssh -o option (repeatable)."),
        benchmark_model: str = typer.Option(None, help="On-phone path of LiteRT's benchmark_model (adb)."),
        adb: str = typer.Option("adb", help="adb executable."),
        out: Path = typer.Option(Path("runs/bench"), "--out", "-o",
                                 help="Folder for result JSONs, report.md and report.png."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
        plot: bool = typer.Option(None, "--plot/--no-plot", help="Write report.png (default: when matplotlib "
                                  "is installed)."),
        isolate: bool = typer.Option(True, "--isolate/--no-isolate", help="Run each bench in a child process."),
        timeout: float = typer.Option(900.0, help="Seconds before a bench child is stopped."),
    ) -> None:
        """Bench artifacts: edgevit bench PATH... (or --artifact PATH) [--runtime R] [--threads N] [--runs N]
        [--batch N] [--data SPEC] [--json] [--out DIR] [--device ssh://user@host | adb:SERIAL]."""
        if ctx.invoked_subcommand is not None:
            return
        from rich.text import Text

        from edgevit.runtimes.compare import CompareOptions, plan_jobs, run_jobs
        from edgevit.runtimes.job import BenchConfig, BenchJob, parse_options
        from edgevit.runtimes.safe_text import terminal_safe

        if not artifact and reference is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(code=2)
        cfg = BenchConfig(warmup=warmup, runs=runs, time_budget_s=time_budget, batch=batch,
                          large_batch=large_batch, eval_limit=limit)
        from edgevit.runtimes.remote import parse_device

        parse_device(device)  # a malformed --device fails before any artifact is read
        for n in threads or []:
            BenchJob(threads=n)  # a bad --threads fails before anything runs
        jobs = plan_jobs(list(artifact or []), list(runtime or []) or None, list(threads or []) or None, reference)
        template = BenchJob(options=parse_options(option), protocol=cfg, data=data)
        opts = CompareOptions(job=template, device=device, load_eval_set=_load_eval_set,
                              checkpoint_eval_set=_checkpoint_eval_set,
                              isolate=isolate, timeout=timeout, remote_python=remote_python,
                              ssh_options=list(ssh_option or []), benchmark_model=benchmark_model, adb=adb)
        err = _console(stderr=True)
        results = run_jobs(jobs, opts, progress=lambda msg: err.print(Text(terminal_safe(msg), style="dim"),
                                                                  highlight=False))
        _outputs(results, out, as_json, plot, write_each=True)
        _finish(results)

    @bench_app.command("report")
    def report(
        paths: list[Path] = typer.Argument(..., help="Result folders or JSON files (searched recursively)."),
        out: Path = typer.Option(None, "--out", "-o", help="Write report.md and report.png (and merged.json) here."),
        as_json: bool = typer.Option(False, "--json", help="Print the merged results as JSON."),
        plot: bool = typer.Option(None, "--plot/--no-plot", help="Write report.png (default: when matplotlib "
                                  "is installed)."),
    ) -> None:
        """Merge earlier results (several machines, the iOS/Android apps' files) into one table and plot."""
        import json

        from edgevit.errors import EdgevitError
        from edgevit.runtimes.files import atomic_write_text
        from edgevit.runtimes.report import load_results

        results = load_results(list(paths))
        if not results:
            raise EdgevitError(f"no edgevit bench results (schema edgevit.bench/1) in {', '.join(map(str, paths))}")
        if out is not None:
            atomic_write_text(out / "merged.json", json.dumps(results, indent=2, default=str) + "\n")
        _outputs(results, out, as_json, plot, write_each=False)

    app.add_typer(bench_app, name="bench")
