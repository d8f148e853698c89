"""Accuracy at a wall-clock budget (issue 11): every row trains for the same minutes on this machine, then is
tested on the full test set.

The schedule is planned for the budget, not cut: `edgevit train --budget-minutes B` runs warm-up + cosine on
the share of the budget spent, so every row ends at its minimum lr whatever its speed (see
edgevit.train.schedule.lr_at_time). A MAE row spends a share of the same budget on pre-training.

    python benchmarks/budget.py --budget-minutes 60 --only mmoe_vit_xxs --threads 1
    python benchmarks/budget.py --budget-minutes 20 --only "vit_mlit_xxs (dense twin)" --seeds 0 1

Rows are merged into benchmarks/results/budget-<data>.json by (label, budget_minutes), so rows may come from
several runs; each keeps its own command, machine, date and the load average the machine had (it is shared).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from common import RESULTS, ROOT, edgevit, machine_line, md_table, write_json

MAE_SHARE = 0.4  # of the budget spent on MAE pre-training in the MAE row
# label -> (model, extra train args); "{mae}" marks the row that pre-trains first
ROWS: dict[str, tuple[str, list[str]]] = {
    "mmoe_vit_xxs": ("mmoe_vit_xxs", []),
    "vit_mlit_xxs (dense twin)": ("vit_mlit_xxs", []),
    "mmoe_vit_xxs, MAE pre-trained + fine-tuned": ("mmoe_vit_xxs", ["{mae}"]),
    "mobile_vmoe_t32": ("mobile_vmoe_t32", []),
    "vit_t32 (dense twin of mobile_vmoe_t32)": ("vit_t32", []),
}


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()


def same_geometry(recipe: str) -> list[str]:
    """Flags giving the MAE encoder the fine-tuning recipe's input size and patch (--init needs equal shapes)."""
    from edgevit.train.recipes import get

    values = get(recipe).values
    flags = ["--img-size", str(values["img_size"])] if values.get("img_size") else []
    for k, v in values.get("overrides", {}).items():
        flags += ["--set", f"{k}={v}"]
    return flags


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def train_row(label: str, seed: int, args: argparse.Namespace, runs: Path) -> dict:
    """Train (and pre-train) one row for one seed -> its results.json, with the commands run."""
    model, extra = ROWS[label]
    common = ["--data", args.data, "--seed", str(seed), "--threads", str(args.threads)]
    if args.limit:
        common += ["--limit", str(args.limit)]
    out = runs / f"{slug(label)}-{args.budget_minutes:g}min-s{seed}"
    commands, budget, pre_s = [], args.budget_minutes, 0.0
    if "{mae}" in extra:
        mae_out = out.with_name(out.name + "-mae")
        pre = ["pretrain", "--model", model, "--recipe", "mae", *common, *same_geometry(args.recipe),
               "--budget-minutes", f"{budget * MAE_SHARE:g}", "--out", str(mae_out)]
        if not (mae_out / "results.json").exists():
            edgevit(*pre, log=runs / "logs" / f"{mae_out.name}.log")
        commands.append("edgevit " + shlex.join(pre))
        pre_s = results_of(mae_out)["train_seconds"]
        budget = max(budget - pre_s / 60, 0.1 * budget)
        extra = ["--init", str(mae_out / "best")]
    cmd = ["train", "--model", model, "--recipe", args.recipe, *common, *extra, "--budget-minutes", f"{budget:g}", "--out", str(out)]
    if not (out / "results.json").exists():
        edgevit(*cmd, log=runs / "logs" / f"{out.name}.log")
    commands.append("edgevit " + shlex.join(cmd))
    res = results_of(out)
    res["train_seconds"] = res["train_seconds"] + pre_s
    res["commands"] = commands
    return res


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on PATH.lock for a read-merge-write of the results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def merge_rows(path: Path, new: list[dict]) -> list[dict]:
    """Earlier rows kept unless a new row has the same (label, budget_minutes)."""
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    keys = {(r["label"], r["budget_minutes"]) for r in new}
    return [r for r in old if (r["label"], r["budget_minutes"]) not in keys] + new


def table(rows: list[dict]) -> str:
    body = [[r["label"], f"{r['budget_minutes']:g}", f"{r['train_seconds'] / 60:.1f}", f"{r['epochs']:.2f}",
             f"{r.get('train_img_s', 0):.0f}", f"{100 * r['top1']:.2f}", " ".join(map(str, r["seeds"])),
             r.get("load_avg", "")] for r in sorted(rows, key=lambda r: (-r["budget_minutes"], -r["top1"]))]
    return md_table(["row", "budget (min)", "trained (min)", "epochs", "train img/s", "top-1 (%)", "seeds",
                     "load avg (start/end)"], body)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget-minutes", type=float, required=True)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--recipe", default="cpu-fast")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (the machine is shared)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--only", nargs="+", choices=list(ROWS), default=None, help="rows to run (default: all)")
    p.add_argument("--limit", type=int, default=None, help="train images (quick checks only; rows need all)")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "budget")
    args = p.parse_args()
    path = RESULTS / f"budget-{args.data.split(':', 1)[0]}.json"
    new = []
    for label in args.only or list(ROWS):
        per_seed, load0 = [], os.getloadavg()[0]
        for seed in args.seeds:
            per_seed.append(train_row(label, seed, args, args.runs))
        load1 = os.getloadavg()[0]
        top1 = [r["test_acc"] for r in per_seed]
        new.append({
            "label": label, "model": per_seed[0]["model"], "budget_minutes": args.budget_minutes,
            "train_seconds": sum(r["train_seconds"] for r in per_seed) / len(per_seed),
            "epochs": sum(r["epochs_done"] for r in per_seed) / len(per_seed),
            "top1": sum(top1) / len(top1), "top1_per_seed": top1, "seeds": args.seeds,
            "test_split": per_seed[0]["test_split"], "recipe": args.recipe, "threads": per_seed[0]["threads"],
            "weights": per_seed[0]["weights"], "train_img_s": per_seed[0]["train_img_s"],
            "load_avg": f"{load0:.1f}/{load1:.1f}",
            "command": "python benchmarks/budget.py " + shlex.join(sys.argv[1:]),
            "edgevit_commands": [c for r in per_seed for c in r["commands"]],
            "machine": machine_line(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        })
        with locked(path):  # several budget.py processes may finish rows at the same time
            rows = merge_rows(path, new)
            write_json(path, {"data": args.data, "rows": rows})
            path.with_suffix(".md").write_text(table(rows))
        print(f"{label}: top-1 {100 * new[-1]['top1']:.2f}% in {new[-1]['train_seconds'] / 60:.1f} min "
              f"({new[-1]['epochs']:.2f} epochs) -> {path}", flush=True)


if __name__ == "__main__":
    main()
