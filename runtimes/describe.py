"""`info`: what an exported artifact is, read from its `edgevit.json` and the model file, torch-free.

Why torch-free: the person handed an artifact is often on the device (or a laptop without the training stack)
and needs to know what it expects before running it: input shape and layout, preprocessing, labels, routing,
precision, and the validation report it was exported with. `describe_artifact` returns plain JSON-able data;
`render_description` turns it (or the torch side's checkpoint description, same keys) into rich output.
The command line is `edgevit info` (torch-free at import); `python -m edgevit.runtimes describe` hands over to it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from edgevit.errors import ContractError, EdgevitError, RuntimeHarnessError
from edgevit.runtimes.base import (
    expand_artifacts,
    is_checkpoint_dir,
    path_size,
    resolve_artifact,
    runtime_for_path,
)
from edgevit.runtimes.contract import find_contract
from edgevit.runtimes.safe_text import terminal_safe


def describe_artifact(path: str | Path) -> dict[str, Any]:
    """An artifact file, its folder or its edgevit.json -> a JSON-able description (kind "artifact")."""
    p = Path(path)
    if not p.exists():
        raise RuntimeHarnessError(f"{p} does not exist")
    if is_checkpoint_dir(p):
        raise ContractError(f"{p} is a checkpoint folder, not an exported artifact (`edgevit info` describes "
                            "checkpoints where torch is installed)")
    contract, model_path = resolve_artifact(p)
    try:
        runtime: str | None = runtime_for_path(p)
    except EdgevitError:
        runtime = None
    warnings: list[str] = []
    exists = model_path.exists()
    if not exists:
        warnings.append(f"model file {model_path.name} is missing")
    elif model_path.name != contract.file:
        warnings.append(f"the contract describes {contract.file}, not {model_path.name}")
    v = contract.validation
    if v and v.get("passed") is False:
        warnings.append("exported although validation failed (see the validation report)")
    m = contract.model
    return {
        "kind": "artifact",
        "path": str(p),
        "file": str(model_path),
        "contract": str(find_contract(p)),
        "size_bytes": path_size(model_path) if exists else None,
        "runtime": runtime,
        "target": contract.target,
        "model": {"name": m.get("name"), "family": m.get("family"), "params": m.get("params"),
                  "active_params": m.get("active_params"), "flops": m.get("flops"),
                  "config": m.get("config") or {}},
        "labels": contract.labels,
        "num_classes": contract.num_classes,
        "input": contract.input,
        "output": contract.output,
        "preprocess": contract.preprocess.to_dict(),
        "precision": contract.precision,
        "routing": contract.routing,
        "edgevit_version": contract.edgevit_version or None,
        "format_version": contract.format_version,
        "eval_set": contract.eval_set,
        "source": contract.source,
        "validation": v or None,
        "extra": contract.extra,
        "warnings": warnings,
    }


def describe_artifacts(path: str | Path) -> list[dict[str, Any]]:
    """A folder of exports (one sub-folder each) -> one description each; anything else -> [its own]."""
    return [describe_artifact(p) for p in expand_artifacts(path)]


# ----------------------------------------------------------------------------------------------- rendering


def human_size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def human_count(n: int | None) -> str:
    if n is None:
        return "—"
    short = f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K" if n >= 1e3 else str(n)
    return f"{n:,} ({short})"


def _preprocess_line(pre: dict[str, Any]) -> str:
    h, w = pre["size"]
    mean = ", ".join(f"{x:g}" for x in pre["mean"])
    std = ", ".join(f"{x:g}" for x in pre["std"])
    return (f"resize ({pre.get('resize', 'bilinear')}) to {h}x{w}, {pre['channels']} channel(s), "
            f"x * {pre.get('scale', 1 / 255):.6g}, mean ({mean}), std ({std})")


def _labels_line(labels: list[str], limit: int = 20) -> str:
    shown = ", ".join(labels[:limit]) + (f", … (+{len(labels) - limit})" if len(labels) > limit else "")
    return f"{len(labels)}: {shown}"


def _input_line(inp: dict[str, Any]) -> str:
    dyn = " (any batch)" if inp.get("dynamic_batch") else ""
    shape = list(inp.get("shape", []))
    return f"{inp.get('name', 'input')} {shape} {inp.get('layout', '')} {inp.get('dtype', '')}{dyn}"


def _validation_lines(v: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, style) lines of a validation report: verdict, numbers, then each check."""
    ok = v.get("passed")
    verdict = "passed" if ok else "FAILED" if ok is False else "unknown"
    if v.get("numeric") is False:
        verdict += " (structure only: not run here)"
    out = [(f"validation: {verdict}", "green" if ok else "bold red" if ok is False else "yellow")]
    nums = []
    if v.get("max_abs_diff") is not None:
        tol = f" (tol {v['tolerance']:.1e})" if v.get("tolerance") is not None else ""
        nums.append(f"max abs diff vs PyTorch {v['max_abs_diff']:.2e}{tol}")
    if v.get("top1_agreement") is not None:
        n = f" of {v['n_real']} {v.get('eval_set', '')} images" if v.get("n_real") else ""
        nums.append(f"top-1 agreement {v['top1_agreement']:.1%}{n}")
    if v.get("accuracy") is not None:
        ref = f" (PyTorch {v['reference_accuracy']:.1%})" if v.get("reference_accuracy") is not None else ""
        nums.append(f"accuracy {v['accuracy']:.1%}{ref}")
    if nums:
        out.append(("  " + "; ".join(nums), ""))
    for chk in v.get("checks") or []:
        ok = chk.get("ok")  # None: reported only / skipped, not a failure
        mark, style = ("✓", "green") if ok else ("–", "dim") if ok is None else ("✗", "red")
        detail = f": {chk['detail']}" if chk.get("detail") else ""
        out.append((f"  {mark} {chk.get('name', '')}{detail}", style))
    return out


def render_description(d: dict[str, Any]) -> Any:
    """Rich output for one description (artifact or checkpoint): header, key/value grid, validation or metrics."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    m = d["model"]
    what = d.get("target") if d["kind"] == "artifact" else "checkpoint"
    head = Text(terminal_safe(m.get("name") or "?"), style="bold")
    size = human_size(d.get("size_bytes"))
    head.append(terminal_safe(f" ({m.get('family') or '?'}) · {what} · {d.get('precision')} · {size}"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str | None]] = [
        ("path", d["path"]), ("file", d.get("file")), ("runtime", d.get("runtime")),
        ("parameters", human_count(m.get("params"))),
        ("active params", human_count(m["active_params"]) if m.get("active_params") else None),
        ("FLOPs / image", human_count(m["flops"]) if m.get("flops") else None),
        ("active FLOPs", human_count(m["active_flops"]) if m.get("active_flops") not in (None, m.get("flops")) else None),
        ("input", _input_line(d["input"])), ("preprocess", _preprocess_line(d["preprocess"])),
        ("labels", _labels_line(d["labels"])), ("routing", d.get("routing")), ("precision", d.get("precision")),
        ("size", human_size(d.get("size_bytes"))), ("edgevit", d.get("edgevit_version")),
    ]
    src = d.get("source") or {}
    if src.get("checkpoint"):
        sha = f" (sha256 {src['sha256'][:12]}…)" if src.get("sha256") else ""
        rows.append(("source", f"{src['checkpoint']}{sha}"))
    cfg = m.get("config") or {}
    if cfg:
        pairs = (f"{k}={json.dumps(v)}" for k, v in cfg.items() if k not in ("name", "family"))
        rows.append(("config", " ".join(pairs)))
    for key, value in (d.get("train") or {}).items():
        rows.append((key, value if isinstance(value, str) else json.dumps(value)))
    for key, value in rows:
        if value not in (None, ""):
            grid.add_row(key, Text(terminal_safe(value)))
    parts: list[Any] = [head, grid]
    if d.get("validation"):
        parts += [Text(terminal_safe(t), style=s) for t, s in _validation_lines(d["validation"])]
    elif d["kind"] == "artifact":
        parts.append(Text("validation: none recorded", style="yellow"))
    for ev in d.get("evals") or []:
        parts.append(Text(terminal_safe(f"eval: {ev}")))
    for w in d.get("warnings") or []:
        parts.append(Text(terminal_safe(f"warning: {w}"), style="yellow"))
    return Group(*parts)


def show_descriptions(descs: list[dict[str, Any]], as_json: bool) -> None:
    """JSON (one object, or a list for several) on stdout, or rich panels separated by rules."""
    if as_json:
        sys.stdout.write(json.dumps(descs[0] if len(descs) == 1 else descs, indent=2, default=str) + "\n")
        sys.stdout.flush()
        return
    from rich.rule import Rule

    from edgevit.runtimes.console import make_console, print_trimmed

    con = make_console()
    for i, d in enumerate(descs):
        if i:
            con.print(Rule(style="dim"))
        print_trimmed(con, render_description(d))
