"""The one way edgevit makes a rich Console, so output reads well both on a terminal and piped to a file.

On a terminal rich fits its width. Piped or captured, rich would assume 80 columns and wrap epoch lines or
cut table cells; there we want plain, unwrapped lines instead (`soft_wrap`) and tables as wide as they need
(`PIPED_WIDTH`), so a log file never holds a cut number.
"""

from __future__ import annotations

from rich.console import Console

PIPED_WIDTH = 200


def make_console(stderr: bool = False, quiet: bool = False) -> Console:
    """A Console on stdout (or stderr) that wraps and sizes for a terminal, and never wraps when piped."""
    console = Console(stderr=stderr, quiet=quiet)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, quiet=quiet, soft_wrap=True, width=PIPED_WIDTH)
