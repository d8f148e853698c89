"""Precomputed size and cost of every registered model, so `edgevit models` answers instantly.

Counting FLOPs means building each model and tracing a forward (4 s for the zoo on an idle 2-core machine,
16-30 s under load, most of it ViT-Tiny at 224 px), and even importing torch costs seconds under load. The
registry is code, so its numbers change only when the code does: they are computed once into
`model_stats.json` beside this module, keyed by each config's hash, and `edgevit models` reads them without
importing torch. A test recomputes the whole table and fails when it is stale (regenerate with
`python -m edgevit.models.stats_table`). A model whose config hash is not in the table (an edit not yet
regenerated) is counted on the spot, so the command is never wrong, only slower. We chose a shipped table
over a per-user cache because a cache would still pay the first run and the torch import on every call.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("model_stats.json")
STAT_KEYS = ("params", "active_params", "flops", "active_flops")


def compute_stats(name: str) -> dict[str, Any]:
    """Count one registered model as registered (10 classes): params, active params, FLOPs (torch)."""
    from edgevit.models.stats import active_flops, active_params, count_flops, count_params
    from edgevit.registry import create_config, create_model

    model = create_model(name)
    flops = count_flops(model)
    return {"config_hash": create_config(name).config_hash(), "params": count_params(model),
            "active_params": active_params(model), "flops": flops, "active_flops": active_flops(model, flops)}


def load_table(path: Path = TABLE_PATH) -> dict[str, dict[str, Any]]:
    """The shipped table; an unreadable one is an empty one (every model is then counted on the spot)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _valid(entry: Any, config_hash: str) -> bool:
    return (isinstance(entry, dict) and entry.get("config_hash") == config_hash
            and all(isinstance(entry.get(k), int) and entry[k] >= 0 for k in STAT_KEYS))


def model_stats(names: list[str], table: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Stats of `names` from the table where their config hash matches, else counted now -> (stats, counted)."""
    from edgevit.registry import create_config

    table = load_table() if table is None else table
    out, counted = {}, []
    for name in names:
        entry = table.get(name)
        if _valid(entry, create_config(name).config_hash()):
            out[name] = dict(entry)
        else:
            out[name] = compute_stats(name)
            counted.append(name)
    return out, counted


def build_table() -> dict[str, dict[str, Any]]:
    from edgevit.registry import list_models

    return {name: compute_stats(name) for name in list_models()}


def write_table(path: Path = TABLE_PATH) -> Path:
    from edgevit.runtimes.contract import atomic_write_text

    atomic_write_text(path, json.dumps(build_table(), indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":  # python -m edgevit.models.stats_table
    sys.stdout.write(f"wrote {write_table()}\n")
