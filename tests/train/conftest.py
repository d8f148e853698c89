"""Helpers for the training tests: run the CLI in-process and read a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_testlib import run_cli  # noqa: F401  (the train tests import it from here)

TINY = ["--data", "digits", "--limit", "300", "--epochs", "2", "--batch-size", "32"]


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
