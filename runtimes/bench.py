"""The bench protocol, its statistics, and the one result schema every runtime (and device) writes.

Protocol (`bench_harness`): load (timed) -> logits for the whole eval set (accuracy, and top-1 agreement /
max abs diff against a reference's logits when given) -> `warmup` untimed calls -> timed calls on a real
preprocessed batch of `batch` images, `runs` of them or until `time_budget_s` is spent -> a few calls at
`large_batch` for throughput. Timing is `time.perf_counter_ns` around `Harness.run` only (preprocessing is
excluded: it is the same numpy code for every runtime).

Result schema `edgevit.bench/1` (one JSON object per artifact x runtime x machine; null = not measured)::

    {
      "schema": "edgevit.bench/1",
      "status": "ok" | "error" | "unsupported",   "error": null | "one line",
      "model": "mmoe_vit_xxs", "checkpoint": "1a2b3c4d" | null, "artifact": "out/onnx/model.onnx", "format": "onnx",
      "runtime": {"name": "onnx", "version": "1.31.1", "threads": 1, "provider": "CPUExecutionProvider",
                  "extra": {}},
      "precision": "fp32", "routing": "static", "batch": 1,
      "latency_ms": {"p50", "p90", "p99", "mean", "trimmed_mean", "std", "min", "max", "runs"},  # per call
      "throughput_ips": {"1": 1650.2, "32": 5120.7},    # images/s keyed by batch size
      "load_time_ms": 12.3, "peak_rss_mb": 88.1, "size_bytes": 1068000,
      "accuracy": 0.961, "eval_set": {"name": "digits", "n": 360},
      "top1_agreement": 1.0, "max_abs_diff": 2.1e-06, "reference": "torch",
      "validation": {...},          # the exporter's report from the contract, copied as is
      "machine": {"cpu", "cores", "arch", "os", "python", "hostname", "name"},
      "device": "local" | "ssh://pi@raspberrypi" | "adb:SERIAL",
      "source": "edgevit.runtimes" | "benchmark_model" | "ios-app",
      "timestamp": "2025-01-01T12:00:00+00:00", "edgevit_version": "0.1.0", "notes": []
    }

`latency_ms` is per call of `batch` images; ms per image = latency / batch. `checkpoint` (added once the
contract is read; absent in the sample apps' files) is the first 8 hex digits of the source checkpoint's sha256,
so two checkpoints of one model never collide.
File names follow timm's habit: `{model}-{checkpoint}-{runtime}-{precision}-b{batch}-t{threads}-{machine}.json`
(`result_filename`).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edgevit import __version__
from edgevit.errors import ContractError, EdgevitError
from edgevit.runtimes.base import Harness, UnsupportedPlatformError, get_harness, runtime_for_path
from edgevit.runtimes.evalset import EvalSet, load_eval_set
from edgevit.runtimes.files import atomic_write_text, one_line
from edgevit.runtimes.job import BenchConfig, BenchJob
from edgevit.runtimes.machine import machine_facts, machine_name, peak_rss_mb, slug

SCHEMA = "edgevit.bench/1"
LATENCY_KEYS = ("p50", "p90", "p99", "mean", "trimmed_mean", "std", "min", "max", "runs")


def latency_stats(times_ms: list[float] | np.ndarray, trim: float = 0.1) -> dict[str, float | int]:
    t = np.sort(np.asarray(times_ms, dtype=np.float64))
    if t.size == 0:
        return {k: None for k in LATENCY_KEYS} | {"runs": 0}  # type: ignore[return-value]
    k = int(math.floor(t.size * trim))
    trimmed = t[k:t.size - k] if t.size - 2 * k > 0 else t
    p50, p90, p99 = np.percentile(t, [50, 90, 99])
    stats = {"p50": p50, "p90": p90, "p99": p99, "mean": t.mean(), "trimmed_mean": trimmed.mean(),
             "std": t.std(ddof=1) if t.size > 1 else 0.0, "min": t[0], "max": t[-1]}
    return {key: round(float(v), 4) for key, v in stats.items()} | {"runs": int(t.size)}


def accuracy_metrics(logits: np.ndarray, labels: np.ndarray | None, reference: np.ndarray | None = None,
                     num_classes: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"accuracy": None, "top1_agreement": None, "max_abs_diff": None}
    pred = logits.argmax(axis=1)
    if labels is not None and labels.size and (num_classes is None or int(labels.max()) < num_classes):
        out["accuracy"] = round(float((pred == labels).mean()), 6)
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float32)
        if not np.isfinite(reference).all():
            raise ContractError("the reference logits hold NaN or Inf")
        if reference.shape != logits.shape:
            raise ContractError(f"reference logits {reference.shape} do not match this model's {logits.shape}")
        out["top1_agreement"] = round(float((reference.argmax(axis=1) == pred).mean()), 6)
        out["max_abs_diff"] = float(np.abs(reference - logits).max())
    return out


def _timed_calls(h: Harness, x: np.ndarray, runs: int, budget_s: float | None) -> list[float]:
    times: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter_ns()
        h.run(x)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        if budget_s is not None:
            if time.perf_counter() - start >= budget_s and len(times) >= 3:
                return times
        elif len(times) >= runs:
            return times


def _batch_of(x_all: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // x_all.shape[0])
    return np.ascontiguousarray(np.concatenate([x_all] * reps)[:n]) if reps > 1 else x_all[:n].copy()


def bench_harness(h: Harness, evalset: EvalSet, cfg: BenchConfig, reference: np.ndarray | None = None,
                  result: dict[str, Any] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Run the protocol on a harness (loaded here, timed); fill and return (result, eval-set logits)."""
    r = result if result is not None else new_result()
    h.load()
    r["load_time_ms"] = round(h.load_time_ms or 0.0, 3)
    r["runtime"] = h.info().to_dict()
    x_all = h.preprocess(evalset.images)
    chunk = max(cfg.batch, cfg.large_batch, 1)
    logits = np.concatenate([h.run(x_all[i:i + chunk]) for i in range(0, x_all.shape[0], chunk)])
    try:
        r.update(accuracy_metrics(logits, evalset.labels, reference, h.contract.num_classes))
    except ContractError as e:  # a reference from another model / eval set: say so, keep the bench
        r.update(accuracy_metrics(logits, evalset.labels, None, h.contract.num_classes), reference=None)
        r["notes"].append(f"no top-1 agreement: {e}")
    r["eval_set"] = {"name": evalset.name, "n": len(evalset)}
    if r["accuracy"] is None:
        r["notes"].append(f"labels of {evalset.name} do not fit this model's {h.contract.num_classes} classes")
    x = _batch_of(x_all, cfg.batch)
    for _ in range(max(cfg.warmup, 1)):
        h.run(x)
    times = _timed_calls(h, x, max(cfg.runs, 1), cfg.time_budget_s)
    r["latency_ms"] = latency_stats(times)
    r["throughput_ips"] = {str(cfg.batch): round(cfg.batch * 1000.0 / float(np.median(times)), 2)}
    if cfg.large_batch and cfg.large_batch > cfg.batch:
        xl = _batch_of(x_all, cfg.large_batch)
        h.run(xl)
        lt = _timed_calls(h, xl, max(cfg.large_runs, 1), None)
        r["throughput_ips"][str(cfg.large_batch)] = round(cfg.large_batch * 1000.0 / float(np.median(lt)), 2)
    looped = [b for b in (cfg.batch, cfg.large_batch if cfg.large_batch > cfg.batch else 0)
              if b and h.fixed_batch is not None and b != h.fixed_batch]
    if looped:
        r["notes"].append(f"the model has a static batch of {h.fixed_batch}: batch "
                          f"{' and '.join(map(str, looped))} run as a loop of it")
    r["peak_rss_mb"] = peak_rss_mb()
    r["status"] = "ok"
    return r, logits


def new_result(**fields: Any) -> dict[str, Any]:
    facts = machine_facts()
    facts["name"] = machine_name(facts)
    r: dict[str, Any] = {
        "schema": SCHEMA, "status": "error", "error": None, "model": None, "artifact": None, "format": None,
        "runtime": {"name": None, "version": None, "threads": None, "provider": None, "extra": {}},
        "precision": None, "routing": None, "batch": 1, "latency_ms": {k: None for k in LATENCY_KEYS},
        "throughput_ips": {}, "load_time_ms": None, "peak_rss_mb": None, "size_bytes": None,
        "accuracy": None, "eval_set": None, "top1_agreement": None, "max_abs_diff": None, "reference": None,
        "validation": {}, "machine": facts, "device": "local", "source": "edgevit.runtimes",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "edgevit_version": __version__,
        "notes": [],
    }
    r.update(fields)
    return r


def bench_artifact(artifact: str | Path, runtime: str, *, threads: int | None = None,
                   options: dict[str, Any] | None = None, cfg: BenchConfig | None = None,
                   data: str | None = None, reference: np.ndarray | None = None,
                   reference_name: str | None = None) -> tuple[dict[str, Any], np.ndarray | None]:
    """Bench one artifact in this process. Never raises for a bad artifact: returns an error result."""
    cfg = cfg or BenchConfig()
    r = new_result(artifact=str(artifact), batch=cfg.batch, reference=reference_name, checkpoint=None)
    r["runtime"].update(name=runtime, threads=threads)
    logits = None
    try:
        h = get_harness(runtime)(artifact, threads=threads, options=options)
        c = h.contract
        r.update(model=c.model.get("name"), checkpoint=checkpoint_id(c.source), format=c.target, precision=c.precision, routing=c.routing,
                 size_bytes=h.size_bytes(), validation=c.validation)
        r["runtime"] = h.info().to_dict()
        evalset = load_eval_set(data or c.eval_set, cfg.eval_limit, from_contract=not data)
        try:
            r, logits = bench_harness(h, evalset, cfg, reference, r)
        finally:
            h.close()
    except UnsupportedPlatformError as e:
        r.update(status="unsupported", error=str(e))
    except EdgevitError as e:
        r.update(status="error", error=str(e))
    return r, logits


def run_job(job: BenchJob) -> tuple[dict[str, Any], np.ndarray | None]:
    """Bench one job in this process (what the child and the ssh device run). Never raises for bad input."""
    import os

    if job.machine_name:
        os.environ["EDGEVIT_MACHINE"] = job.machine_name
    try:
        runtime = job.runtime or runtime_for_path(job.artifact)
        reference = np.load(job.reference_logits, allow_pickle=False) if job.reference_logits else None
        r, logits = bench_artifact(job.artifact, runtime, threads=job.threads, options=job.options,
                                   cfg=job.protocol, data=job.data, reference=reference,
                                   reference_name=job.reference_name)
    except (EdgevitError, OSError, ValueError) as e:
        r, logits = new_result(artifact=job.artifact, error=str(e)), None
        r["runtime"]["name"] = job.runtime
    r["device"] = job.device
    if job.save_logits and logits is not None:
        Path(job.save_logits).parent.mkdir(parents=True, exist_ok=True)
        np.save(job.save_logits, logits)
    return r, logits


CHECKPOINT_ID_LEN = 8


def checkpoint_id(source: dict[str, Any]) -> str | None:
    """The short id of the checkpoint an artifact came from (its sha256 prefix), or None when not recorded.
    Only hex digits pass: the value comes from an untrusted contract and ends up in file names and tables."""
    sha = str(source.get("sha256") or "").lower()
    return sha[:CHECKPOINT_ID_LEN] if len(sha) >= CHECKPOINT_ID_LEN and all(
        ch in "0123456789abcdef" for ch in sha[:CHECKPOINT_ID_LEN]) else None


def result_filename(r: dict[str, Any]) -> str:
    rt = r.get("runtime") or {}
    threads = rt.get("threads") or "auto"
    machine = (r.get("machine") or {}).get("name") or "machine"
    precision = r.get("precision") or "fp32"
    if r.get("routing") == "dense":  # the dense-routing fallback of the same model must not overwrite the static one
        precision += "-dense"
    parts = [r.get("model") or Path(str(r.get("artifact") or "model")).name, r.get("checkpoint"),
             rt.get("name") or "runtime", precision, f"b{r.get('batch') or 1}", f"t{threads}", machine]
    return "-".join(slug(str(p)) for p in parts if p) + ".json"


def write_result(r: dict[str, Any], out_dir: str | Path) -> Path:
    """Write a result as `out_dir/result_filename(r)` (atomically); a same-named file is replaced."""
    path = Path(out_dir) / result_filename(r)
    atomic_write_text(path, json.dumps(r, indent=2, default=_json_default) + "\n")
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def error_line(r: dict[str, Any]) -> str:
    return f"{r.get('artifact')} ({(r.get('runtime') or {}).get('name')}): {one_line(r.get('error') or 'failed')}"
