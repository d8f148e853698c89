"""CLI command groups, one module per stage; each exposes `register(app)`. Keep imports inside commands."""

from __future__ import annotations

import typer


def not_built(command: str, issue: str) -> None:
    """Placeholder for a command a later issue builds: says so clearly and exits 2 (no fake output)."""
    typer.echo(f"edgevit {command} is not built yet ({issue}).", err=True)
    raise typer.Exit(code=2)
