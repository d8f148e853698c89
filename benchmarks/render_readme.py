"""Regenerate the results from benchmarks/results/*.json and *.md (never typed by hand): the full tables go to
benchmarks/results/RESULTS.md, the README keeps a short summary (`summary`) that links to them.

    python benchmarks/render_readme.py
"""

from __future__ import annotations

import json
from pathlib import Path

from common import RESULTS, ROOT

START, END = "<!-- results:start -->", "<!-- results:end -->"
FULL = RESULTS / "RESULTS.md"


def quick_variant_last(path: Path) -> tuple[bool, str]:
    """The full data set's tables first, the quick `digits` variant after them."""
    return ("digits" in path.name, path.name)


def section() -> str:
    parts = ["## Results\n",
             "Measured on this project's CI-class machine by the scripts in `benchmarks/`; rerun them to refresh this "
             "section (`python benchmarks/render_readme.py` rewrites it from `benchmarks/results/`).\n"]
    for f in sorted(RESULTS.glob("accuracy-*.json"), key=quick_variant_last):
        acc = json.loads(f.read_text())
        meta = acc["meta"]
        tag = f.stem.split("-", 1)[1]
        train_min = sum((r["wall_s_mean"] + (r.get("pretrain_wall_s_mean") or 0)) * len(r["seeds"])
                        for r in acc["rows"]) / 60
        parts.append(f"### Accuracy at equal budget: {meta['data']}\n")
        parts.append(f"`{meta['command']}` — {meta['epochs']} epochs, batch {meta['batch_size']}, "
                     f"{meta.get('img_size')} px input for every row, train images: {meta['limit'] or 'all'}, "
                     f"seeds {meta['seeds']} (per row: the top-1 column); {meta['machine']}; {meta['date']}; {train_min:.0f} min of training "
                     "in all. The machine is shared: compare train wall times loosely.\n")
        for extra in meta.get("also", []):
            parts.append(f"More seeds for some rows: `{extra}`.\n")
        parts.append((RESULTS / f"accuracy-{tag}.md").read_text())
        parts.append(deltas(acc))
        if (RESULTS / f"accuracy-{tag}.png").exists():
            parts.append(f"![accuracy {tag}](benchmarks/results/accuracy-{tag}.png)\n")
    for f in sorted(RESULTS.glob("budget-*.json"), key=quick_variant_last):
        parts.append(budget_section(f))
    for f in sorted(RESULTS.glob("latency-*.json"), key=quick_variant_last):
        meta = json.loads(f.read_text())["meta"]
        tag = f.stem.split("-", 1)[1]
        parts.append(f"### Latency per runtime and distance to the limit: models trained on {meta['data']}\n")
        parts.append(f"`{meta['command']}` — {meta['machine']}; {meta['date']}; "
                     f"{meta['total_wall_s'] / 60:.0f} min in all. Latency is per call at batch 1 (p50 of timed "
                     "runs after warm-up); the machine is shared and noisy (±2x between runs), so compare rows "
                     "within one table only. top-1 and agreement with PyTorch are on at most the first "
                     f"{meta.get('eval_images', 500)} test images.\n")
        parts.append((RESULTS / f"latency-{tag}.md").read_text())
        if (RESULTS / f"latency-{tag}.png").exists():
            parts.append(f"![latency {tag}](benchmarks/results/latency-{tag}.png)\n")
    for f in sorted(RESULTS.glob("targets-*.json"), key=quick_variant_last):
        parts.append(targets_section(f))
    parts += part_tables()
    notes = RESULTS / "findings.md"
    if notes.exists():
        parts.append(notes.read_text())
    return "\n".join(parts)


# the flagship's pieces timed alone: single onnxruntime kernels (ort_ops.py), LiteRT's float parts (litert_parts.py)
PART_TABLES = ("ort-ops.md", "litert-parts.md")


def part_tables() -> list[str]:
    return [(RESULTS / name).read_text() for name in PART_TABLES if (RESULTS / name).exists()]


def targets_section(f: Path) -> str:
    """benchmarks/targets.py's table: the export targets as ratios measured in one run, with goal and status."""
    meta = json.loads(f.read_text())["meta"]
    tag = f.stem.split("-", 1)[1]
    return "\n".join([
        f"### Export targets: models trained on {meta['data']}\n",
        f"`{meta['command']}` — {meta['machine']}; {meta['date']}; {meta['total_wall_s'] / 60:.0f} min "
        "in all. Every ratio compares two artifacts timed in the same interleaved rounds (1 thread, "
        "batch 1), so machine drift cancels; absolute times do not compare across tables.\n",
        (RESULTS / f"targets-{tag}.md").read_text().split("\n", 2)[2]])


def budget_section(f: Path) -> str:
    """benchmarks/budget.py's rows: the same wall-clock budget per row, the lr schedule planned on time."""
    data = json.loads(f.read_text())
    rows = data["rows"]
    lines = [f"### Accuracy at a wall-clock budget: {data['data']}\n",
             "Each row trains for the stated minutes of wall time (warm-up + cosine over the budget, so every row "
             "ends at its minimum lr), then is tested on the full test set. The machine is shared: the load average "
             "and the images per second say how much of it a row got; rows with the same date ran side by side. "
             "A MAE row's pre-training time is inside its budget and its epochs count the fine-tuning only.\n",
             (RESULTS / f"{f.stem}.md").read_text()]
    for r in rows:
        lines.append(f"- {r['label']}, {r['budget_minutes']:g} min: `{r['command']}` — {r['machine']}; {r['date']}")
    return "\n".join(lines) + "\n"


REFERENCES = {  # group -> the row every other row of the group is compared with
    "MoE vs dense (equal params)": "vit_mlit_xxs (dense twin)",
    "MAE": "mmoe_vit_xxs",
    "Mobile V-MoE (equal active params)": "vit_t32 (dense twin)",
    "Vision Xformers on vit_t32": "vit_t32 (dense twin)",
}


def sampling_error(acc: dict) -> tuple[float, float] | None:
    """(mean top-1, its binomial standard error in points) on this table's test set, or None if unknown."""
    n_test = acc["meta"].get("test_images")
    if not n_test:
        return None
    p = sum(r["top1_mean"] for r in acc["rows"]) / len(acc["rows"])
    return p, 100 * (p * (1 - p) / n_test) ** 0.5


def deltas(acc: dict) -> str:
    """What the table says, computed: each row against its reference, judged against the test set's noise floor."""
    rows = {r["label"]: r for r in acc["rows"]}
    noise = sampling_error(acc)
    lines = ["Differences in top-1 points against the reference row of each comparison (computed from the table; "
             "a verdict needs at least 2 standard errors):\n"]
    for r in acc["rows"]:
        ref = rows.get(REFERENCES.get(r["group"], ""))
        if ref is None or ref is r:
            continue
        d = 100 * (r["top1_mean"] - ref["top1_mean"])
        verdict = "" if noise is None else (" — tie" if abs(d) < 2 * noise[1] else " — better" if d > 0 else " — worse")
        lines.append(f"- {r['label']} vs {ref['label']}: {d:+.2f} points{verdict}")
    if noise:
        p, stderr = noise
        n_test = acc["meta"]["test_images"]
        per_row = sorted({len(r["top1"]) for r in acc["rows"]})
        spread = ("not measured" if per_row == [1] else "measured only where a row has several seeds (its ± std)"
                  if 1 in per_row else "only partly averaged out")
        lines.append(f"\nOne test image is {100 / n_test:.2f} points here ({n_test} test images); the sampling error "
                     f"of a top-1 near {100 * p:.0f}% on them is ±{stderr:.2f} points (1 s.e.), and the run-to-run "
                     f"spread of training is {spread}: differences under about {2 * stderr:.1f} points (2 s.e.) are "
                     "not evidence either way.\n")
    return "\n".join(lines) + "\n"


def fastest_rows(f: Path) -> list[str]:
    """One markdown row per model of a latency file: its fastest validated runtime x precision at batch 1, and
    eager PyTorch for scale."""
    data = json.loads(f.read_text())
    best: dict[str, dict] = {}
    eager: dict[str, float] = {}
    for r in data["results"]:
        p50 = (r.get("latency_ms") or {}).get("p50")
        if r.get("status") != "ok" or p50 is None or (r.get("batch") or 1) != 1:
            continue
        label = r.get("label") or r.get("model")
        if r["runtime"]["name"] == "torch":
            eager[label] = min(p50, eager.get(label, p50))
        elif label not in best or p50 < best[label]["latency_ms"]["p50"]:
            best[label] = r
    rows = ["| model | fastest export | p50 ms | top-1 | eager PyTorch ms |", "|---|---|---:|---:|---:|"]
    for label, r in best.items():
        acc = "—" if r.get("accuracy") is None else f"{100 * r['accuracy']:.1f}"
        torch_ms = f"{eager[label]:.3f}" if label in eager else "—"
        rows.append(f"| {label} | {r['runtime']['name']} {r['precision']} | {r['latency_ms']['p50']:.3f} | {acc} | "
                    f"{torch_ms} |")
    return rows


def summary() -> str:
    """The README's results: what the tables say, the accuracy tables (short) and each model's fastest export;
    the full tables (every runtime x precision, distance to the machine's limit) are in RESULTS.md."""
    parts = ["## Results\n",
             "Measured on this project's shared CI-class machine by the scripts in `benchmarks/`. Full tables, "
             "commands and plots: [benchmarks/results/RESULTS.md](benchmarks/results/RESULTS.md) "
             "(`python benchmarks/render_readme.py` rewrites both from `benchmarks/results/`).\n"]
    for f in sorted(RESULTS.glob("accuracy-*.json"), key=quick_variant_last):
        tag = f.stem.split("-", 1)[1]
        meta = json.loads(f.read_text())["meta"]
        parts.append(f"### Accuracy: {meta['data']} ({meta['epochs']} epochs, {meta.get('img_size')} px)\n")
        parts.append((RESULTS / f"accuracy-{tag}.md").read_text())
    for f in sorted(RESULTS.glob("budget-*.json"), key=quick_variant_last):
        parts.append(budget_section(f))
    for f in sorted(RESULTS.glob("targets-*.json"), key=quick_variant_last):
        parts.append(targets_section(f))
    parts += part_tables()
    for f in sorted(RESULTS.glob("latency-*.json"), key=quick_variant_last):
        meta = json.loads(f.read_text())["meta"]
        parts.append(f"### Fastest export per model: trained on {meta['data']} (batch 1, {meta['machine']})\n")
        parts.append("\n".join(fastest_rows(f)) + "\n")
    notes = RESULTS / "findings.md"
    if notes.exists():
        parts.append(notes.read_text())
    return "\n".join(parts)


def main() -> None:
    full = "# edgevit results\n\n" + section().replace("](benchmarks/results/", "](")  # links from this folder
    FULL.write_text(full)
    readme = ROOT / "README.md"
    text = readme.read_text()
    body = f"{START}\n{summary()}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    readme.write_text(text)
    print(f"rewrote the results section of {readme}")


if __name__ == "__main__":
    main()
