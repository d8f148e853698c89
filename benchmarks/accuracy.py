"""Accuracy at equal budget (issue 7, table 1): every row trained with the same recipe and epochs via the CLI.

Rows: mmoe_vit_xxs vs its dense twin (equal params); Mobile V-MoE (learned router, super-class router from
`edgevit superclasses`) vs its dense twin (equal active params); MAE pre-trained + fine-tuned vs from scratch;
the Vision-Xformer options on one base model (vit_t32). Columns: params, active params, MFLOPs, wall time, top-1.

    python benchmarks/accuracy.py --data fashion-mnist --epochs 3 --limit 10000 --seeds 0
    python benchmarks/accuracy.py --data digits --epochs 8           # quick variant

Writes benchmarks/results/accuracy-<data>.{json,md,png}. Runs that finished earlier (results.json present in the
run folder) are reused, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from common import RESULTS, ROOT, edgevit, finish_plot, machine_line, md_table, mean_std, new_axes, write_json

# group, label, model, extra train args ({superclasses} and {mae} are filled in per seed)
ROWS: list[tuple[str, str, str, list[str]]] = [
    ("MoE vs dense (equal params)", "mmoe_vit_xxs", "mmoe_vit_xxs", []),
    ("MoE vs dense (equal params)", "vit_mlit_xxs (dense twin)", "vit_mlit_xxs", []),
    ("MAE", "mmoe_vit_xxs, MAE pre-trained + fine-tuned", "mmoe_vit_xxs", ["--init", "{mae}"]),
    ("Mobile V-MoE (equal active params)", "vit_t32 (dense twin)", "vit_t32", []),
    ("Mobile V-MoE (equal active params)", "mobile_vmoe_t32, learned router", "mobile_vmoe_t32", []),
    ("Mobile V-MoE (equal active params)", "mobile_vmoe_t32, super-class router", "mobile_vmoe_t32",
     ["--superclasses", "{superclasses}"]),
    ("Vision Xformers on vit_t32", "conv stem", "vit_t32", ["--set", "stem=conv"]),
    ("Vision Xformers on vit_t32", "RoPE", "vit_t32", ["--set", "pos=rope"]),
    ("Vision Xformers on vit_t32", "Performer", "vit_t32", ["--set", "attention=performer"]),
    ("Vision Xformers on vit_t32", "Linformer (k=32)", "vit_t32", ["--set", "attention=linformer", "--set", "linformer_k=32"]),
    ("Vision Xformers on vit_t32", "Nystromformer (16 landmarks)", "vit_t32",
     ["--set", "attention=nystrom", "--set", "nystrom_landmarks=16"]),
]


def row_slug(model: str, extra: list[str]) -> str:
    """Run-folder name of a row: model + its overrides (+ -mae / -sc)."""
    sets = [v.split("=", 1)[1] for f, v in zip(extra[::2], extra[1::2], strict=False) if f == "--set"]
    tail = "-mae" if "{mae}" in extra else "-sc" if "{superclasses}" in extra else ""
    return "-".join([model, *sets]) + tail


def model_stats(model: str, extra: list[str], img_size: int) -> dict:
    """Params, active params and MFLOPs of the row's exact config (overrides applied)."""
    from edgevit.models.stats import active_params, count_flops, count_params
    from edgevit.registry import create_model

    overrides = {}
    for flag, val in zip(extra[::2], extra[1::2], strict=False):
        if flag == "--set":
            k, v = val.split("=", 1)
            overrides[k] = int(v) if v.isdigit() else v
    m = create_model(model, img_size=img_size, **overrides)
    return {"params": count_params(m), "active_params": active_params(m), "mflops": count_flops(m) / 1e6}


def _test_images(result: dict) -> int | None:
    """Size of the split the row was tested on, from the run's eval report."""
    report = Path(result["checkpoint"]).parent / "eval" / "eval.json"
    try:
        return int(json.loads(report.read_text())["count"])
    except (OSError, KeyError, ValueError):
        return None


def run_once(out: Path, args: list[str], log: Path) -> dict:
    res = out / "results.json"
    if not res.exists():
        edgevit("train", *args, "--out", str(out), log=log)
    return json.loads(res.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="train images (the test split is always complete)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--img-size", type=int, default=24, help="one input size for every row (a multiple of 3 and 4)")
    ap.add_argument("--only", nargs="*", default=None, help="row labels (substring match) to run")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-accuracy")
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md and .png from the .json; no training")
    a = ap.parse_args()

    tag = a.data.split(":")[0]
    if a.render_only:
        print(write_outputs(tag))
        return
    common = ["--data", a.data, "--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
              "--img-size", str(a.img_size)]
    if a.limit:
        common += ["--limit", str(a.limit)]
    runs = a.runs / tag
    rows_out = []
    test_images = None
    t_start = time.time()
    for group, label, model, extra in ROWS:
        if a.only and not selected(label, a.only):
            continue
        accs, walls, pre_walls = [], [], []
        for seed in a.seeds:
            fill = {}
            if "{superclasses}" in extra:
                twin = run_once(runs / f"vit_t32-s{seed}", ["--model", "vit_t32", *common, "--seed", str(seed)],
                                runs / "logs" / f"vit_t32-s{seed}.log")
                sc = runs / f"superclasses-s{seed}.json"
                if not sc.exists():
                    edgevit("superclasses", "--checkpoint", twin["checkpoint"], "--data", a.data, "--num", "5",
                            "--out", str(sc), log=runs / "logs" / f"superclasses-s{seed}.log")
                fill["superclasses"] = str(sc)
            if "{mae}" in extra:
                mae_dir = runs / f"mae-{model}-s{seed}"
                if not (mae_dir / "results.json").exists():
                    edgevit("pretrain", "--model", model, *common, "--seed", str(seed), "--out", str(mae_dir),
                            log=runs / "logs" / f"mae-{model}-s{seed}.log")
                fill["mae"] = str(mae_dir / "best")
                pre_walls.append(float(json.loads((mae_dir / "results.json").read_text())["wall_s"]))
            args = [x.format(**fill) for x in extra]
            slug = row_slug(model, extra)
            r = run_once(runs / f"{slug}-s{seed}", ["--model", model, *common, "--seed", str(seed), *args],
                         runs / "logs" / f"{slug}-s{seed}.log")
            accs.append(float(r["test_acc"]))
            test_images = test_images or _test_images(r)
            walls.append(float(r["wall_s"]))
        m, sd = mean_std(accs)
        rows_out.append({"group": group, "label": label, "model": model, "args": extra, **model_stats(model, extra, a.img_size),
                         "top1_mean": m, "top1_std": sd, "top1": accs, "wall_s_mean": mean_std(walls)[0],
                         "pretrain_wall_s_mean": mean_std(pre_walls)[0] if pre_walls else None,
                         "seeds": a.seeds})
        print(f"  {label}: top-1 {100 * m:.2f} ± {100 * sd:.2f}%", flush=True)

    command = "python benchmarks/accuracy.py " + " ".join(
        f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ' '.join(map(shlex.quote, map(str, v)))}"
        for k, v in vars(a).items()
        if k in ("data", "epochs", "limit", "seeds", "batch_size", "img_size", "only") and v is not None)
    meta = {"data": a.data, "epochs": a.epochs, "limit": a.limit, "batch_size": a.batch_size, "seeds": a.seeds,
            "img_size": a.img_size, "test_images": test_images,
            "machine": machine_line(), "date": time.strftime("%Y-%m-%d"), "total_wall_s": round(time.time() - t_start),
            "command": command}
    path = RESULTS / f"accuracy-{tag}.json"
    if a.only and path.exists():  # more seeds for some rows: merge into the full table, keep its recipe
        old = json.loads(path.read_text())
        if any(old["meta"][k] != meta[k] for k in ("epochs", "limit", "batch_size", "img_size")):
            raise SystemExit(f"{path} was made with another recipe ({old['meta']['command']}): rerun without --only")
        new = {r["label"]: r for r in rows_out}
        known = {r["label"] for r in old["rows"]}
        rows_out = [new.get(r["label"], r) for r in old["rows"]] + [r for r in rows_out if r["label"] not in known]
        meta = {**old["meta"], "seeds": sorted({s for r in rows_out for s in r["seeds"]}),
                "also": old["meta"].get("also", []) + [command]}
    write_json(path, {"meta": meta, "rows": rows_out})
    print(write_outputs(tag))


def write_outputs(tag: str) -> str:
    """Markdown table and plot from the JSON result (also `--render-only`: no training)."""
    result = json.loads((RESULTS / f"accuracy-{tag}.json").read_text())
    rows_out, meta = result["rows"], result["meta"]
    table = md_table(["group", "model", "params", "active", "MFLOPs", "train wall (s)", "top-1 (%)"], [
        [r["group"], r["label"], f"{r['params'] / 1e6:.3f}M", f"{r['active_params'] / 1e6:.3f}M", f"{r['mflops']:.1f}",
         format_wall(r), format_top1(r)] for r in rows_out])
    (RESULTS / f"accuracy-{tag}.md").write_text(table)
    plot(rows_out, RESULTS / f"accuracy-{tag}.png", f"{meta['data']}: top-1 at equal budget ({meta['epochs']} epochs)")
    return table


def selected(label: str, only: list[str]) -> bool:
    """`--only` picks rows by exact label, or by substring for an item that is no row's exact label."""
    labels = {row[1] for row in ROWS}
    return any(item == label if item in labels else item in label for item in only)


def format_wall(row: dict) -> str:
    """Training seconds; a fine-tuned row also shows the MAE pre-training it needed (same epochs, same data)."""
    pre = row.get("pretrain_wall_s_mean")
    return f"{row['wall_s_mean']:.0f}" + (f" + {pre:.0f} MAE" if pre else "")


def format_top1(row: dict) -> str:
    """Mean ± std over seeds; a single seed has no spread to report, so none is printed."""
    if len(row["top1"]) < 2:
        return f"{100 * row['top1_mean']:.2f} (1 seed)"
    return f"{100 * row['top1_mean']:.2f} ± {100 * row['top1_std']:.2f} ({len(row['top1'])} seeds)"


def plot(rows: list[dict], path: Path, title: str) -> None:
    fig, ax = new_axes(figsize=(8, 5))
    for r in rows:
        ax.errorbar(r["mflops"], 100 * r["top1_mean"], yerr=100 * r["top1_std"], fmt="o", capsize=3)
        ax.annotate(r["label"], (r["mflops"], 100 * r["top1_mean"]), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    finish_plot(fig, ax, path, title, "MFLOPs per image")


if __name__ == "__main__":
    main()
