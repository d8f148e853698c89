"""Issue 14's export targets as one table of ratios measured in one run: goal, value, met / not met.

For each checkpoint (default: the flagship mmoe_vit_xxs and its dense twin vit_mlit_xxs from
`benchmarks/accuracy.py`'s runs, or `--checkpoint LABEL=DIR`): export ONNX, LiteRT and ExecuTorch (shown beside
the issue's two runtimes) at fp32, int8 dynamic and int8 static (calibrated on real train images) with
`edgevit export`, then load every artifact and torch eager side by side in this one process, single-threaded,
and time them interleaved: `--rounds` rounds, each timing every artifact `--runs` times at batch 1; a row's
latency is the median over rounds of each round's p50. Timing on a shared machine drifts (±2x here), so a
ratio is the median of per-round ratios (two numbers from one round). Accuracy is top-1 on the test split
(`--test-images`, default all). The flagship's ONNX node count and its batch-64 ORT throughput as a share of
the single-thread sgemm peak (`peak.py`) are measured in the same run, and so are each model's matrix products
alone (`matmul_replica.py`), fp32 and int8: their share of the fp32 run and their own int8 speed-up say how
much int8 can do for the whole model; the products with the attention kernels (the floor no export form can
go under) say how far the fp32 run can fall. LiteRT's linear layers alone (`litert_replica.py`), fp32 and
dynamic int8, do the same for LiteRT's dynamic int8.

    python benchmarks/targets.py --data fashion-mnist
    python benchmarks/targets.py --checkpoint mmoe_vit_xxs=runs/x/best --checkpoint vit_mlit_xxs=runs/y/best

Writes benchmarks/results/targets-<data>.{json,md}; `render_readme.py` puts the table in the README. A run for
some models keeps the other models' rows from their own earlier run (each target compares artifacts of one model,
measured in one run); `--render-only` rewrites the table from the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from common import RESULTS, ROOT, edgevit, machine_line, md_table, write_json
from litert_replica import LiteRTReplicaRun
from litert_replica import replica as litert_replica
from matmul_replica import ATTENTION, PRODUCTS, ReplicaRun, int8_replica, replica

FLAGSHIP, TWIN = "mmoe_vit_xxs", "vit_mlit_xxs"
FORMS = [  # (key, target, precision, quant)
    ("onnx-fp32", "onnx", "fp32", None), ("onnx-int8-dynamic", "onnx", "int8", "dynamic"),
    ("onnx-int8-static", "onnx", "int8", "static"), ("tflite-fp32", "tflite", "fp32", None),
    ("tflite-int8-dynamic", "tflite", "int8", "dynamic"), ("tflite-int8-static", "tflite", "int8", "static"),
    ("executorch-fp32", "executorch", "fp32", None), ("executorch-int8-dynamic", "executorch", "int8", "dynamic"),
    ("executorch-int8-static", "executorch", "int8", "static"),
]
GOAL_RUNTIMES = ("onnx", "tflite")  # the int8 goal names these; ExecuTorch's rows are shown beside them
FORMS_KEYS = [f[0] for f in FORMS]
PRODUCTS_FP32, PRODUCTS_INT8 = "onnx-fp32 products alone", "onnx-int8-dynamic products alone"
FLOOR = "onnx-fp32 products + attention alone"  # the kernels no form removes: a floor under the fp32 run
LINEARS_FP32, LINEARS_INT8 = "tflite-fp32 linears alone", "tflite-int8-dynamic linears alone"
REPLICAS = (PRODUCTS_FP32, PRODUCTS_INT8, FLOOR, LINEARS_FP32, LINEARS_INT8)


def export_forms(label: str, ckpt: Path, out: Path, calib: int, logs: Path) -> dict[str, Path | str]:
    """Each form's published folder, or the export's error line."""
    done: dict[str, Path | str] = {}
    for key, target, prec, quant in FORMS:
        args = ["export", "-c", str(ckpt), "-t", target, "-p", prec, "--out", str(out)]
        if quant:
            args += ["--quant", quant]
        if quant == "static":
            args += ["--calib-images", str(calib)]
        folder = out / (f"{target}-{prec}" + (f"-{quant}" if quant and quant != "dynamic" else ""))
        if not (folder / "edgevit.json").exists():
            r = edgevit(*args, log=logs / f"export-{label}-{key}.log", check=False)
            if r.returncode != 0:
                done[key] = (r.stderr.strip().splitlines() or ["?"])[-1]
                continue
        done[key] = folder
    return done


def time_interleaved(harnesses: dict[str, object], x: np.ndarray, rounds: int, runs: int) -> dict[str, dict]:
    """p50 per round per harness, rounds interleaved; returns median of round p50s and the round values."""
    per: dict[str, list[float]] = {k: [] for k in harnesses}
    for h in harnesses.values():
        for _ in range(20):
            h.run(x)
    for _ in range(rounds):
        for k, h in harnesses.items():
            t = []
            for _ in range(runs):
                t0 = time.perf_counter()
                h.run(x)
                t.append(time.perf_counter() - t0)
            per[k].append(1e3 * float(np.median(t)))
    return {k: {"p50_ms": float(np.median(v)), "rounds_ms": [round(a, 4) for a in v]} for k, v in per.items()}


def accuracy(h, images: np.ndarray, labels: np.ndarray, batch: int = 250) -> float:
    x = h.preprocess(images)
    pred = np.concatenate([h.run(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((pred == labels).mean())


def onnx_nodes(folder: Path) -> dict:
    import onnx

    g = onnx.load(str(folder / "model.onnx")).graph
    ops: dict[str, int] = {}
    for n in g.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return {"nodes": len(g.node), "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1]))}


def tflite_ops(folder: Path) -> dict:
    from edgevit.export import tflite

    ops = tflite.inspect(folder / "model.tflite").ops
    return {"operators": sum(ops.values()), "ops": dict(ops.most_common())}


MATMUL_OPS = ("MatMul", "Gemm", "FusedMatMul", "FusedGemm", "MatMulInteger", "DynamicQuantizeMatMul",
              "QLinearMatMul", "MatMulIntegerToFloat", "QGemm", "Conv", "QLinearConv", "ConvInteger")


def ort_profile(model: Path, x: np.ndarray, runs: int) -> dict:
    """Where one ORT run's time goes: kernel time per op type, and the run time no kernel accounts for.

    onnxruntime's profiler (`enable_profiling`) records every kernel call and every `model_run`; summing kernel
    time by op type says which share int8 can speed up (the matrix products) and which it cannot (everything
    else, and the gaps between kernels). That share bounds the int8 speed-up (Amdahl) whatever the kernels do.
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgevit-ortprof-") as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        so.enable_profiling, so.profile_file_prefix = True, str(Path(tmp) / "prof")
        sess = ort.InferenceSession(str(model), sess_options=so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        for _ in range(runs):
            sess.run(None, {name: x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    runs_ = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                   key=lambda e: e["ts"])[runs // 5:]  # the first runs allocate: leave them out
    start = runs_[0]["ts"] if runs_ else 0
    kernels = [e for e in events if e.get("cat") == "Node" and e["ts"] >= start
               and str(e.get("name", "")).endswith("_kernel_time")]
    n = max(1, len(runs_))
    per_op: dict[str, float] = {}
    for e in kernels:
        op = e.get("args", {}).get("op_name", "?")
        per_op[op] = per_op.get(op, 0.0) + e["dur"] / n
    run = sum(e["dur"] for e in runs_) / n
    kernel = sum(per_op.values())
    matmul = sum(v for k, v in per_op.items() if k in MATMUL_OPS)
    return {"run_us": round(run, 1), "kernel_us": round(kernel, 1), "matmul_us": round(matmul, 1),
            "kernels_per_run": round(len(kernels) / n),
            "per_op_us": {k: round(v, 1) for k, v in sorted(per_op.items(), key=lambda kv: -kv[1])}}


def measure_model(label: str, ckpt: Path, work: Path, a: argparse.Namespace) -> dict:
    import onnx

    from edgevit.data.evalset import load_eval_set
    from edgevit.export.formats import FORMATS
    from edgevit.export.tflite import xnnpack_partitions
    from edgevit.runtimes.base import open_harness

    folders = export_forms(label, ckpt, work / label / "export", a.calib_images, work / "logs")
    harnesses = {"torch": open_harness(ckpt, "torch", threads=1)}
    errors = {k: v for k, v in folders.items() if isinstance(v, str)}
    for key, target, _p, _q in FORMS:
        f = folders.get(key)
        if isinstance(f, Path):
            harnesses[key] = open_harness(f, FORMATS[target].runtime, threads=1)
    test = load_eval_set(a.data, a.test_images)
    x1 = harnesses["torch"].preprocess(test.images[:1])
    floor_nodes = 0
    if isinstance(folders.get("onnx-fp32"), Path):  # the model's matrix products alone, fp32 and int8
        model, out = folders["onnx-fp32"] / "model.onnx", work / label / "products"
        fp32, feeds = replica(model, x1, out)
        harnesses |= {PRODUCTS_FP32: ReplicaRun(fp32, feeds), PRODUCTS_INT8: ReplicaRun(int8_replica(fp32), feeds)}
        floor, floor_feeds = replica(model, x1, out, PRODUCTS + ATTENTION, name="floor-fp32")
        floor_nodes = len(onnx.load(str(floor)).graph.node)
        harnesses[FLOOR] = ReplicaRun(floor, floor_feeds)
    if isinstance(folders.get("tflite-fp32"), Path):  # the LiteRT form's linear layers alone, fp32 and int8
        fp32, int8, feeds = litert_replica(ckpt, x1, work / label / "linears")
        harnesses |= {LINEARS_FP32: LiteRTReplicaRun(fp32, feeds), LINEARS_INT8: LiteRTReplicaRun(int8, feeds)}
    lat = time_interleaved(harnesses, x1, a.rounds, a.runs)
    acc = {k: accuracy(h, test.images, test.labels) for k, h in harnesses.items() if k not in REPLICAS}
    row = {"label": label, "checkpoint": str(ckpt), "latency": lat, "top1": acc, "errors": errors,
           "test_images": len(test.labels)}
    if isinstance(folders.get("onnx-fp32"), Path):
        row["onnx_fp32"] = onnx_nodes(folders["onnx-fp32"]) | {"floor_nodes": floor_nodes}
    if isinstance(folders.get("tflite-fp32"), Path):
        row["tflite_fp32"] = tflite_ops(folders["tflite-fp32"])
    row["xnnpack"] = {k: xnnpack_partitions(folders[k] / "model.tflite") for k in FORMS_KEYS
                      if k.startswith("tflite") and isinstance(folders.get(k), Path)}
    if label.startswith(FLAGSHIP) and "onnx-fp32" in harnesses:
        x64 = harnesses["torch"].preprocess(test.images[:64])
        b64 = time_interleaved({"onnx-fp32": harnesses["onnx-fp32"]}, x64, 3, max(5, a.runs // 10))
        row["onnx_fp32_b64_ms"] = b64["onnx-fp32"]["p50_ms"]
        row["ort_profile_b64"] = ort_profile(folders["onnx-fp32"] / "model.onnx", x64, max(10, a.runs // 5))
    row["ort_profile"] = {k: ort_profile(folders[k] / "model.onnx", x1, a.runs) for k in FORMS_KEYS
                          if k.startswith("onnx") and isinstance(folders.get(k), Path)}
    for h in harnesses.values():
        getattr(h, "close", lambda: None)()
    return row


def targets(rows: list[dict], peak: float, flops: dict[str, int]) -> list[dict]:
    """Every goal of issue 14 as (what, value, goal, met)."""
    out = []

    def add(what: str, value: float | None, goal: str, ok: bool | None, note: str = "") -> None:
        out.append({"target": what, "value": value, "goal": goal, "met": ok, "note": note})

    for r in rows:
        lat, acc, m = r["latency"], r["top1"], r["label"]
        p = {k: v["p50_ms"] for k, v in lat.items()}
        for rt in ("onnx", "tflite", "executorch"):
            goal = rt in GOAL_RUNTIMES
            for scheme in ("static", "dynamic"):
                k = f"{rt}-int8-{scheme}"
                if k in p and f"{rt}-fp32" in p:
                    s, note = paired_ratio(lat, f"{rt}-fp32", k)
                    add(f"{m}: {rt} int8 {scheme} speed-up vs {rt} fp32", s, ">= 1.5x" if goal else "-",
                        s >= 1.5 if goal else None, note)
                    loss = 100 * (acc[f"{rt}-fp32"] - acc[k])
                    add(f"{m}: {rt} int8 {scheme} top-1 loss", loss, "<= 1.0 pt" if goal else "-",
                        loss <= 1.0 if goal else None, f"{100 * acc[f'{rt}-fp32']:.2f} -> {100 * acc[k]:.2f} %")
        if PRODUCTS_FP32 in p and "onnx-fp32" in p:  # the matrix products alone, timed beside the model
            mm = p[PRODUCTS_FP32]
            add(f"{m}: ORT int8 speed-up ceiling (matrix products free)", p["onnx-fp32"] / max(p["onnx-fp32"] - mm, 1e-9),
                "bounds the 1.5x goal", None,
                f"matrix products alone {mm:.3f} of {p['onnx-fp32']:.3f} ms ({100 * mm / p['onnx-fp32']:.0f}%)")
            s, note = paired_ratio(lat, PRODUCTS_FP32, PRODUCTS_INT8)
            add(f"{m}: ORT int8 dynamic, the matrix products alone vs fp32", s, "-", None,
                note + "; what onnxruntime's int8 kernels give at the model's shapes, with no other op")
        if LINEARS_FP32 in p and "tflite-fp32" in p:  # what LiteRT's dynamic int8 can speed up
            mm = p[LINEARS_FP32]
            s, note = paired_ratio(lat, LINEARS_FP32, LINEARS_INT8)
            add(f"{m}: LiteRT int8 dynamic, the linear layers alone vs fp32", s, "-", None,
                note + f"; {100 * mm / p['tflite-fp32']:.0f}% of the fp32 run; the rest stays float")
            add(f"{m}: LiteRT int8 dynamic speed-up if only the linear layers changed", p["tflite-fp32"] / max(
                p["tflite-fp32"] - mm + p[LINEARS_INT8], 1e-9), "-", None,
                f"{p['tflite-fp32']:.3f} ms - {mm:.3f} + {p[LINEARS_INT8]:.3f}; linear layers free: "
                f"{p['tflite-fp32'] / max(p['tflite-fp32'] - mm, 1e-9):.2f}x")
        if "tflite-fp32" in p and "onnx-fp32" in p:
            s, note = paired_ratio(lat, "tflite-fp32", "onnx-fp32")
            add(f"{m}: LiteRT fp32 / ORT fp32", s, "<= 1.0x", s <= 1.0, note)
        if "executorch-fp32" in p and "tflite-fp32" in p:
            s, note = paired_ratio(lat, "executorch-fp32", "tflite-fp32")
            add(f"{m}: ExecuTorch fp32 / LiteRT fp32", s, "-", None, note)
        if m.startswith(FLAGSHIP) and "onnx-fp32" in p:
            s, note = paired_ratio(lat, "onnx-fp32", "torch")
            add(f"{m}: ORT fp32 / torch eager (batch 1)", s, "<= 0.3x", s <= 0.3, note)
            if FLOOR in p:
                s, note = paired_ratio(lat, FLOOR, "torch")
                nodes = r.get("onnx_fp32", {})
                left_us = 1e3 * (0.3 * p["torch"] - p[FLOOR])
                other = nodes.get("nodes", 0) - nodes.get("floor_nodes", 0)
                add(f"{m}: ORT fp32 floor / torch eager (products + attention alone)", s, "bounds the 0.3x goal",
                    None, note + (f"; 0.3x leaves {left_us:.0f} us for the other ~{other} nodes, "
                                  f"{left_us / max(other, 1):.2f} us each"
                                  if left_us > 0 else "; the floor alone misses 0.3x"))
            if r.get("onnx_fp32_b64_ms"):
                g = flops[m] * 64 / (r["onnx_fp32_b64_ms"] / 1e3) / 1e9
                add(f"{m}: ORT fp32 batch 64, share of sgemm peak", 100 * g / peak, ">= 50 %", g / peak >= 0.5,
                    f"{g:.1f} of {peak:.1f} GFLOP/s")
                prof64 = r.get("ort_profile_b64")
                if prof64:
                    mm_share = prof64["matmul_us"] / 1e3 / r["onnx_fp32_b64_ms"]
                    add(f"{m}: batch 64, share of run time in matrix products (profiled)", 100 * mm_share,
                        "-", None, f"{prof64['matmul_us'] / 1e3:.2f} of {r['onnx_fp32_b64_ms']:.2f} ms; "
                        f"the largest other kernels: {_top_ops(prof64, 3)}")
                    # the profiler's kernel durations are the kernels' own time; its run time adds its
                    # bookkeeping, so the rest is taken from the unprofiled run
                    at_peak_ms = flops[m] * 64 / (peak * 1e9) * 1e3
                    rest_ms = r["onnx_fp32_b64_ms"] - prof64["matmul_us"] / 1e3
                    add(f"{m}: batch 64, share of sgemm peak if the matrix products ran at peak",
                        100 * at_peak_ms / (at_peak_ms + rest_ms), "bounds the 50 % goal", None,
                        f"{at_peak_ms:.1f} ms of matrix products at peak + {rest_ms:.1f} ms of everything else")
            if "onnx_fp32" in r:
                add(f"{m}: ONNX fp32 nodes", r["onnx_fp32"]["nodes"], "fewer than ~500 (issue)", None,
                    f"{r['tflite_fp32']['operators']} LiteRT operators" if "tflite_fp32" in r else "")
    return out


def paired_ratio(lat: dict, num: str, den: str) -> tuple[float, str]:
    """num/den paired round by round (both timed in the same round): its median, and a note with the two
    latencies and the ratio's middle half.

    The machine switches between fast and slow phases within a run; a ratio of the two medians can pair one
    artifact's fast rounds with the other's slow ones, a per-round ratio cannot.
    """
    ratios = np.asarray(lat[num]["rounds_ms"]) / np.asarray(lat[den]["rounds_ms"])
    lo, hi = np.percentile(ratios, [25, 75])
    note = f"{lat[num]['p50_ms']:.3f} / {lat[den]['p50_ms']:.3f} ms; per round {lo:.2f}-{hi:.2f}"
    return float(np.median(ratios)), note


def _top_ops(prof: dict, n: int) -> str:
    other = [(k, v) for k, v in prof["per_op_us"].items() if k not in MATMUL_OPS][:n]
    return ", ".join(f"{k} {v / 1e3:.2f} ms" for k, v in other)


def _value(target: dict) -> str:
    """A target's value: whole numbers as they are, others to 2 decimals, or 3 where it has a goal (1.498 must
    not read as a 1.50 that missed 1.5)."""
    v = target["value"]
    if v is None:
        return "-"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.{2 if target['met'] is None else 3}f}"


def write_md(result: dict, path: Path) -> str:
    meta = result["meta"]
    rows = [[t["target"], _value(t), t["goal"], {True: "met", False: "not met", None: "-"}[t["met"]], t["note"]]
            for t in result["targets"]]
    text = "### Export targets (issue 14): ratios measured in one run\n\n" + md_table(
        ["target", "value", "goal", "status", "measured"], rows)
    lat_rows = []
    for r in result["models"]:
        for k, v in r["latency"].items():
            top1 = r["top1"].get(k)
            lat_rows.append([r["label"], k, f"{v['p50_ms']:.3f}", "-" if top1 is None else f"{100 * top1:.2f}"])
    text += (f"\nbatch 1, 1 thread, median over {meta['rounds']} interleaved rounds of each round's p50 of "
             f"{meta['runs']} runs (a ratio: the median of the per-round ratios); top-1 on "
             f"{result['models'][0]['test_images'] if result['models'] else 0} test images. {meta['machine']}; {meta['date']}"
             + (f"; load average {meta['load'][0]:.1f} at the start, {meta['load'][1]:.1f} at the end"
                if meta.get("load") else "")
             + ". Read ratios, not absolute times: the machine is shared.\n\n"
             + md_table(["model", "artifact", "p50 ms", "top-1 %"], lat_rows))
    prof_rows = [[r["label"], k, f"{v['run_us'] / 1e3:.3f}", f"{v['matmul_us'] / 1e3:.3f}", v["kernels_per_run"],
                  _top_ops(v, 3)] for r in result["models"] for k, v in r.get("ort_profile", {}).items()]
    if prof_rows:
        text += ("\nWhere ORT's time goes at batch 1 (onnxruntime's profiler, which adds its own cost per kernel): "
                 "the matrix products are all int8 can speed up.\n\n"
                 + md_table(["model", "artifact", "run ms", "matrix products ms", "kernels", "largest other ops"],
                            prof_rows))
    xnn_rows = [[r["label"], k, v["partitions"], v["operators"],
                 ", ".join(f"{op} {n}" for op, n in v["undelegated"].items()) or "none"]
                for r in result["models"] for k, v in r.get("xnnpack", {}).items()]
    if xnn_rows:
        text += ("\nHow LiteRT runs each form (1 thread): XNNPACK delegate partitions, and the operators it leaves "
                 "to TFLite's own kernels, each one a break between partitions.\n\n"
                 + md_table(["model", "artifact", "partitions", "operators", "left to TFLite"], xnn_rows))
    path.write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--checkpoint", action="append", default=[], help="LABEL=DIR (repeatable)")
    ap.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "bench-accuracy")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=100, help="timed runs per artifact per round")
    ap.add_argument("--test-images", type=int, default=None, help="test images for top-1 (default: all)")
    ap.add_argument("--calib-images", type=int, default=256)
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md from the .json; no runs")
    a = ap.parse_args()
    tag = a.data.split(":")[0]
    path = RESULTS / f"targets-{tag}.json"
    if a.render_only:
        result = json.loads(path.read_text())
        result["targets"] = targets(result["models"], result["meta"]["peak_gflops"], result["flops"])
        write_json(path, result)
        print(write_md(result, RESULTS / f"targets-{tag}.md"))
        return
    pairs = [c.split("=", 1) for c in a.checkpoint] or [
        (m, str(a.runs_dir / tag / f"{m}-s0" / "best")) for m in (FLAGSHIP, TWIN)]
    work = ROOT / "runs" / "bench-targets" / tag
    t0, load0 = time.time(), os.getloadavg()[0]
    from peak import gemm_peak

    from edgevit.checkpoint import load_checkpoint
    from edgevit.models.stats import count_flops

    peak = gemm_peak()["peak_gflops"]
    models, flops = [], {}
    for label, ck in pairs:
        ckpt = Path(ck)
        if not (ckpt / "config.json").exists():
            raise SystemExit(f"error: no checkpoint at {ckpt}")
        flops[label] = count_flops(load_checkpoint(ckpt)[0])
        models.append(measure_model(label, ckpt, work, a))
    peak = max(peak, gemm_peak()["peak_gflops"])
    cmd = (f"python benchmarks/targets.py --data {a.data} --rounds {a.rounds}"
           + "".join(f" --checkpoint {c}" for c in a.checkpoint))
    meta = {"data": a.data, "machine": machine_line(), "date": time.strftime("%Y-%m-%d"), "peak_gflops": peak,
            "rounds": a.rounds, "runs": a.runs, "threads": 1, "total_wall_s": round(time.time() - t0), "command": cmd,
            "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}
    for m in models:
        m["command"], m["date"] = cmd, meta["date"]
    if path.exists():  # keep other models' rows from their own run
        old = json.loads(path.read_text())
        mine = {m["label"] for m in models}
        kept = [m for m in old.get("models", []) if m["label"] not in mine]
        models = kept + models
        flops = {**{m["label"]: old["flops"][m["label"]] for m in kept if m["label"] in old.get("flops", {})}, **flops}
        if kept:  # the table still shows rows of that earlier run: name its command and time too
            meta["total_wall_s"] += old.get("meta", {}).get("total_wall_s", 0)
            meta["command"] = "; ".join(dict.fromkeys([*(m["command"] for m in kept), cmd]))
    result = {"meta": meta, "models": models, "flops": flops, "targets": targets(models, peak, flops)}
    write_json(path, result)
    print(write_md(result, RESULTS / f"targets-{tag}.md"))
    print(json.dumps({"wrote": str(RESULTS / f"targets-{tag}.md")}))


if __name__ == "__main__":
    main()
