"""The `edgevit` command line: one typer app; each stage registers its commands from `edgevit.commands`.

Heavy imports (torch, converters, runtimes) happen inside the command functions, so `edgevit --help`
is instant and works on a device without torch.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from edgevit import __version__
from edgevit.errors import EdgevitError
from edgevit.runtimes.files import file_in_the_way, not_a_folder, one_line
from edgevit.runtimes.safe_text import terminal_safe

app = typer.Typer(
    name="edgevit",
    help="Tiny vision transformers from training to a phone or a Raspberry Pi.\n\n"
    "Typical path: edgevit train -> edgevit export -> edgevit bench / edgevit predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: flag then its wrapped help, readable at 80 columns and piped
)

# Each module exposes register(app); one module per stage, so stages can grow independently.
COMMAND_MODULES = (
    "edgevit.commands.models",
    "edgevit.commands.train",
    "edgevit.commands.export",
    "edgevit.commands.bench",
    "edgevit.commands.benchmark",
    "edgevit.commands.predict",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"edgevit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show converters' and runtimes' own logs and warnings (hidden by default)."
    ),
) -> None:
    """Tiny vision transformers from training to a phone or a Raspberry Pi."""
    if verbose:
        import os

        from edgevit.runtimes.console import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"  # child processes (isolated benches) inherit it


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line on stderr and exit non-zero."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(terminal_safe(message))}", highlight=False,
                               soft_wrap=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors become one line and exit code 1, never a traceback."""
    try:
        app(args=argv, prog_name="edgevit")
    except EdgevitError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except SystemExit as e:
        if e.code == 130:  # typer turns Ctrl-C inside a command into a silent exit 130
            fail("interrupted", code=130)
        raise
    except OSError as e:  # disk full, --out naming a file, permissions: the atomic writes left nothing half-done
        fail(os_error_line(e))


def os_error_line(e: OSError) -> str:
    """`No space left on device: runs/x/last` rather than a traceback (the path says where)."""
    if isinstance(e, (FileExistsError, NotADirectoryError)) and e.filename is not None:
        blocker = file_in_the_way(e.filename)
        if blocker is not None:  # `--out afile`: say what is wrong, not what mkdir saw
            inside = "" if blocker == Path(e.filename) else f" (to hold {e.filename})"
            return f"{not_a_folder(blocker)}{inside}"
    where = e.filename if e.filename is not None else ""
    if e.filename2 is not None:
        where = f"{where} -> {e.filename2}"
    return f"{e.strerror or e}: {where}" if where else one_line(e)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
