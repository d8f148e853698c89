"""Latency per runtime and distance to the machine's limit (issue 7, tables 2 and 3).

For each trained checkpoint of `benchmarks/accuracy.py` (seed 0): export to ONNX, LiteRT and ExecuTorch at
fp32/fp16/int8 (`edgevit export`), bench every artifact and torch eager at batch 1 with 1 and 2 threads
(`edgevit bench`), plus static vs dense routing for both MoE kinds. Table 3 divides each model's FLOPs per image
by its p50 latency (batch 1) and by its batch-64 throughput, as a fraction of the single-thread numpy GEMM peak
measured in the same run (`benchmarks/peak.py`).

    python benchmarks/latency.py --data fashion-mnist            # after accuracy.py --data fashion-mnist

Writes benchmarks/results/latency-<data>.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from accuracy import ROWS, row_slug
from common import RESULTS, ROOT, edgevit, finish_plot, machine_line, md_table, new_axes, write_json
from peak import gemm_peak

from edgevit.export.formats import FORMATS

CORE = ("mmoe_vit_xxs", "vit_mlit_xxs", "mobile_vmoe_t32", "vit_t32")  # full target x precision grid
MOE = ("mmoe_vit_xxs", "mobile_vmoe_t32")
GRID_TARGETS, GRID_PRECISIONS = ("onnx", "tflite", "executorch"), ("fp32", "fp16", "int8")
EVAL_IMAGES = 500  # test images each artifact is scored on (accuracy.py scores the whole test split)


def checkpoints(runs: Path, full: bool) -> list[tuple[str, str, Path]]:
    out = []
    for _group, label, model, extra in ROWS:
        if "{" in " ".join(extra) and not full:
            continue  # MAE / super-class variants have the same graph as their base rows
        slug = row_slug(model, extra)
        ckpt = runs / f"{slug}-s0" / "best"
        if not (ckpt / "config.json").exists():
            raise SystemExit(f"missing {ckpt}: run benchmarks/accuracy.py with the same --data first")
        out.append((label, slug, ckpt))
    return out


def export_all(label: str, ckpt: Path, exp: Path, grid: bool, logs: Path) -> list[dict]:
    """Export every (target, precision) this model is benched at; failures are rows too."""
    jobs = ([(t, p, "static") for p in GRID_PRECISIONS for t in GRID_TARGETS] if grid
            else [("onnx", "fp32", "static")])  # variants of a core model: onnxruntime fp32 (and torch eager)
    if any(m in label for m in MOE):
        jobs.append(("onnx", "fp32", "dense"))
    failures = []
    for t, prec, routing in jobs:
        if prec not in FORMATS[t].precisions:
            continue  # not offered by this target: stated once under the table, not a failure per model
        dest = exp / f"{t}-{prec}" if routing == "static" else exp / f"{t}-{prec}-dense"
        if (dest / "edgevit.json").exists():
            continue
        r = edgevit("export", "-c", str(ckpt), "-t", t, "-p", prec, "--routing", routing, "--out", str(exp),
                    log=logs / f"export-{exp.parent.name}-{t}-{prec}-{routing}.log", check=False)
        if r.returncode != 0:
            failures.append({"model": label, "target": t, "precision": prec, "routing": routing,
                             "status": "export failed", "error": (r.stderr.strip().splitlines() or ["?"])[-1]})
    return failures


def bench_all(label: str, ckpt: Path, exp: Path, res: Path, data: str, runs: int, logs: Path) -> list[dict]:
    common = ["--threads", "1", "--threads", "2", "--batch", "1", "--runs", str(runs), "--warmup", "20",
              "--large-batch", "64", "--data", data, "--limit", str(EVAL_IMAGES), "--reference", str(ckpt), "--json"]
    rows = []
    for args in (["-a", str(exp)], ["-a", str(ckpt), "--runtime", "torch"]):
        r = edgevit("bench", *args, *common, "--out", str(res), log=logs / f"bench-{exp.parent.name}-{args[-1] if args[-1] == 'torch' else 'artifacts'}.log", check=False)
        try:
            rows += json.loads(r.stdout)
        except json.JSONDecodeError:
            rows.append({"status": "error", "error": (r.stderr.strip().splitlines() or ["no output"])[-1],
                         "artifact": args[1]})
    for row in rows:
        row["label"] = label
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per artifact x threads")
    ap.add_argument("--full", action="store_true", help="also the MAE / super-class rows (same graphs)")
    ap.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "bench-accuracy")
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md and .png from the .json; no runs")
    a = ap.parse_args()
    tag = a.data.split(":")[0]
    if a.render_only:
        render(tag)
        return
    runs = a.runs_dir / tag
    work = ROOT / "runs" / "bench-latency" / tag
    logs = work / "logs"
    t0 = time.time()
    peak = gemm_peak()
    print(f"single-thread GEMM peak: {peak['peak_gflops']} GFLOP/s", flush=True)
    from edgevit.checkpoint import load_checkpoint
    from edgevit.models.stats import count_flops

    results, failures, flops = [], [], {}
    for label, slug, ckpt in checkpoints(runs, a.full):
        model, _ = load_checkpoint(ckpt)
        flops[label] = count_flops(model)
        exp = work / slug
        grid = label.split(",")[0].split(" (")[0] in CORE
        failures += export_all(label, ckpt, exp / "export", grid, logs)
        results += bench_all(label, ckpt, exp / "export", exp / "bench", a.data, a.runs, logs)
    peak["gemm_measured_again_gflops"] = gemm_peak()["peak_gflops"]
    meta = {"data": a.data, "machine": machine_line(), "date": time.strftime("%Y-%m-%d"), "peak": peak,
            "total_wall_s": round(time.time() - t0), "eval_images": EVAL_IMAGES,
            "command": f"python benchmarks/latency.py --data {a.data} --runs {a.runs}" + (" --full" if a.full else "")}
    write_json(RESULTS / f"latency-{tag}.json", {"meta": meta, "results": results, "export_failures": failures,
                                                 "flops": flops})
    render(tag)


def render(tag: str) -> None:
    """Markdown tables and plot from the JSON result (also `--render-only`)."""
    result = json.loads((RESULTS / f"latency-{tag}.json").read_text())
    meta = result["meta"]
    write_tables(result["results"], result["export_failures"], result["flops"],
                 max(meta["peak"]["peak_gflops"], meta["peak"]["gemm_measured_again_gflops"]),
                 RESULTS / f"latency-{tag}.md")
    plot(result["results"], RESULTS / f"latency-{tag}.png", f"{meta['data']}: latency vs accuracy (batch 1, 1 thread)")


def _ok(results: list[dict]) -> list[dict]:
    """Successful rows, one per (model, runtime, precision, routing, threads): the torch reference that a bench
    of exported folders runs for agreement is the same measurement as the explicit torch bench."""
    seen, out = set(), []
    for r in results:
        if r.get("status") != "ok" or not r.get("latency_ms"):
            continue
        key = (r["label"], r["runtime"]["name"], r["precision"], r.get("routing"), r["runtime"]["threads"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def write_tables(results: list[dict], failures: list[dict], flops: dict, peak: float, path: Path) -> None:
    rows = []
    for r in sorted(_ok(results), key=lambda r: (r["label"], r["runtime"]["name"], r["precision"],
                                                  r.get("routing") or "", r["runtime"]["threads"] or 0)):
        rows.append([r["label"], r["runtime"]["name"], r["precision"], r.get("routing") or "-",
                     r["runtime"]["threads"], f"{r['latency_ms']['p50']:.3f}",
                     f"{(r.get('size_bytes') or 0) / 1e6:.2f}",
                     "-" if r.get("accuracy") is None else f"{100 * r['accuracy']:.2f}",
                     "-" if r.get("top1_agreement") is None else f"{100 * r['top1_agreement']:.1f}"])
    text = "### Latency per runtime (batch 1)\n\n" + md_table(
        ["model", "runtime", "precision", "routing", "threads", "p50 ms", "size MB", "top-1 %", "agree %"], rows)
    absent = [f"{t} has no {p}" for t in GRID_TARGETS for p in GRID_PRECISIONS if p not in FORMATS[t].precisions]
    if absent:
        text += f"\nNot offered, so not benched: {'; '.join(absent)} (`edgevit export --list`).\n"
    if failures:
        text += "\nExports that failed:\n\n" + md_table(
            ["model", "target", "precision", "routing", "error"],
            [[f["model"], f["target"], f["precision"], f["routing"], f["error"][:120]] for f in failures])
    errors = [r for r in results if r.get("status") != "ok"]
    if errors:
        text += "\nBenches that did not run:\n\n" + md_table(
            ["model", "artifact", "status", "error"],
            [[r["label"], Path(str(r.get("artifact", ""))).parent.name, r.get("status"), str(r.get("error"))[:120]]
             for r in errors])
    roof = []
    for r in _ok(results):
        if r["precision"] != "fp32" or r["runtime"]["threads"] != 1 or (r.get("routing") or "static") == "dense":
            continue
        f = flops[r["label"]]
        g1 = f / (r["latency_ms"]["p50"] / 1e3) / 1e9
        ips64 = (r.get("throughput_ips") or {}).get("64")
        g64 = f * ips64 / 1e9 if ips64 else None
        roof.append([r["label"], r["runtime"]["name"], f"{f / 1e6:.1f}", f"{g1:.2f}", f"{100 * g1 / peak:.1f}",
                     "-" if g64 is None else f"{g64:.2f}", "-" if g64 is None else f"{100 * g64 / peak:.1f}"])
    text += (f"\n### Distance to the machine's limit (fp32, 1 thread; GEMM peak {peak:.1f} GFLOP/s)\n\n"
             + md_table(["model", "runtime", "MFLOPs/img", "GFLOP/s b1", "% peak b1", "GFLOP/s b64", "% peak b64"],
                        sorted(roof)))
    path.write_text(text)
    print(text)


def plot(results: list[dict], path: Path, title: str) -> None:
    """Latency vs accuracy: one colour per model, one marker per runtime, filled fp32 / hollow fp16 / small int8."""
    fig, ax = new_axes(figsize=(10, 6))
    markers = {"onnx": "o", "tflite": "s", "executorch": "^", "torch": "x", "coreml": "D"}
    rows = [r for r in _ok(results) if r["runtime"]["threads"] == 1 and r.get("accuracy") is not None]
    labels = sorted({r["label"] for r in rows})
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for r in rows:
        marker, colour = markers.get(r["runtime"]["name"], "."), colours[r["label"]]
        hollow = r["precision"] == "fp16" and marker != "x"
        style = {"color": colour} if marker == "x" else {"facecolors": "none" if hollow else colour, "edgecolors": colour}
        ax.scatter(r["latency_ms"]["p50"], 100 * r["accuracy"], marker=marker, s=18 if r["precision"] == "int8" else 40,
                   **style)
    for label in labels:
        ax.scatter([], [], color=colours[label], marker="o", label=label)
    for name, marker in markers.items():
        if any(r["runtime"]["name"] == name for r in rows):
            ax.scatter([], [], color="black", marker=marker, label=f"runtime: {name}")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xscale("log")
    finish_plot(fig, ax, path, title + "\nfilled fp32, hollow fp16, small int8",
                "p50 latency, ms (batch 1, 1 thread, log)")


if __name__ == "__main__":
    main()
