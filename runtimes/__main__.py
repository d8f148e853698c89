"""Device-side entry point: `python -m edgevit.runtimes bench ...` / `python -m edgevit.runtimes info`.

This is what `edgevit bench` runs in a child process for every artifact (so a runtime that crashes on a bad file
cannot take the bench down), and what `--device ssh://...` runs on a Raspberry Pi. Torch-free, stdlib argparse.

`bench` prints one result (schema in `edgevit.runtimes.bench`) as JSON on stdout, or to `--json-out FILE`.
Anything a runtime prints on stdout (C++ logging included) is moved to stderr so stdout stays clean JSON.
Exit status: 0 ok, 3 the result is an error / unsupported (its JSON still written), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """`key=value` strings -> dict (ints and floats converted)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--option expects key=value, got {item!r}")
        v: Any = value
        for conv in (int, float):
            try:
                v = conv(value)
                break
            except ValueError:
                continue
        out[key.strip()] = v
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgevit.runtimes", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="bench one artifact with one runtime; print the result JSON")
    b.add_argument("--artifact", required=True)
    b.add_argument("--runtime", default=None, help="onnx | tflite | coreml | executorch | torch (default: by file)")
    b.add_argument("--threads", type=int, default=None)
    b.add_argument("--runs", type=int, default=100)
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--time", type=float, default=None, dest="time_budget_s", help="time budget (s) for timed runs")
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--large-batch", type=int, default=32)
    b.add_argument("--data", default=None, help="eval set: digits (shipped) | FILE.npz | an edgevit.data spec")
    b.add_argument("--limit", type=int, default=None, help="use the first N eval images")
    b.add_argument("--option", action="append", help="runtime option key=value (repeatable)")
    b.add_argument("--reference-logits", default=None, help=".npy logits of a reference on the same eval set")
    b.add_argument("--reference-name", default=None)
    b.add_argument("--save-logits", default=None, help="write this run's eval-set logits (.npy)")
    b.add_argument("--json-out", default="-")
    b.add_argument("--device", default="local", help="label recorded in the result")
    b.add_argument("--machine-name", default=None, help="machine label for the result (default: host name)")
    sub.add_parser("info", help="machine facts and which runtimes import here (JSON)")
    sub.add_parser("predict", add_help=False, help="top-k labels of image files: predict IMAGE... --artifact PATH")
    sub.add_parser("describe", add_help=False, help="what is inside an artifact: describe PATH [--json]")
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
    if argv[:1] == ["predict"]:  # its own parser and output (table or --json), not the bench JSON protocol
        from edgevit.runtimes.predict import main as predict_main

        return predict_main(argv[1:])
    if argv[:1] == ["describe"]:
        from edgevit.runtimes.describe import main as describe_main

        return describe_main(argv[1:])
    args = _parser().parse_args(argv)
    # keep our stdout for the JSON; everything else printed on fd 1 (runtimes' C++ logs) goes to stderr
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if args.cmd == "info":
        from edgevit.runtimes.machine import machine_facts

        real_stdout.write(json.dumps({"machine": machine_facts(), "packages": _runtime_versions(),
                                      "python": sys.executable}) + "\n")
        real_stdout.flush()
        return 0
    return _bench(args, real_stdout)


def _bench(args: argparse.Namespace, real_stdout: Any) -> int:
    import numpy as np

    from edgevit.runtimes.base import runtime_for_path
    from edgevit.runtimes.bench import BenchConfig, bench_artifact, new_result
    from edgevit.runtimes.files import atomic_write_text

    if args.machine_name:
        os.environ["EDGEVIT_MACHINE"] = args.machine_name
    cfg = BenchConfig(warmup=args.warmup, runs=args.runs, time_budget_s=args.time_budget_s, batch=args.batch,
                      large_batch=args.large_batch, eval_limit=args.limit)
    from edgevit.errors import EdgevitError

    try:
        runtime = args.runtime or runtime_for_path(args.artifact)
        reference = np.load(args.reference_logits, allow_pickle=False) if args.reference_logits else None
        r, logits = bench_artifact(args.artifact, runtime, threads=args.threads, options=parse_options(args.option),
                                   cfg=cfg, data=args.data, reference=reference, reference_name=args.reference_name)
    except (EdgevitError, OSError, ValueError) as e:
        r, logits = new_result(artifact=args.artifact, error=str(e)), None
        r["runtime"]["name"] = args.runtime
    r["device"] = args.device
    if args.save_logits and logits is not None:
        Path(args.save_logits).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.save_logits, logits)
    text = json.dumps(r, indent=2, default=str) + "\n"
    if args.json_out == "-":
        real_stdout.write(text)
        real_stdout.flush()
    else:
        atomic_write_text(args.json_out, text)
    return 0 if r["status"] == "ok" else 3


if __name__ == "__main__":
    sys.exit(main())
