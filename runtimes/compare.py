"""Several artifacts x runtimes x thread counts in one call -> one list of results (what `edgevit bench` runs).

Planning: each artifact (a folder of exported artifacts expands to its sub-folders) pairs with every requested
runtime that runs it (by file suffix / contract; checkpoints pair with `torch`); with no `--runtime`, each
artifact gets its own runtime. A torch job, or `--reference CKPT`, runs first and its eval-set logits become the
reference (top-1 agreement, max abs diff) of every other job of the same model. Every local job runs in a
child process (`isolate`); `ssh://` jobs run on the device, `adb` jobs through benchmark_model. torch jobs
always run here (a device has no torch).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.base import expand_artifacts, is_checkpoint_dir, runtime_for_path
from edgevit.runtimes.bench import run_job
from edgevit.runtimes.contract import load_contract
from edgevit.runtimes.evalset import SHIPPED, EvalSet, load_eval_set
from edgevit.runtimes.isolate import bench_in_subprocess
from edgevit.runtimes.job import BenchJob
from edgevit.runtimes.remote import parse_device


@dataclass
class Job:
    artifact: Path
    runtime: str
    threads: int | None
    reference: bool = False  # its logits become the reference of the same model's other jobs

    @property
    def model(self) -> str | None:
        if self.runtime == "torch" and is_checkpoint_dir(self.artifact):
            return None  # known once it ran
        try:
            return str(load_contract(self.artifact).model.get("name"))
        except Exception:
            return None


def plan_jobs(artifacts: list[str | Path], runtimes: list[str] | None, threads: list[int | None] | None = None,
              reference: str | Path | None = None) -> list[Job]:
    paths = [p for a in artifacts for p in expand_artifacts(a)]
    if not paths and reference is None:
        raise RuntimeHarnessError("nothing to bench: pass --artifact PATH (an exported artifact or its folder)")
    threads = list(threads or [None])
    jobs: list[Job] = []
    if reference is not None:
        jobs += [Job(Path(reference), "torch", t, reference=True) for t in threads[:1]]
    used: set[str] = set()
    for p in paths:
        own = runtime_for_path(p)
        wanted = [own] if not runtimes else [r for r in runtimes if r == own]
        if not wanted:
            continue
        used.update(wanted)
        jobs += [Job(p, rt, t, reference=(rt == "torch")) for rt in wanted for t in threads]
    if runtimes and "torch" in runtimes and "torch" not in used and reference is None:
        # no checkpoint folder given: the checkpoints the exported artifacts came from (their contracts say)
        for ckpt in _source_checkpoints(paths):
            jobs = [Job(ckpt, "torch", t, reference=True) for t in threads] + jobs
            used.add("torch")
    missing = [r for r in (runtimes or []) if r not in used and not (r == "torch" and reference is not None)]
    if missing:
        raise RuntimeHarnessError(f"no artifact among {[str(p) for p in paths]} runs with {', '.join(missing)} "
                                  "(each runtime needs its own file: .onnx, .tflite, .mlpackage, .pte, or a "
                                  "checkpoint folder for torch)")
    if not jobs:
        raise RuntimeHarnessError("no artifact matched the requested runtimes")
    return sorted(jobs, key=lambda j: not j.reference)


def _source_checkpoints(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        try:
            src = load_contract(p).source.get("checkpoint")
        except Exception:
            continue
        if src and Path(src).is_dir() and Path(src) not in found:
            found.append(Path(src))
    return found


@dataclass
class CompareOptions:
    """How to run the planned jobs; `job` is the template every job starts from (protocol, options, data)."""

    job: BenchJob = field(default_factory=BenchJob)
    device: str | None = None
    isolate: bool = True
    timeout: float = 900.0
    remote_python: str = "python3"
    ssh_options: list[str] = field(default_factory=list)
    benchmark_model: str | None = None
    adb: str = "adb"
    # dataset spec -> EvalSet; the workstation passes edgevit.data.evalset.load_eval_set (a device reads only
    # the shipped digits or an .npz, which is what this default does)
    load_eval_set: Callable[[str, int | None], EvalSet] = load_eval_set
    # checkpoint folder -> the eval set its torch reference is scored on (the workstation passes the dataset it
    # was trained on, as its exports were validated on); None: the shipped digits
    checkpoint_eval_set: Callable[[Path], str] | None = None


def run_jobs(jobs: list[Job], opts: CompareOptions, progress: Any = None) -> list[dict[str, Any]]:
    """Run planned jobs; returns one result per job (errors are results with status 'error', not exceptions,
    except an unreachable device, which raises)."""
    device = parse_device(opts.device)
    results: list[dict[str, Any]] = []
    refs: dict[str | None, Path] = {}
    with tempfile.TemporaryDirectory(prefix="edgevit-bench-") as tmp:
        tmpdir = Path(tmp)
        data_files: dict[str, Path] = {}
        ssh = adb = None
        if device.kind == "ssh":
            from edgevit.runtimes.remote import SSHDevice

            ssh = SSHDevice(device, python=opts.remote_python, options=opts.ssh_options)
            ssh.check()
        elif device.kind == "adb":
            from edgevit.runtimes.adb import ADBDevice

            adb = ADBDevice(device, benchmark_model=opts.benchmark_model or "", adb=opts.adb)
        for i, job in enumerate(jobs):
            if progress:
                where = f" on {device}" if device.kind != "local" and job.runtime != "torch" else ""
                progress(f"[{i + 1}/{len(jobs)}] {job.runtime} {job.artifact}{where}"
                         + (f" ({job.threads} threads)" if job.threads else ""))
            spec = _data_spec(job, opts)
            data_npz = (_data_npz(spec, opts, tmpdir, data_files) if spec != SHIPPED else None)
            model = job.model
            ref = refs.get(model) if model in refs else (next(iter(refs.values())) if len(refs) == 1 else None)
            ref_name = "torch" if ref is not None else None
            save = tmpdir / f"logits-{i}.npy" if job.reference else None
            bench_job = dataclasses.replace(
                opts.job, artifact=str(job.artifact), runtime=job.runtime, threads=job.threads,
                data=str(data_npz) if data_npz is not None else None,
                reference_logits=str(ref) if ref is not None and not job.reference else None,
                reference_name=ref_name if not job.reference else None)
            if job.runtime == "torch" or device.kind == "local":
                r = _local(dataclasses.replace(bench_job, save_logits=str(save) if save else None), opts)
            elif ssh is not None:
                r = ssh.bench(bench_job)
            else:
                r = adb.bench(bench_job)
            if job.reference and save is not None and save.exists() and r.get("status") == "ok":
                refs[r.get("model")] = save
            results.append(r)
    return results


def _data_spec(job: Job, opts: CompareOptions) -> str:
    """The eval set of one job: --data, else the checkpoint's own (a torch job), else the contract's."""
    if opts.job.data:
        return opts.job.data
    if job.runtime == "torch" and opts.checkpoint_eval_set is not None:
        try:
            return opts.checkpoint_eval_set(Path(job.artifact))
        except Exception:  # an unreadable checkpoint: its own job reports why
            return SHIPPED
    try:
        spec = load_contract(job.artifact).eval_set or SHIPPED
    except Exception:
        return SHIPPED
    if spec.startswith("npz:") or spec.endswith(".npz"):  # a contract must not make the bench read a file:
        return SHIPPED  # left to the bench child, which refuses it for that artifact (`load_eval_set`)
    return spec


def _data_npz(spec: str, opts: CompareOptions, tmpdir: Path, cache: dict[str, Path]) -> Path:
    """A non-shipped eval set, loaded here once and written as .npz (what children and devices read)."""
    if spec not in cache:
        path = Path(spec[4:] if spec.startswith("npz:") else spec)
        if path.suffix == ".npz" and path.is_file():
            cache[spec] = path
        else:
            evalset = opts.load_eval_set(spec, opts.job.protocol.eval_limit)
            cache[spec] = evalset.save(tmpdir / f"eval-{len(cache)}.npz")
    return cache[spec]


def _local(job: BenchJob, opts: CompareOptions) -> dict[str, Any]:
    if opts.isolate:
        return bench_in_subprocess(job, timeout=opts.timeout)
    return run_job(job)[0]
