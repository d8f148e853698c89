"""Helpers for the training tests: run the CLI in-process and read a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY = ["--data", "digits", "--limit", "300", "--epochs", "2", "--batch-size", "32"]


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


def metrics(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory) -> Path:
    """One tiny trained vit_test checkpoint on digits, shared by the eval/superclasses/init tests."""
    from edgevit.train.api import train
    from edgevit.train.recipe import TrainArgs

    out = tmp_path_factory.mktemp("dense") / "run"
    train(TrainArgs(model="vit_test", data="digits", limit=300, epochs=2, batch_size=32, out=str(out)))
    return out
