"""Two CPU processes under torchrun (gloo): both ranks end with identical weights; only rank 0 writes the run.

mobile_vmoe_test with top_k=1 routes each image to one expert, so experts go unused in some steps: the case
that stalls DDP unless handled (ddp.touch_all).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent


def _torchrun(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=HERE)


@pytest.mark.parametrize("model", ["mobile_vmoe_test", pytest.param("mmoe_vit_test", marks=pytest.mark.slow)])
def test_two_ranks_end_identical(tmp_path, model):
    out = tmp_path / "run"
    res = _torchrun(str(HERE / "ddp_worker.py"), str(out), model)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    ta, tb = load_file(str(out / "toy0.safetensors")), load_file(str(out / "toy1.safetensors"))
    assert all(torch.equal(ta[k], tb[k]) for k in ta)  # unused experts did not break the all-reduce
    saved = load_file(str(out / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], saved[k]) for k in a)
    assert (out / "metrics.jsonl").read_text().count("\n") == 2


@pytest.mark.slow
def test_a_budget_run_stops_both_ranks_at_the_same_step(tmp_path):
    """--budget-minutes under DDP, with EMA, mixup/cutmix and RandAugment on: rank 0's clock decides for all."""
    out = tmp_path / "run"
    res = _torchrun(str(HERE / "ddp_worker.py"), str(out), "mobile_vmoe_test", "budget")
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.load(out / "last" / "train_state.pt", weights_only=True)["time_up"]


def test_the_process_group_backend_follows_the_device():
    from edgevit.train import ddp

    assert ddp.backend(torch.device("cuda", 0)) == "nccl"
    assert ddp.backend(torch.device("cpu")) == "gloo"


@pytest.mark.slow
def test_torchrun_cli(tmp_path):
    out = tmp_path / "cli"
    res = _torchrun("-m", "edgevit", "train", "--model", "vit_test", "--data", "digits", "--limit", "256",
                    "--epochs", "1", "--batch-size", "32", "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("next: edgevit export") == 1  # rank 0 only
    assert (out / "best" / "model.safetensors").is_file()
