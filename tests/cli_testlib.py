"""Run the `edgevit` CLI in-process (as its console script does) for tests of several areas."""

from __future__ import annotations


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """edgevit.cli.main(args) -> (exit code, stdout, stderr)."""
    from edgevit.cli import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
