"""Reports over bench results: a terminal table (ultralytics-style), a markdown table, a PNG plot (latency vs
accuracy), and merging result files from several machines (`edgevit bench report DIR...`).

matplotlib is optional (a Pi may not have it): `plot` returns None and says why instead of failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevit.errors import EdgevitError
from edgevit.runtimes.bench import SCHEMA
from edgevit.runtimes.console import table_width
from edgevit.runtimes.files import one_line, read_json
from edgevit.runtimes.safe_text import plot_safe, terminal_safe

COLUMNS = ("Model", "Checkpoint", "Format", "Runtime", "Precision", "Batch", "Threads", "Machine", "Status",
           "Size (MB)", "Accuracy", "Top-1 agree", "ms/img p50", "ms/img p90", "FPS")
TEXT_COLUMNS = ("Model", "Checkpoint", "Format", "Runtime", "Precision", "Machine", "Status")
# Columns that move into the title when every row holds the same value.
MOVABLE = ("Model", "Checkpoint", "Machine", "Batch", "Threads")
# How a table narrows to fit a terminal, in order: shorter headers, then less important columns leave.
# Numbers are never cut: a column goes whole or stays whole.
SHORT_HEADERS = {"Checkpoint": "Ckpt", "Precision": "Prec", "Threads": "Thr", "Size (MB)": "MB",
                 "Accuracy": "Acc %", "Top-1 agree": "Agree %", "ms/img p50": "p50 ms", "ms/img p90": "p90 ms"}
DROP_ORDER = ("ms/img p90", "Machine", "Size (MB)", "Format", "Top-1 agree", "Checkpoint")


def _fmt(v: Any, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def status_cell(r: dict[str, Any]) -> str:
    if r.get("status") == "ok":
        return "✅"
    if r.get("status") == "unsupported":
        return "❌ needs macOS" if "macOS" in str(r.get("error")) else "❌ unsupported"
    return "❌"


def per_image_ms(r: dict[str, Any], key: str) -> tuple[float | None, bool]:
    """(ms per image at `key`, estimated?) — falls back to the mean where a tool reports no percentiles."""
    lat = r.get("latency_ms") or {}
    batch = max(int(r.get("batch") or 1), 1)
    v, est = lat.get(key), False
    if v is None and key == "p50" and lat.get("mean") is not None:
        v, est = lat["mean"], True
    return (None if v is None else float(v) / batch), est


def fps(r: dict[str, Any]) -> float | None:
    tp = r.get("throughput_ips") or {}
    v = tp.get(str(r.get("batch") or 1))
    if v is None:
        ms, _ = per_image_ms(r, "p50")
        v = 1000.0 / ms if ms else None
    return v


def runtime_cell(rt: dict[str, Any]) -> str:
    """'onnxruntime 1.31.1': the package whose version the result records (`extra.package`, which edgevit's
    harnesses write), else the runtime's name as the result gives it (the apps, benchmark_model)."""
    extra = rt.get("extra") if isinstance(rt.get("extra"), dict) else {}
    return f"{extra.get('package') or rt.get('name') or '?'} {rt.get('version') or ''}".strip()


def row(r: dict[str, Any]) -> list[str]:
    rt = r.get("runtime") or {}
    p50, est = per_image_ms(r, "p50")
    p90, _ = per_image_ms(r, "p90")
    size = r.get("size_bytes")
    acc = r.get("accuracy")
    agree = r.get("top1_agreement")
    return [str(r.get("model") or "?"), str(r.get("checkpoint") or "—"), str(r.get("format") or "?"),
            runtime_cell(rt), str(r.get("precision") or "?"),
            str(r.get("batch") or 1), str(rt.get("threads") or "auto"), str((r.get("machine") or {}).get("name") or "?"), status_cell(r),
            _fmt(None if size is None else size / 1e6, ".3f"), _fmt(None if acc is None else acc * 100, ".2f"),
            _fmt(None if agree is None else agree * 100, ".1f"),
            _fmt(p50, ".3f") + ("*" if est and p50 is not None else ""), _fmt(p90, ".3f"), _fmt(fps(r), ".1f")]


def _footnotes(results: list[dict[str, Any]]) -> list[str]:
    from edgevit.runtimes.bench import error_line

    notes = [f"{status_cell(r)} {error_line(r)}" for r in results if r.get("status") != "ok"]
    if any(per_image_ms(r, "p50")[1] for r in results):
        notes.append("* mean (the tool reports no percentiles)")
    return notes


def sort_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"torch": 0, "onnx": 1, "tflite": 2, "coreml": 3, "executorch": 4}
    return sorted(results, key=lambda r: (str(r.get("model")), str(r.get("checkpoint")),
                                          str((r.get("machine") or {}).get("name")),
                                          order.get(str((r.get("runtime") or {}).get("name")), 9),
                                          str(r.get("precision")), str((r.get("runtime") or {}).get("threads"))))


def _constant(results: list[dict[str, Any]], col: str) -> bool:
    i = COLUMNS.index(col)
    return len({row(r)[i] for r in results}) <= 1


def fit_columns(results: list[dict[str, Any]], width: int | None) -> tuple[list[str], dict[str, str], bool]:
    """(columns kept, header per column, runtime versions shown) for a table at most `width` wide.
    Constant columns always leave (they go to the title); then, only while the table is too wide: short
    headers, runtime names without versions, then the columns of DROP_ORDER one by one."""
    keep = [c for c in COLUMNS if not (c in MOVABLE and _constant(results, c))
            and not (c == "Top-1 agree" and all(r.get("top1_agreement") is None for r in results))]
    headers = {c: c for c in COLUMNS}
    rows = [row(r) for r in results]
    versions = True

    def need() -> int:
        cells = [[(cell if versions or COLUMNS[i] != "Runtime" else cell.split(" ")[0]) for i, cell in enumerate(r)]
                 for r in rows]
        idx = [COLUMNS.index(c) for c in keep]
        return table_width([headers[c] for c in keep], [[cells_r[i] for i in idx] for cells_r in cells])

    if width is None or need() <= width:
        return keep, headers, versions
    headers.update(SHORT_HEADERS)
    versions = False
    for col in DROP_ORDER:
        if need() <= width:
            break
        if col in keep:
            keep.remove(col)
    return keep, headers, versions


def render_table(results: list[dict[str, Any]], title: str = "edgevit bench", width: int | None = None) -> Any:
    """A rich Table (print it with a rich Console). Columns that are the same on every row (model, checkpoint,
    machine, batch, threads) move into the title; at a narrow `width` headers shorten and the least important
    columns leave (`fit_columns`), so no cell is ever cut."""
    from rich.table import Table
    from rich.text import Text

    keep, headers, versions = fit_columns(results, width)
    moved = [f"{c.lower()} {row(results[0])[COLUMNS.index(c)]}" for c in MOVABLE
             if c not in keep and results and _constant(results, c) and row(results[0])[COLUMNS.index(c)] != "—"]
    t = Table(title=Text(terminal_safe(title + (f" ({', '.join(moved)})" if moved else ""))), title_justify="left",
              header_style="bold", caption_justify="left")
    for c in keep:
        t.add_column(headers[c], justify="left" if c in TEXT_COLUMNS or c == "Runtime" else "right", no_wrap=True)
    idx = [COLUMNS.index(c) for c in keep]
    for r in sort_results(results):
        cells = row(r)
        if not versions:
            cells[COLUMNS.index("Runtime")] = cells[COLUMNS.index("Runtime")].split(" ")[0]
        t.add_row(*[Text(terminal_safe(cells[i])) for i in idx])  # Text: no rich markup inside paths / errors
    notes = _footnotes(results)
    if notes:
        t.caption = Text("\n".join(terminal_safe(n) for n in notes))
    return t


def to_markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if c in TEXT_COLUMNS or c == "Runtime" else "---:" for c in COLUMNS) + "|"]
    for r in sort_results(results):
        lines.append("| " + " | ".join(terminal_safe(cell).replace("|", "\\|") for cell in row(r)) + " |")
    machines = {}
    for r in results:
        m = r.get("machine") or {}
        machines[m.get("name")] = f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('arch')}, {m.get('os')}"
    lines.append("")
    lines += [terminal_safe(f"- machine `{k}`: {v}") for k, v in machines.items()]
    lines += [terminal_safe(f"- {n}") for n in _footnotes(results)]
    return "\n".join(lines) + "\n"


MARKERS = {"torch": "x", "onnx": "o", "tflite": "s", "coreml": "D", "executorch": "^"}


def _threads_size(threads: Any) -> float:
    """Marker area by thread count: 1 thread small, more threads bigger (auto counts as 1)."""
    import math

    n = threads if isinstance(threads, int) and threads > 0 else 1
    return 30.0 * (1.0 + math.log2(n))


def plot(results: list[dict[str, Any]], path: str | Path) -> tuple[Path | None, str]:
    """Latency (ms/img p50, log x) vs accuracy, one point per artifact x runtime x threads x machine, in the
    legend style of benchmarks/latency.py (no labels on the points, which pile up): one colour per model
    (and checkpoint, machine when several), one marker per runtime, filled fp32 / hollow fp16 / pale int8,
    bigger markers for more threads. Returns (path or None, a note)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "matplotlib is not installed: skipped the plot (pip install matplotlib)"
    fig = latency_figure(results)
    if fig is None:
        return None, "no result has both a latency and an accuracy: skipped the plot"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, bbox_inches="tight")
    except (ValueError, RuntimeError, OSError) as e:  # a label matplotlib still cannot draw: no plot, not a crash
        tmp.unlink(missing_ok=True)
        return None, f"could not draw the plot: {one_line(e, 200)}"
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path, f"plot: {path}"


def latency_figure(results: list[dict[str, Any]]) -> Any:
    """The figure `plot` saves (None when no result has both a latency and an accuracy)."""
    import matplotlib.pyplot as plt

    several = {c: len({str(_key(x, c)) for x in results}) > 1 for c in ("checkpoint", "machine")}
    pts = []
    for r in results:
        ms, _ = per_image_ms(r, "p50")
        if r.get("status") == "ok" and ms and r.get("accuracy") is not None:
            series = str(r.get("model"))
            if several["checkpoint"] and r.get("checkpoint"):
                series += f" {r['checkpoint']}"
            if several["machine"]:
                series += f" @{(r.get('machine') or {}).get('name')}"
            pts.append((ms, r["accuracy"] * 100, plot_safe(series), r))
    if not pts:
        return None
    series_names = list(dict.fromkeys(p[2] for p in pts))
    colours = {s: f"C{i % 10}" for i, s in enumerate(series_names)}
    fig, ax = plt.subplots(figsize=(8.5, 5), dpi=120)
    for ms, acc, series, r in pts:
        rt = r.get("runtime") or {}
        marker, colour, precision = MARKERS.get(str(rt.get("name")), "."), colours[series], r.get("precision")
        size = _threads_size(rt.get("threads"))
        if marker == "x":
            ax.scatter([ms], [acc], marker=marker, s=size, color=colour)
        else:
            ax.scatter([ms], [acc], marker=marker, s=size, edgecolors=colour, linewidths=1.2,
                       facecolors="none" if precision == "fp16" else colour, alpha=0.45 if precision == "int8" else 1)
    for s in series_names:
        ax.scatter([], [], color=colours[s], marker="o", label=s)
    used = {str((p[3].get("runtime") or {}).get("name")) for p in pts}
    for name, marker in MARKERS.items():
        if name in used:
            ax.scatter([], [], color="black", marker=marker, label=f"runtime: {name}")
    for prec, style in (("fp32", {"facecolors": "grey"}), ("fp16", {"facecolors": "none"}),
                        ("int8", {"facecolors": "grey", "alpha": 0.45})):
        if any(p[3].get("precision") == prec for p in pts):
            ax.scatter([], [], marker="o", edgecolors="grey", label=prec, **style)
    threads = sorted({(p[3].get("runtime") or {}).get("threads") or 0 for p in pts})
    if len(threads) > 1:
        for t in threads:
            ax.scatter([], [], marker="o", color="grey", s=_threads_size(t), label=f"{t or 'auto'} thread(s)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))  # 0.2, not 2x10^-1
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.margins(x=0.25, y=0.15)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, min(hi, 101.0))
    ax.set_xlabel("latency, ms per image (p50, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("edgevit bench: latency vs accuracy")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def _key(r: dict[str, Any], column: str) -> Any:
    return (r.get("machine") or {}).get("name") if column == "machine" else r.get(column)


def _looks_like_result(d: Any) -> bool:
    if not isinstance(d, dict):
        return False
    if str(d.get("schema", "")).startswith(SCHEMA.split("/")[0] + "/"):
        return True
    return "schema" not in d and {"model", "runtime", "latency_ms"} <= set(d)  # an app's file without the tag


def normalize(d: dict[str, Any]) -> dict[str, Any]:
    """Fill what an older or hand-written result (e.g. a sample app's) leaves out, so reports can read it."""
    from edgevit.runtimes.machine import slug

    r = dict(d)
    r.setdefault("schema", SCHEMA)
    r.setdefault("status", "ok" if (r.get("latency_ms") or {}).get("mean") is not None else "error")
    r.setdefault("source", "app")
    if not r.get("format"):
        from edgevit.runtimes.base import SUFFIX_RUNTIME

        r["format"] = SUFFIX_RUNTIME.get(Path(str(r.get("artifact") or "")).suffix)
    rt = dict(r.get("runtime") or {})
    if "provider" not in rt and "delegate" in rt:
        rt["provider"] = rt.pop("delegate")
    r["runtime"] = rt
    m = dict(r.get("machine") or {})
    m.setdefault("name", slug(str(m.get("device") or m.get("cpu") or m.get("hostname") or "device")))
    r["machine"] = m
    tp = r.get("throughput_ips")
    if isinstance(tp, int | float):
        r["throughput_ips"] = {str(r.get("batch") or 1): float(tp)}
    return r


def _as_results(data: Any) -> list[dict[str, Any]]:
    items = data if isinstance(data, list) else [data]
    return [normalize(d) for d in items if _looks_like_result(d)]


def load_results(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Every result in these files / folders (searched recursively); a file may hold one result or a list."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.json"))
        elif p.is_file():
            files.append(p)
        else:
            raise EdgevitError(f"no such result file or folder: {p}")
    results: list[dict[str, Any]] = []
    for f in files:
        try:
            results += _as_results(read_json(f))
        except (OSError, ValueError):
            continue  # not a result file (or a half-written one): skip
    return merge(results)


def merge(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeats of the same measurement (same model/checkpoint/artifact/runtime/precision/threads/batch/
    machine), keeping the newest. Two checkpoints of one model are two measurements."""
    best: dict[tuple, dict[str, Any]] = {}
    for r in results:
        rt = r.get("runtime") or {}
        key = (r.get("model"), r.get("checkpoint"), Path(str(r.get("artifact"))).name, rt.get("name"), r.get("precision"),
               rt.get("threads"), r.get("batch"), (r.get("machine") or {}).get("name"), r.get("device"))
        if key not in best or str(r.get("timestamp")) >= str(best[key].get("timestamp")):
            best[key] = r
    return list(best.values())

