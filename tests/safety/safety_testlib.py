"""Helpers for the hostile-input tests: run the `edgevit` CLI in-process and check its one-line error contract."""

from __future__ import annotations


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """edgevit.cli.main(args) -> (exit code, stdout, stderr)."""
    from edgevit.cli import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0) if not isinstance(e.code, str) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    """The single `error:` line of stderr (asserts there is exactly one and no traceback)."""
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]
