"""Run one bench in a child process (`python -m edgevit.runtimes bench ...`) so that a runtime which crashes on a
corrupt file (segfault, abort, hang) produces an error result instead of killing the bench process.

Each child also gives each runtime a clean process: its own peak RSS, its own thread pool (ExecuTorch can size
its pool only once per process), no runtime loaded beside another.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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
        except ValueError:
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
