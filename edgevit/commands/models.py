"""`edgevit models`: the registry as a table (params, active params, MFLOPs, input size) or JSON."""

from __future__ import annotations

import json

import typer


def model_rows(pattern: str = "*") -> list[dict]:
    from edgevit.models.stats import active_params, count_flops, count_params
    from edgevit.registry import create_model, get_model_entry, list_models

    rows = []
    for name in list_models(pattern):
        entry = get_model_entry(name)
        model = create_model(name)
        cfg = model.config
        rows.append({
            "name": name,
            "family": entry.family,
            "aliases": list(entry.aliases),
            "params": count_params(model),
            "active_params": active_params(model),
            "mflops": round(count_flops(model) / 1e6, 2),
            "input_size": [cfg.in_chans, cfg.img_size, cfg.img_size],
            "dense_twin": entry.dense_twin,
            "attention": cfg.attention,
            "description": entry.description,
        })
    return rows


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(
        pattern: str = typer.Argument("*", help="Shell-style filter on names, e.g. 'mmoe*'."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List registered models: family, parameters, active parameters per image, MFLOPs per image, input size.

        Active parameters: for per-image routing (mobile_vmoe) the k chosen experts plus the dense trunk; for
        token routing (mmoe_vit) what one token uses. MFLOPs are counted by torch's FlopCounterMode on one
        image at the model's input size, as executed (10 classes).
        """
        rows = model_rows(pattern)
        if not rows:
            from edgevit.errors import ConfigError

            raise ConfigError(f"no model matches {pattern!r}; run `edgevit models` for the full list")
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title="edgevit models", title_justify="left")
        for col, just in [("name", "left"), ("family", "left"), ("params", "right"), ("active", "right"),
                          ("MFLOPs", "right"), ("input", "right"), ("dense twin", "left")]:
            t.add_column(col, justify=just, no_wrap=True)
        for r in rows:
            t.add_row(r["name"], r["family"], f"{r['params'] / 1e6:.3f}M", f"{r['active_params'] / 1e6:.3f}M",
                      f"{r['mflops']:.1f}", "x".join(map(str, r["input_size"])), r["dense_twin"] or "")
        console = Console(width=max(Console().width, 100))
        console.print(t)
        aliases = [f"{a} = {r['name']}" for r in rows for a in r["aliases"]]
        if aliases:
            console.print("aliases: " + ", ".join(aliases))
