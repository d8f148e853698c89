"""Helpers for the hostile-input tests: run the `edgevit` CLI in-process and check its one-line error contract."""

from __future__ import annotations

from cli_testlib import run_cli  # noqa: F401  (the safety tests import it from here)


def one_error_line(err: str) -> str:
    """The single `error:` line of stderr (asserts there is exactly one and no traceback)."""
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]
