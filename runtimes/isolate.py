"""Run untrusted models in child processes: one bench per child (`bench_in_subprocess`), and the streaming
child of `predict` (`streaming_child` + `json_lines`: one JSON line per image, so a crash loses one file only).

Run one bench in a child process (`python -m edgevit.runtimes bench ...`) so that a runtime which crashes on a
corrupt file (segfault, abort, hang) produces an error result instead of killing the bench process.

Each child also gives each runtime a clean process: its own peak RSS, its own thread pool (ExecuTorch can size
its pool only once per process), no runtime loaded beside another.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from edgevit.runtimes.bench import new_result
from edgevit.runtimes.job import BenchJob


def tail_line(stderr: str) -> str:
    """The last meaningful line of a child's stderr (skipping blank lines and traceback furniture)."""
    for line in reversed((stderr or "").strip().splitlines()):
        line = line.strip()
        if line and not line.startswith(("File ", "^", "~")) and line != "Traceback (most recent call last):":
            return line[:400]
    return ""


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"crashed with {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with status {rc}"


def parse_child_output(stdout: str, stderr: str, rc: int, artifact: str, runtime: str | None,
                       where: str = "") -> dict[str, Any]:
    """The result JSON a child printed, or an error result saying how the child died."""
    text = stdout.strip()
    if text:
        try:
            r = json.loads(text[text.index("{"):])
            if isinstance(r, dict) and "schema" in r:
                return r
        except (ValueError, RecursionError):
            pass
    what = f"the {runtime or 'runtime'} bench{where} {describe_exit(rc)} on {artifact}"
    detail = tail_line(stderr)
    r = new_result(artifact=str(artifact), error=what + (f": {detail}" if detail else ""))
    r["runtime"]["name"] = runtime
    return r


def bench_in_subprocess(job: BenchJob, *, timeout: float | None = 900.0, python: str | None = None,
                        env: dict[str, str] | None = None) -> dict[str, Any]:
    """Bench one job in a fresh `python -m edgevit.runtimes` child; always returns a result dict."""
    argv = [python or sys.executable, "-m", "edgevit.runtimes"] + job.to_argv()
    artifact, runtime = job.artifact, job.runtime
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        r = new_result(artifact=str(artifact), error=f"the {runtime} bench of {artifact} timed out after {timeout:g} s")
        r["runtime"]["name"] = runtime
        return r
    except OSError as e:
        r = new_result(artifact=str(artifact), error=f"cannot start {argv[0]}: {e}")
        r["runtime"]["name"] = runtime
        return r
    return parse_child_output(proc.stdout, proc.stderr, proc.returncode, str(artifact), runtime)


# ------------------------------------------------------------------------------- streaming children (predict)


class ChildFailed(Exception):
    """A streaming child stopped before it finished: died by a signal, exited, or went silent past its timeout."""

    def __init__(self, how: str, detail: str = "") -> None:
        super().__init__(how + (f": {detail}" if detail else ""))
        self.how, self.detail = how, detail


@contextlib.contextmanager
def streaming_child(argv: list[str], *, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """A child with its stdout piped (JSON lines) and stderr kept in a temp file for the error line.

    Whatever ends the `with` (the end of the lines, a timeout, Ctrl-C in the parent), the child is killed and
    reaped: an untrusted model looping in C++ (where SIGINT is not seen) cannot outlive the command.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
        proc.stderr_file = err  # type: ignore[attr-defined]
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]


def json_lines(proc: subprocess.Popen, timeout: float | None) -> Iterator[dict[str, Any]]:
    """The JSON objects a child prints one per line; ChildFailed when it dies or prints nothing for `timeout` s.

    A clean end (exit status 0 after its last line) just ends the iteration.
    """
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            if not sel.select(timeout):
                proc.kill()
                raise ChildFailed(f"stopped after {timeout:g} s without an answer (timed out)")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(obj, dict):
                    yield obj
    rc = proc.wait()
    if rc != 0:
        err = proc.stderr_file  # type: ignore[attr-defined]
        err.seek(0)
        raise ChildFailed(describe_exit(rc), tail_line(err.read()[-20000:].decode("utf-8", "replace")))
