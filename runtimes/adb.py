"""`--device adb[:SERIAL]`: push a `.tflite` to an Android phone, run LiteRT's `benchmark_model` there through
`adb shell`, and parse its log into the common result schema.

`benchmark_model` is the prebuilt LiteRT tool (the user pushes it once and passes its on-device path). It feeds
random inputs, so a phone result has latency, load time and memory but no accuracy (the Android sample app
measures accuracy on the eval set and writes a result file `edgevit bench report` reads). Its log gives the
mean/std/min/max of the timed runs (and p5/median/p95 in newer builds), not per-run times, so p90/p99 stay null.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.base import path_size, resolve_artifact
from edgevit.runtimes.bench import checkpoint_id, new_result
from edgevit.runtimes.isolate import tail_line
from edgevit.runtimes.job import BenchConfig, BenchJob
from edgevit.runtimes.machine import slug
from edgevit.runtimes.remote import DeviceSpec

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def parse_benchmark_model(log: str) -> dict[str, Any]:
    """benchmark_model's stdout/stderr -> {inference: {count, avg, std, min, max, first, [p5, median, p95]} (us),
    warmup: {...}, init_us, first_us, warmup_avg_us, inference_avg_us, peak_mb, threads, delegate, model_mb}."""
    out: dict[str, Any] = {}
    stats = []
    for line in log.splitlines():
        m = re.search(r"\bcount=(\d+)(.*)$", line)
        if m:
            kv = dict(re.findall(rf"\b(\w+)=({_NUM})", m.group(2)))
            st: dict[str, float] = {"count": float(m.group(1))}
            st.update({k: float(v) for k, v in kv.items()})
            if "avg" not in st and "curr" in st:  # "count=N curr=X(all same)"
                st.update(avg=st["curr"], min=st["curr"], max=st["curr"], std=0.0)
            stats.append(st)
    if stats:
        out["inference"] = stats[-1]
        if len(stats) > 1:
            out["warmup"] = stats[-2]
    m = re.search(r"Inference timings in us:(.*)", log)
    if m:
        for key, name in (("Init", "init_us"), ("First inference", "first_us"), ("Warmup \\(avg\\)", "warmup_avg_us"),
                          ("Inference \\(avg\\)", "inference_avg_us")):
            mm = re.search(rf"{key}:\s*({_NUM})", m.group(1))
            if mm:
                out[name] = float(mm.group(1))
    if "init_us" not in out:
        m = re.search(rf"Initialized session in ({_NUM})\s*ms", log)
        if m:
            out["init_us"] = float(m.group(1)) * 1000.0
    m = re.search(rf"peak memory footprint \(MB\)[^:]*:\s*({_NUM})", log)
    m2 = re.search(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):.*?overall=({_NUM})", log)
    if m or m2:
        out["peak_mb"] = float((m or m2).group(1))
    m = re.search(r"#threads used for CPU inference: \[(\d+)\]", log) or re.search(r"Num threads: \[(-?\d+)\]", log)
    if m:
        out["threads"] = int(m.group(1))
    m = re.search(r"Created TensorFlow Lite (\w+) delegate", log) or re.search(r"Created (\w+) delegate", log)
    out["delegate"] = m.group(1).lower() if m else None
    m = re.search(rf"The input model file size \(MB\): ({_NUM})", log)
    if m:
        out["model_mb"] = float(m.group(1))
    return out


def parse_getprop(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\[([^\]]+)\]: \[([^\]]*)\]", text, re.MULTILINE))


class ADBDevice:
    def __init__(self, spec: DeviceSpec, *, benchmark_model: str, adb: str = "adb",
                 remote_dir: str = "/data/local/tmp/edgevit", timeout: float = 900.0) -> None:
        if not benchmark_model:
            raise RuntimeHarnessError("--device adb needs --benchmark-model PATH (benchmark_model on the phone, "
                                      "e.g. /data/local/tmp/benchmark_model)")
        self.spec, self.adb, self.bm, self.remote_dir, self.timeout = spec, adb, benchmark_model, remote_dir, timeout

    def _adb(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        argv = [self.adb] + (["-s", self.spec.serial] if self.spec.serial else []) + list(args)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout or self.timeout)
        except FileNotFoundError:
            raise RuntimeHarnessError(f"cannot run {self.adb!r}: install Android platform-tools (Debian: adb)") from None
        except subprocess.TimeoutExpired:
            raise RuntimeHarnessError(f"{self.spec}: adb {' '.join(args)[:80]} timed out") from None
        err = (proc.stderr or "") + (proc.stdout or "")
        if proc.returncode != 0 and re.search(r"device .*not found|no devices|offline|unauthorized", err):
            raise RuntimeHarnessError(f"cannot reach {self.spec}: {tail_line(err)}")
        return proc

    def facts(self) -> dict[str, Any]:
        proc = self._adb("shell", "getprop", timeout=60)
        if proc.returncode != 0:
            raise RuntimeHarnessError(f"cannot reach {self.spec}: {tail_line(proc.stderr or proc.stdout)}")
        p = parse_getprop(proc.stdout)
        model = " ".join(x for x in (p.get("ro.product.manufacturer"), p.get("ro.product.model")) if x) or "android"
        return {"cpu": p.get("ro.soc.model") or p.get("ro.board.platform") or p.get("ro.hardware") or "unknown",
                "cores": None, "arch": p.get("ro.product.cpu.abi"),
                "os": f"Android {p.get('ro.build.version.release', '?')} (SDK {p.get('ro.build.version.sdk', '?')})",
                "python": None, "hostname": model, "name": slug(p.get("ro.product.model") or model)}

    def command(self, remote_model: str, threads: int | None, cfg: BenchConfig, delegate: str) -> str:
        parts = [self.bm, f"--graph={remote_model}", f"--num_runs={max(cfg.runs, 1)}",
                 f"--warmup_runs={max(cfg.warmup, 1)}", f"--min_secs={cfg.time_budget_s or 0}",
                 "--warmup_min_secs=0", f"--use_xnnpack={'true' if delegate == 'xnnpack' else 'false'}"]
        if threads:
            parts.append(f"--num_threads={threads}")
        return " ".join(shlex.quote(p) for p in parts)

    def bench(self, job: BenchJob) -> dict[str, Any]:
        """Run one job's .tflite with benchmark_model on the phone (protocol knobs mapped to its flags)."""
        artifact, threads, options, cfg = job.artifact, job.threads, job.options, job.protocol
        contract, model = resolve_artifact(artifact)
        if model.suffix != ".tflite":
            raise RuntimeHarnessError(f"--device adb runs .tflite files with benchmark_model; {model} is not one")
        delegate = str((options or {}).get("delegate", "xnnpack")).lower()
        machine = self.facts()
        remote_model = f"{self.remote_dir}/{slug(model.stem)}.tflite"
        r = new_result(artifact=str(artifact), model=contract.model.get("name"),
                       checkpoint=checkpoint_id(contract.source), format=contract.target,
                       precision=contract.precision, routing=contract.routing, size_bytes=path_size(model),
                       validation=contract.validation, machine=machine, device=str(self.spec),
                       source="benchmark_model", batch=int(contract.input_shape[0] or 1))
        r["runtime"] = {"name": "tflite", "version": (options or {}).get("version"), "threads": threads,
                        "provider": delegate, "extra": {"tool": "benchmark_model", "path": self.bm}}
        push = self._adb("push", str(model), remote_model, timeout=300)
        if push.returncode != 0:
            raise RuntimeHarnessError(f"{self.spec}: adb push {model} failed: {tail_line(push.stderr or push.stdout)}")
        try:
            proc = self._adb("shell", self.command(remote_model, threads, cfg, delegate))
        finally:
            self._adb("shell", f"rm -f {shlex.quote(remote_model)}", timeout=60)
        log = (proc.stdout or "") + "\n" + (proc.stderr or "")
        if re.search(r"not found|No such file|Permission denied", log) and "count=" not in log:
            raise RuntimeHarnessError(f"{self.spec}: cannot run {self.bm}: {tail_line(log)} (push benchmark_model "
                                      "and chmod +x it, then pass its path with --benchmark-model)")
        return fill_from_log(r, parse_benchmark_model(log), log)


def fill_from_log(r: dict[str, Any], p: dict[str, Any], log: str) -> dict[str, Any]:
    """Put a parsed benchmark_model log into a result (an error result if the log has no timings)."""
    inf = p.get("inference")
    if not inf:
        r.update(status="error", error=f"benchmark_model reported no timings: {tail_line(log) or 'empty output'}")
        return r
    ms = lambda us: None if us is None else round(us / 1000.0, 4)
    r["latency_ms"] = {"p50": ms(inf.get("median")), "p90": None, "p99": None, "mean": ms(inf.get("avg")),
                       "trimmed_mean": None, "std": ms(inf.get("std")), "min": ms(inf.get("min")),
                       "max": ms(inf.get("max")), "runs": int(inf["count"])}
    if inf.get("p95") is not None:
        r["latency_ms"]["p95"] = ms(inf["p95"])
    batch = int(r.get("batch") or 1)
    r["throughput_ips"] = {str(batch): round(batch * 1e6 / inf["avg"], 2)} if inf.get("avg") else {}
    r["load_time_ms"] = ms(p.get("init_us"))
    r["peak_rss_mb"] = p.get("peak_mb")
    if p.get("threads") and p["threads"] > 0:
        r["runtime"]["threads"] = p["threads"]
    if p.get("delegate"):
        r["runtime"]["provider"] = p["delegate"]
    r["notes"] += ["benchmark_model feeds random inputs: no accuracy (the Android sample app measures it)",
                   "peak_rss_mb is benchmark_model's approximate memory footprint"]
    r["status"] = "ok"
    return r
