"""Device-side entry point: `python -m edgevit.runtimes bench ...` / `python -m edgevit.runtimes info`.

This is what `edgevit bench` runs in a child process for every artifact (so a runtime that crashes on a bad file
cannot take the bench down), and what `--device ssh://...` runs on a Raspberry Pi. Torch-free.

`bench` reads one `BenchJob` (`edgevit.runtimes.job`: flags generated from its fields, or `--job JSON`) and
prints one result (schema in `edgevit.runtimes.bench`) as JSON on stdout, or to `--json-out FILE`.
Anything a runtime prints on stdout (C++ logging included) is moved to stderr so stdout stays clean JSON.
Exit status: 0 ok, 3 the result is an error / unsupported (its JSON still written), 2 bad arguments.

`predict` and `describe` have no parser here: they are the typer commands `edgevit predict` and `edgevit info`
(torch-free at import, and the `pi` extra installs the `edgevit` command too), handed the same arguments.
`predict-worker` is the internal child of `predict` (`edgevit.runtimes.predict.predict_isolated`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgevit.runtimes.job import BenchJob


TYPER_COMMANDS = {"predict": "predict", "describe": "info"}  # device-side name -> `edgevit` command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgevit.runtimes", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("bench", add_help=False, help="bench one artifact with one runtime (flags: bench --help)")
    sub.add_parser("info", help="machine facts and which runtimes import here (JSON)")
    sub.add_parser("predict", add_help=False, help="= edgevit predict: top-k labels of image files")
    sub.add_parser("describe", add_help=False, help="= edgevit info: what is inside an artifact")
    return p


def _runtime_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in ("numpy", "onnxruntime", "ai-edge-litert", "tflite-runtime", "coremltools", "executorch", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in TYPER_COMMANDS:
        return _typer_command(TYPER_COMMANDS[argv[0]], argv[1:])
    if argv[:1] == ["predict-worker"]:  # edgevit.runtimes.predict.WORKER_COMMAND (internal)
        from edgevit.runtimes.predict import worker_main

        return worker_main(argv[1:])
    if argv[:1] == ["bench"]:  # flags generated from the BenchJob dataclass (edgevit.runtimes.job)
        from edgevit.runtimes.job import BenchJob, parser

        job = BenchJob.from_argv(argv[1:])
        return _bench(job, parser().parse_args(argv[1:]).json_out, _json_stdout())
    _parser().parse_args(argv)  # info, or a usage error (exit 2)
    real_stdout = _json_stdout()
    from edgevit.runtimes.machine import machine_facts

    real_stdout.write(json.dumps({"machine": machine_facts(), "packages": _runtime_versions(),
                                  "python": sys.executable}) + "\n")
    real_stdout.flush()
    return 0


def _typer_command(name: str, args: list[str]) -> int:
    """Run `edgevit NAME ARGS...` in this process and return its exit status."""
    from edgevit.cli import main as cli_main

    try:
        cli_main([name, *args])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def _json_stdout() -> Any:
    """Keep our stdout for the JSON; everything else printed on fd 1 (runtimes' C++ logs) goes to stderr."""
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return real_stdout


def _bench(job: BenchJob, json_out: str, real_stdout: Any) -> int:
    from edgevit.runtimes.bench import run_job
    from edgevit.runtimes.files import atomic_write_text

    r, _ = run_job(job)
    text = json.dumps(r, indent=2, default=str) + "\n"
    if json_out == "-":
        real_stdout.write(text)
        real_stdout.flush()
    else:
        atomic_write_text(json_out, text)
    return 0 if r["status"] == "ok" else 3


if __name__ == "__main__":
    sys.exit(main())
