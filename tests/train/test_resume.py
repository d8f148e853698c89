"""Kill a training run after its first checkpoint (SIGKILL, no clean-up), resume it, and compare with an
uninterrupted run of the same seed: the final weights must be bitwise equal.

Why bitwise holds: data order, augmentation, dropout and router noise of each epoch are seeded from
(seed, epoch, rank) alone; model, optimizer (AdamW moments and step), LR-schedule step and best score come back
exactly from safetensors + train_state.pt; CPU kernels are deterministic for a fixed thread count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import metrics, run_cli

from edgevit.checkpoint import load_state_dict

ARGS = ["--model", "mmoe_vit_test", "--data", "digits", "--limit", "500", "--epochs", "4", "--batch-size", "32",
        "--seed", "3"]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgevit", "train", *ARGS, "--out", str(out), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "2"}


def _epoch_of(run: Path) -> int:
    try:
        return int(json.loads((run / "last" / "meta.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(killed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while _epoch_of(killed) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    stopped_at = _epoch_of(killed)
    assert 1 <= stopped_at < 4 and not (killed / "results.json").exists()

    res = subprocess.run(_cmd(killed, "--resume"), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert f"resuming after epoch {stopped_at}" in res.stdout.replace("\n", " ")
    full = tmp_path / "full"
    res = subprocess.run(_cmd(full), env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr

    for name in ("last", "best"):
        a, b = load_state_dict(killed / name), load_state_dict(full / name)
        assert a.keys() == b.keys()
        diff = [k for k in a if not torch.equal(a[k], b[k])]
        assert not diff, f"{name}: {len(diff)} tensors differ, e.g. {diff[:3]}"
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("img_s", "time_s", "elapsed_s")} for r in rs]  # noqa: E731
    assert strip(metrics(killed)) == strip(metrics(full))
    assert [r["epoch"] for r in metrics(killed)] == list(range(1, 5))


AUGS_ON = {"crop_padding": 2, "hflip": True, "trivial_augment": True, "randaugment": 9, "random_erasing": 0.5,
           "mixup": 0.8, "cutmix": 1.0, "ema": 0.9}


@pytest.mark.parametrize("extra", [{}, AUGS_ON], ids=["plain", "all-augmentations-and-ema"])
def test_in_process_interrupt_then_resume_is_bitwise_equal(tmp_path, monkeypatch, extra):
    """The fast version of the kill test: an exception right after epoch 1's checkpoint, then --resume.
    With every augmentation (kornia's RandAugment included) and the EMA on, the EMA and best/ match too."""
    from edgevit.train import loop
    from edgevit.train.api import train
    from edgevit.train.recipe import TrainArgs

    def args(out: Path) -> TrainArgs:
        return TrainArgs(model="mobile_vmoe_test", data="digits", limit=200, epochs=3, batch_size=32, seed=5,
                         out=str(out), overrides={"drop_path_rate": 0.1}, **extra)

    train(args(tmp_path / "full"))
    real = loop.Trainer.train_epoch

    def dying(self, epoch, view):
        if epoch == 1:
            raise KeyboardInterrupt
        return real(self, epoch, view)

    monkeypatch.setattr(loop.Trainer, "train_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(args(tmp_path / "cut"))
    monkeypatch.setattr(loop.Trainer, "train_epoch", real)
    assert _epoch_of(tmp_path / "cut") == 1
    train(args(tmp_path / "cut"), resume=True)
    for name in ("last", "best"):
        a, b = load_state_dict(tmp_path / "cut" / name), load_state_dict(tmp_path / "full" / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    if extra:
        sa, sb = (torch.load(tmp_path / r / "last" / "train_state.pt", weights_only=True) for r in ("cut", "full"))
        assert all(torch.equal(sa["ema"][k], sb["ema"][k]) for k in sa["ema"])


def test_resume_rejects_a_different_run_and_a_corrupt_state(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "vit_test", "--data", "digits", "--limit", "200", "--epochs", "1",
            "--batch-size", "32", "--out", str(out)]
    assert run_cli(args, capsys)[0] == 0
    code, _, err = run_cli(["train", "--model", "mmoe_vit_test", "--out", str(out), "--resume"], capsys)
    assert code == 1 and "--resume continues the saved run" in err
    code, stdout, err = run_cli(["train", "--out", str(out), "--resume", "--epochs", "2"], capsys)
    assert code == 0, err
    assert [r["epoch"] for r in metrics(out)] == [1, 2]
    (out / "last" / "train_state.pt").write_bytes(b"garbage")
    code, _, err = run_cli(["train", "--out", str(out), "--resume", "--epochs", "3"], capsys)
    assert code == 1 and "corrupt" in err and "Traceback" not in err


@pytest.mark.slow
def test_resume_is_a_no_op_on_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "vit_test", "--data", "digits", "--limit", "200", "--epochs", "1",
            "--batch-size", "32", "--out", str(out)]
    assert run_cli(args, capsys)[0] == 0
    before = load_state_dict(out / "last")
    assert run_cli(["train", "--out", str(out), "--resume"], capsys)[0] == 0
    after = load_state_dict(out / "last")
    assert all(torch.equal(before[k], after[k]) for k in before)
