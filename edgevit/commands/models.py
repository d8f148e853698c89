"""`edgevit models`: the registry as a table (params, active params, FLOPs, input size) or JSON.

Instant: the numbers come from the precomputed `edgevit/models/model_stats.json` (see
`edgevit.models.stats_table` for why a shipped table), only for the models listed, and no torch is imported
unless a model is missing from it. The table is plain text padded to its content (no borders, no colour), so
it reads the same in a terminal, in a pipe and at 80 columns, and never cuts a number.
"""

from __future__ import annotations

import json
import sys
import textwrap

import typer

COLUMNS = [  # header, right-aligned?
    ("name", False), ("params", True), ("active", True), ("MFLOPs", True), ("exec", True), ("input", True),
    ("dense twin", False),
]
NOTES = """\
active: parameters one image uses: k of E experts per image (mobile_vmoe)
        or per token (mmoe_vit).
MFLOPs: per image with those k experts; 2 FLOPs per multiply-add (papers
        often quote multiply-adds). exec: what the exported graph computes
        (mmoe_vit's stacked matmul runs all E experts for every token)."""


def model_rows(query: str = "*") -> list[dict]:
    """One dict per registered model matching `query` (a word matches as a substring; globs work)."""
    from edgevit.models.stats_table import model_stats
    from edgevit.registry import create_config, find_models, get_model_entry

    names = find_models(query)
    stats, counted = model_stats(names)
    if counted:
        sys.stderr.write(f"note: counted {len(counted)} model(s) missing from the precomputed table; "
                         "regenerate it with `python -m edgevit.models.stats_table`\n")
    rows = []
    for name in names:
        entry, cfg, st = get_model_entry(name), create_config(name), stats[name]
        rows.append({
            "name": name,
            "family": entry.family,
            "aliases": list(entry.aliases),
            "params": st["params"],
            "active_params": st["active_params"],
            "mflops": round(st["active_flops"] / 1e6, 2),
            "mflops_executed": round(st["flops"] / 1e6, 2),
            "input_size": [cfg.in_chans, cfg.img_size, cfg.img_size],
            "dense_twin": entry.dense_twin,
            "attention": cfg.attention,
            "description": entry.description,
        })
    return rows


def _cells(r: dict) -> list[str]:
    return [r["name"], f"{r['params'] / 1e6:.3f}M", f"{r['active_params'] / 1e6:.3f}M", f"{r['mflops']:.1f}",
            f"{r['mflops_executed']:.1f}", "x".join(map(str, r["input_size"])), r["dense_twin"] or "-"]


def render_table(rows: list[dict]) -> str:
    """Plain lines, columns padded to their widest cell, two spaces apart; nothing is ever cut."""
    cells = [[h for h, _ in COLUMNS]] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if right else c.ljust(w) for c, w, (_, right) in zip(row, widths, COLUMNS,
                                                                                       strict=True)).rstrip()
             for row in cells]
    aliases = [f"{a} = {r['name']}" for r in rows for a in r["aliases"]]
    if aliases:
        lines += textwrap.wrap("aliases: " + ", ".join(aliases), 80, subsequent_indent="         ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines + ["", NOTES])


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(
        query: str = typer.Argument("*", help="A word matches names containing it ('vit', 'mlit'); "
                                              "shell-style globs work too ('mobile_*')."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List registered models: parameters, active parameters and FLOPs per image, input size, dense twin.

        Active parameters and MFLOPs: what one image needs with k experts per image (mobile_vmoe) or per token.

        'exec': the MFLOPs the exported graph computes. Numbers are for the registered config (10 classes).
        """
        rows = model_rows(query)
        if not rows:
            from edgevit.errors import ConfigError

            raise ConfigError(f"no model matches {query!r}; run `edgevit models` for the full list")
        typer.echo(json.dumps(rows, indent=2) if as_json else render_table(rows))
