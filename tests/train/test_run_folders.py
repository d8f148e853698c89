"""Runs that don't collide (runs/<data>-<model>, numbered; --name; --out as is), where a run says its files
are, and the training conveniences: --patience, metrics.csv, args.yaml + --config, --json, piped epoch lines."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import TINY, run_cli

from edgevit.errors import ConfigError, MissingDependencyError
from edgevit.train import rundir
from edgevit.train.config_file import load_run_config


@pytest.mark.parametrize(("spec", "name"), [("digits", "digits"), ("cifar10:~/data", "cifar10"),
                                            ("imagefolder:/data/photos/flowers/", "flowers"),
                                            ("folder:my pets", "my-pets"), ("fashion-mnist", "fashion-mnist")])
def test_run_folder_is_named_after_the_data_set(spec: str, name: str) -> None:
    assert rundir.data_name(spec) == name
    assert rundir.base_name(spec, "vit_test") == f"{name}-vit_test"
    assert rundir.base_name(spec, "vit_test", "mae") == f"{name}-vit_test-mae"


def test_numbering_new_runs_and_resume_picks_the_newest(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    first = rundir.run_dir(None, None, "digits", "m", "classify", False, root)
    assert first == root / "digits-m"
    (first / "last").mkdir(parents=True)
    second = rundir.run_dir(None, None, "digits", "m", "classify", False, root)
    assert second == root / "digits-m-2"
    (second / "last").mkdir(parents=True)
    (root / "digits-m-x").mkdir()  # not a number: ignored
    assert rundir.run_dir(None, None, "digits", "m", "classify", False, root) == root / "digits-m-3"
    assert rundir.run_dir(None, None, "digits", "m", "classify", True, root) == second
    (root / "digits-m-3").mkdir()  # an empty folder (a failed start) is reused
    assert rundir.run_dir(None, None, "digits", "m", "classify", False, root) == root / "digits-m-3"
    assert rundir.run_dir(None, "exp", "digits", "m", "classify", False, root) == root / "exp"
    assert rundir.run_dir(str(first), "exp", "digits", "m", "classify", False, root) == first  # --out: as given
    for bad in ("a/b", "..", ""):
        with pytest.raises(ConfigError, match="--name"):
            rundir.run_dir(None, bad, "digits", "m", "classify", False, root)


def test_two_default_trains_both_succeed_and_say_where_everything_is(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(["train", "--model", "vit_test", *TINY], capsys)
    assert code == 0, err
    first = Path("runs/digits-vit_test")
    assert f"results saved to {first}" in stdout
    listed = dict(re.findall(r"^  (\S.*?\S)  +(\S+)$", stdout, re.M))
    for what in ("best checkpoint", "last checkpoint", "metrics", "metrics (csv)", "curves", "confusion matrix",
                 "arguments", "results"):
        assert Path(listed[what]).exists(), what
    # piped: every epoch line whole on one line (rich would wrap at 80 columns)
    epoch_lines = [x for x in stdout.splitlines() if x.startswith("epoch ")]
    assert len(epoch_lines) == 2 and all(re.search(r"img/s +\d+\.\ds", x) for x in epoch_lines)
    rows = list(csv.DictReader((first / "metrics.csv").open()))
    jsonl = [json.loads(x) for x in (first / "metrics.jsonl").read_text().splitlines()]
    assert [int(r["epoch"]) for r in rows] == [r["epoch"] for r in jsonl] == [1, 2]
    assert float(rows[1]["val_acc"]) == pytest.approx(jsonl[1]["val_acc"])
    # the second run repeats the first from its args.yaml, into a new folder; --json is the results
    code, stdout, err = run_cli(["train", "--config", str(first / "args.yaml"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert Path(res["out"]) == Path("runs/digits-vit_test-2") and Path(res["checkpoint"]).is_dir()
    assert res["test_acc"] == json.loads((first / "results.json").read_text())["test_acc"]  # same run, same seed


def test_patience_stops_a_run_that_no_longer_improves(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    # lr 1e-12: steps below float32's resolution of the weights, so the val score never changes, epoch 1
    # stays the best and patience 1 stops after epoch 2 (lr 0 is refused)
    code, stdout, err = run_cli(["train", "--model", "vit_test", *TINY, "--epochs", "5", "--lr", "1e-12",
                                 "--min-lr", "0", "--patience", "1", "--name", "flat", "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["out"] == str(Path("runs/flat")) and res["epochs_done"] == 2 and res["stopped_early"] == 2
    assert "early stop" in err


def test_config_file_errors_name_the_problem(tmp_path) -> None:
    bad = tmp_path / "run.yaml"
    bad.write_text("epochz: 3\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_run_config(bad)
    bad.write_text("epochs: [3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_run_config(bad)
    bad.write_text("batch-size: 16\nset: [drop_path_rate=0.1]\ntask: mae\n")
    assert load_run_config(bad) == {"batch_size": 16, "overrides": {"drop_path_rate": 0.1}}


def test_tensorboard_without_the_extra_names_it(tmp_path, monkeypatch) -> None:
    import sys

    from edgevit.train.metrics_log import MetricsLog

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(MissingDependencyError, match=r"edgevit\[tb\]"):
        MetricsLog(tmp_path, tensorboard=True)
