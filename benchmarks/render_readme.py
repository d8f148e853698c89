"""Regenerate the README's results section from benchmarks/results/*.json and *.md (never typed by hand).

    python benchmarks/render_readme.py
"""

from __future__ import annotations

import json

from common import RESULTS, ROOT

START, END = "<!-- results:start -->", "<!-- results:end -->"


def section() -> str:
    parts = ["## Results\n",
             "Measured on this project's CI-class machine by the scripts in `benchmarks/`; rerun them to refresh this "
             "section (`python benchmarks/render_readme.py` rewrites it from `benchmarks/results/`).\n"]
    for f in sorted(RESULTS.glob("accuracy-*.json")):
        meta = json.loads(f.read_text())["meta"]
        tag = f.stem.split("-", 1)[1]
        parts.append(f"### Accuracy at equal budget: {meta['data']}\n")
        parts.append(f"`{meta['command']}` — {meta['epochs']} epochs, batch {meta['batch_size']}, "
                     f"train images: {meta['limit'] or 'all'}, seeds {meta['seeds']}; {meta['machine']}; "
                     f"{meta['date']}; {meta['total_wall_s'] / 60:.0f} min in all.\n")
        parts.append((RESULTS / f"accuracy-{tag}.md").read_text())
        if (RESULTS / f"accuracy-{tag}.png").exists():
            parts.append(f"![accuracy {tag}](benchmarks/results/accuracy-{tag}.png)\n")
    for f in sorted(RESULTS.glob("latency-*.json")):
        meta = json.loads(f.read_text())["meta"]
        tag = f.stem.split("-", 1)[1]
        parts.append(f"### Latency per runtime and distance to the limit: models trained on {meta['data']}\n")
        parts.append(f"`{meta['command']}` — {meta['machine']}; {meta['date']}; "
                     f"{meta['total_wall_s'] / 60:.0f} min in all. Latency is per call at batch 1 (p50 of timed "
                     "runs after warm-up); the machine is shared and noisy (±2x between runs), so compare rows "
                     "within one table only.\n")
        parts.append((RESULTS / f"latency-{tag}.md").read_text())
        if (RESULTS / f"latency-{tag}.png").exists():
            parts.append(f"![latency {tag}](benchmarks/results/latency-{tag}.png)\n")
    notes = RESULTS / "findings.md"
    if notes.exists():
        parts.append(notes.read_text())
    return "\n".join(parts)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    body = f"{START}\n{section()}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    readme.write_text(text)
    print(f"rewrote the results section of {readme}")


if __name__ == "__main__":
    main()
