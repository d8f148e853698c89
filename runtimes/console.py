"""The one way edgevit makes a rich Console, so output reads well both on a terminal and piped to a file.

On a terminal rich fits its width. Piped or captured, rich would assume 80 columns and wrap epoch lines or
cut table cells; there we want plain, unwrapped lines instead (`soft_wrap`) and tables as wide as they need
(`PIPED_WIDTH`), so a log file never holds a cut number.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from rich.console import Console, RenderableType

PIPED_WIDTH = 200
VERBOSE_ENV = "EDGEVIT_VERBOSE"  # set by `edgevit --verbose`; child processes inherit it


def verbose() -> bool:
    """Whether converters' and runtimes' own logs should reach the terminal (`edgevit --verbose`)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def native_output_to(log: list[str] | None = None) -> Iterator[None]:
    """Catch what C/C++ libraries write to fds 1 and 2 (LiteRT's 'Created TensorFlow Lite XNNPACK delegate',
    converters' warnings), which Python's sys.stdout/stderr cannot intercept. The text goes to `log` (for
    error messages); with `--verbose` nothing is caught."""
    if verbose():
        yield
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
    except (OSError, ValueError):  # no real fds (an embedding host): nothing to catch
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if log is not None:
                tmp.seek(0)
                log.append(tmp.read().decode("utf-8", "replace"))


def make_console(stderr: bool = False, quiet: bool = False) -> Console:
    """A Console on stdout (or stderr) that wraps and sizes for a terminal, and never wraps when piped."""
    console = Console(stderr=stderr, quiet=quiet)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, quiet=quiet, soft_wrap=True, width=PIPED_WIDTH)


def table_width(headers: list[str], rows: list[list[str]]) -> int:
    """Columns a rich box table needs with every cell whole: one space of padding each side, a rule between."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return sum(widths) + 3 * len(widths) + 1


def fit_columns(headers: list[str], rows: list[list[str]], width: int | None, drop_order: list[str]) -> list[int]:
    """Indices of the columns to show so the table fits `width`: the columns of `drop_order` leave one by one
    (whole; a number is never cut) until it fits or none is left to drop. `width=None`: keep all."""
    keep = list(range(len(headers)))

    def need() -> int:
        return table_width([headers[i] for i in keep], [[r[i] for i in keep] for r in rows])

    for name in drop_order:
        if width is None or need() <= width:
            break
        if name in headers and headers.index(name) in keep:
            keep.remove(headers.index(name))
    return keep


def print_trimmed(console: Console, renderable: RenderableType) -> None:
    """Print; piped, without the trailing spaces rich pads grid rows with to `PIPED_WIDTH` (diff- and
    grep-friendly logs)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as cap:
        console.print(renderable)
    console.file.write("".join(line.rstrip() + "\n" for line in cap.get().splitlines()))
    console.file.flush()
