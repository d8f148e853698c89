"""`--help` reads at 80 columns: click's plain layout (flag, then its help wrapped beside it), no boxes whose
narrow help column breaks every option into a word per line."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from edgevit.cli import app

COMMANDS = [[], ["train"], ["pretrain"], ["eval"], ["export"], ["bench"], ["bench", "report"], ["predict"],
            ["info"], ["models"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "edgevit")
def test_help_reads_at_80_columns(cmd: list[str]) -> None:
    res = CliRunner().invoke(app, [*cmd, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert "╭" not in res.output and "│" not in res.output
    # each option's help starts on its flag's line with room to read: at least 40 columns for the text
    starts = [m.start(2) for x in lines if (m := re.match(r"^  (-\S.*?\S)  +(\S)", x))]
    assert starts and max(starts) <= 40
