"""`predict`: run an exported model on the user's own image files, torch-free.

This is the work behind `edgevit predict` (the one command line, typer, torch-free at import: a Raspberry Pi
with the `pi` extra runs `edgevit predict photo.jpg --artifact model/`, or `python -m edgevit.runtimes predict`,
which hands over to the same command). Images are read with Pillow and preprocessed only by the artifact's
`edgevit.json` (through the harness), one at a time, so every file gets its own latency and its own error: a
non-image, a truncated file or a channel mismatch under `--strict-channels` fails that file only; failures are
listed at the end and make the exit status non-zero. An artifact without its contract is one clear error
(nothing is guessed). The model runs in `predict-worker` child processes (`predict_isolated`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ContractError, EdgevitError, RuntimeHarnessError
from edgevit.runtimes.base import Harness, expand_artifacts, is_checkpoint_dir, open_harness, runtime_for_path
from edgevit.runtimes.contract import CONTRACT_FILENAME, find_contract, softmax
from edgevit.runtimes.files import one_line
from edgevit.runtimes.images import (
    IMAGE_SUFFIXES,
    input_notes,
    read_image,
)
from edgevit.runtimes.safe_text import terminal_safe

PROB_KINDS = ("probabilities", "probs", "softmax")  # contract output kinds that are already probabilities


@dataclass
class FileResult:
    path: str
    ok: bool = False
    top: list[dict[str, Any]] = field(default_factory=list)  # [{"label", "index", "prob"}], best first
    latency_ms: float | None = None  # model run only (after one warm-up run)
    preprocess_ms: float | None = None
    size: list[int] | None = None  # [height, width] as read
    channels: int | None = None  # 1 (grey) or 3 (colour) as read
    notes: list[str] = field(default_factory=list)
    error: str | None = None


# ------------------------------------------------------------------------------------------------ inputs


def list_inputs(inputs: list[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Files to predict (folders walked recursively, hidden files skipped) and per-path errors."""
    files: list[Path] = []
    errors: list[FileResult] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():  # in a folder only image files count (a README or labels.txt beside them is no error)
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                errors.append(FileResult(str(p), error="folder holds no image files ("
                                         + ", ".join(sorted(IMAGE_SUFFIXES)) + ")"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            errors.append(FileResult(str(p), error="no such file or folder"))
    return files, errors



def top_k(logits: np.ndarray, labels: list[str], k: int, output_kind: str = "logits") -> list[dict[str, Any]]:
    """Top-k (label, index, probability) of one row of model outputs."""
    row = np.asarray(logits, dtype=np.float64).reshape(-1)
    probs = row if output_kind in PROB_KINDS else softmax(row[None])[0]
    order = np.argsort(-probs, kind="stable")[: max(1, min(k, len(labels)))]
    return [{"label": labels[i], "index": int(i), "prob": float(probs[i])} for i in order]


# ----------------------------------------------------------------------------------------------- running


@contextlib.contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Runtimes' C++ logging writes to fd 1; move it to stderr meanwhile so stdout holds only our output."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def predict_files(h: Harness, files: list[Path], k: int = 3, strict_channels: bool = False) -> list[FileResult]:
    """Read, preprocess and run each file on its own; one warm-up run precedes the first timed one."""
    return list(iter_predictions(h, files, k, strict_channels))


def iter_predictions(h: Harness, files: list[Path], k: int = 3, strict_channels: bool = False
                     ) -> Iterator[FileResult]:
    """`predict_files` one result at a time (the isolated child prints each as soon as it is known)."""
    c = h.contract
    kind = str(c.output.get("kind", "logits"))
    warm = False
    for f in files:
        r = FileResult(str(f))
        try:
            img = read_image(f)
            r.size, r.channels = [int(img.shape[0]), int(img.shape[1])], 1 if img.ndim == 2 else 3
            r.notes = input_notes(img, c.preprocess, strict_channels)
            t0 = time.perf_counter()
            x = h.preprocess(img[None])
            r.preprocess_ms = (time.perf_counter() - t0) * 1e3
            if not warm:
                h.run(x)
                warm = True
            t0 = time.perf_counter()
            y = h.run(x)
            r.latency_ms = (time.perf_counter() - t0) * 1e3
        except (EdgevitError, OSError, RuntimeError, ValueError, MemoryError) as e:
            r.error, r.preprocess_ms = one_line(e, 300), None
            yield r
            continue
        r.ok, r.top = True, top_k(y[0], c.labels, k, kind)
        yield r


def _check_artifact(artifact: Path) -> None:
    """Clear errors for the artifact mistakes users make: no contract, a folder of several exports."""
    if not artifact.exists():
        raise RuntimeHarnessError(f"artifact {artifact} does not exist")
    if is_checkpoint_dir(artifact):
        return
    many = expand_artifacts(artifact)
    if len(many) > 1:
        raise RuntimeHarnessError(f"{artifact} holds {len(many)} artifacts; pick one: "
                                  + ", ".join(str(m) for m in many))
    try:
        find_contract(artifact)
    except ContractError:
        raise ContractError(f"{artifact} has no {CONTRACT_FILENAME} beside it: predict preprocesses images only "
                            "as the artifact's contract says (re-export with `edgevit export`, which writes it)"
                            ) from None


def latency_summary(results: list[FileResult]) -> dict[str, float] | None:
    t = np.array([r.latency_ms for r in results if r.ok and r.latency_ms is not None])
    return {"mean": float(t.mean()), "p50": float(np.percentile(t, 50)), "p90": float(np.percentile(t, 90)),
            "min": float(t.min()), "max": float(t.max())} if t.size else None


DEFAULT_TIMEOUT_S = 120.0  # per step of the isolated child: loading the model, then each image


def run_predict(inputs: list[str | Path], artifact: str | Path, runtime: str | None = None, topk: int = 3,
                threads: int | None = None, strict_channels: bool = False, *, isolate: bool = True,
                timeout: float | None = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """The whole command as data: predict every file, return the JSON-able report.

    `isolate` (the default): the model runs in a child process (`predict_isolated`), so a runtime that crashes
    or loops on an untrusted model costs one file's result, not the command.
    """
    if topk < 1:
        raise RuntimeHarnessError(f"--topk must be at least 1, got {topk}")
    artifact = Path(artifact)
    _check_artifact(artifact)
    files, missing = list_inputs(inputs)
    if isolate:
        head, results = predict_isolated(artifact, runtime, files, topk, threads, strict_channels, timeout)
        results = missing + results
    else:
        with native_stdout_to_stderr():
            h = open_harness(artifact, runtime, threads=threads)
            try:
                results = missing + predict_files(h, files, topk, strict_channels)
                head = _head(h)
            finally:
                h.close()
    ok = sum(r.ok for r in results)
    return {"artifact": str(artifact), **head, "topk": topk, "warmup_runs": 1,
            "files": [asdict(r) for r in results],
            "summary": {"files": len(results), "ok": ok, "failed": len(results) - ok,
                        "latency_ms": latency_summary(results)}}


def _head(h: Harness) -> dict[str, Any]:
    """The report's fields about the model and the runtime (what the isolated child sends first)."""
    c = h.contract
    return {"model": c.model.get("name"), "runtime": h.info().to_dict(), "precision": c.precision,
            "input": {"shape": list(c.input_shape), "layout": c.layout}, "load_ms": h.load_time_ms}


def predict_isolated(artifact: Path, runtime: str | None, files: list[Path], topk: int, threads: int | None,
                     strict_channels: bool, timeout: float | None = DEFAULT_TIMEOUT_S
                     ) -> tuple[dict[str, Any], list[FileResult]]:
    """Predict in `python -m edgevit.runtimes predict-worker JOB FILE...` children, one JSON line per file.

    A child that dies (segfault, abort) or stays silent past `timeout` costs the file it was on: that file gets
    the error and a fresh child goes on with the rest. A child that fails before its first file (the model does
    not load) is one error for the artifact. Ctrl-C kills the child (see `streaming_child`).
    """
    from edgevit.runtimes.isolate import ChildFailed, json_lines, streaming_child

    try:
        name = runtime or runtime_for_path(artifact)  # reads the contract only, for the error messages
    except EdgevitError:
        name = "runtime"
    worker = WorkerJob(str(artifact), runtime, topk, threads, strict_channels)
    head: dict[str, Any] | None = None
    results: list[FileResult] = []
    todo = list(files)
    while todo or head is None:
        argv = [sys.executable, "-m", "edgevit.runtimes", WORKER_COMMAND, worker.to_json(), *map(str, todo)]
        with streaming_child(argv) as proc:
            try:
                for msg in json_lines(proc, timeout):
                    if msg.get("kind") == "error":
                        raise (ContractError if msg.get("type") == "ContractError" else RuntimeHarnessError)(
                            str(msg.get("error")))
                    if msg.get("kind") == "head":
                        head = {k: msg.get(k) for k in ("model", "runtime", "precision", "input", "load_ms")}
                        name = (msg.get("runtime") or {}).get("name") or name
                    elif msg.get("kind") == "file" and todo:
                        results.append(FileResult(**{k: msg.get(k) for k in FileResult.__dataclass_fields__
                                                     if k in msg}))
                        todo.pop(0)
                return _finish(head, results)
            except ChildFailed as e:
                if head is None:
                    raise RuntimeHarnessError(f"the {name} runtime {e.how} while loading {artifact}"
                                              + (f": {e.detail}" if e.detail else "")) from None
                if not todo:
                    return _finish(head, results)
                results.append(FileResult(str(todo.pop(0)), error=f"the {name} runtime {e.how} on this file"
                                          + (f" ({e.detail})" if e.detail else "")))
    return _finish(head, results)


def _finish(head: dict[str, Any] | None, results: list[FileResult]) -> tuple[dict[str, Any], list[FileResult]]:
    if head is None:
        raise RuntimeHarnessError("the predict child ended without loading the model")
    return head, results


@dataclass(frozen=True)
class WorkerJob:
    """What one predict child runs: the parent writes it as JSON on the child's command line, before the files."""

    artifact: str
    runtime: str | None
    topk: int
    threads: int | None
    strict_channels: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerJob:
        d = json.loads(text)
        kinds = {"artifact": str, "runtime": (str, type(None)), "topk": int, "threads": (int, type(None)),
                 "strict_channels": bool}
        if not isinstance(d, dict) or set(d) != set(kinds) or not all(isinstance(d[k], t) for k, t in kinds.items()):
            raise ValueError(f"a predict worker job is an object with exactly {', '.join(kinds)}")
        return cls(**d)


WORKER_COMMAND = "predict-worker"  # `python -m edgevit.runtimes predict-worker JOB FILE...` (internal)


def worker_main(argv: list[str]) -> int:
    """The child side of `predict_isolated`: JSON lines on the real stdout, runtime logs moved to stderr."""
    if not argv:
        sys.stderr.write(f"usage: python -m edgevit.runtimes {WORKER_COMMAND} JOB_JSON FILE...\n")
        return 2
    try:
        job = WorkerJob.from_json(argv[0])
    except ValueError as e:
        sys.stderr.write(f"error: {one_line(e)}\n")
        return 2
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def emit(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        h = open_harness(Path(job.artifact), job.runtime, threads=job.threads)
    except EdgevitError as e:
        emit({"kind": "error", "type": type(e).__name__, "error": str(e)})
        return 1
    emit({"kind": "head", **_head(h)})
    for r in iter_predictions(h, [Path(f) for f in argv[1:]], job.topk, job.strict_channels):
        emit({"kind": "file", **asdict(r)})
    h.close()
    return 0


def failure_line(report: dict[str, Any]) -> str | None:
    """One line naming the failed files (None when all went well)."""
    bad = [f for f in report["files"] if not f["ok"]]
    if not bad:
        return None
    names = "; ".join(f"{Path(f['path']).name}: {f['error']}" for f in bad[:3])
    more = f"; and {len(bad) - 3} more (listed above)" if len(bad) > 3 else ""
    return f"{len(bad)} of {len(report['files'])} files could not be predicted: {names}{more}"


# ----------------------------------------------------------------------------------------------- output


def _console(stderr: bool = False) -> Any:
    from edgevit.runtimes.console import make_console

    return make_console(stderr=stderr)


def render_report(report: dict[str, Any]) -> Any:
    """A rich table (file -> top-1 and its probability, the other top-k, ms per image, notes or the error) and
    a summary line with the latency."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from edgevit.runtimes.report import runtime_cell

    rt, files = report["runtime"], report["files"]
    title = (f"{report['model']} · {runtime_cell(rt)} · {report['precision']}"
             f"{' · ' + str(rt['threads']) + ' threads' if rt.get('threads') else ''}")
    t = Table(title=Text(terminal_safe(title)), title_justify="left")
    notes = any(f["notes"] or not f["ok"] for f in files)
    cols = [("file", "left"), ("prediction", "left"), ("prob", "right"), ("next", "left"), ("ms", "right")]
    for col, just in cols + ([("note", "left")] if notes else []):
        t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for f in files:
        if not f["ok"]:
            t.add_row(Text(terminal_safe(f["path"]), style="red"), Text("—", style="red"), "", "", "",
                      Text(f"error: {terminal_safe(f['error'])}", style="red"))
            continue
        best, rest = f["top"][0], f["top"][1:]
        row = [Text(terminal_safe(f["path"])), Text(terminal_safe(best["label"]), style="bold"),
               f"{best['prob']:.1%}",
               Text(terminal_safe(", ".join(f"{o['label']} {o['prob']:.1%}" for o in rest))),
               f"{f['latency_ms']:.2f}"]
        t.add_row(*row, *([Text(terminal_safe("; ".join(f["notes"])), style="dim")] if notes else []))
    s, lat = report["summary"], report["summary"]["latency_ms"]
    line = f"{s['ok']} of {s['files']} files predicted"
    if lat:
        line += (f"; {lat['mean']:.2f} ms per image mean, {lat['p50']:.2f} p50, {lat['max']:.2f} max "
                 f"(model run only, after 1 warm-up run)")
    if report.get("load_ms") is not None:
        line += f"; model load {report['load_ms']:.0f} ms"
    return Group(t, Text(line, style="dim"))


def show_report(report: dict[str, Any], as_json: bool) -> None:
    """JSON on stdout, or the table; callers end with `failure_line` as the error that sets the exit status."""
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        sys.stdout.flush()
    else:
        _console().print(render_report(report))


def resolve_target(artifact: str | Path | None, checkpoint: str | Path | None,
                   runtime: str | None) -> tuple[Path, str | None]:
    """--artifact / --checkpoint (exactly one) -> (path, runtime); a checkpoint runs in torch."""
    if (artifact is None) == (checkpoint is None):
        raise RuntimeHarnessError("give exactly one of --artifact PATH or --checkpoint DIR")
    if checkpoint is not None:
        if runtime not in (None, "torch"):
            raise RuntimeHarnessError(f"--checkpoint runs in torch; export it to run with {runtime} "
                                      "(edgevit export --checkpoint DIR --target ...)")
        return Path(checkpoint), "torch"
    return Path(artifact), runtime  # type: ignore[arg-type]
