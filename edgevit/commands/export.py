"""`edgevit export`: placeholder until its issue lands."""

from __future__ import annotations

import typer

from edgevit.commands import not_built


def register(app: typer.Typer) -> None:
    @app.command("export", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def _placeholder(ctx: typer.Context) -> None:
        """Not built yet."""
        not_built("export", "see the open issues")
