"""EMA of the weights, threads / AMP / compile choices, and the wall-clock schedule."""

from __future__ import annotations

import json
import math

import pytest
import torch

from edgevit.checkpoint import load_state_dict
from edgevit.train import hardware
from edgevit.train.ema import ModelEma, warm_decay
from edgevit.train.schedule import lr_at_time


def test_ema_update_blends_parameters_and_copies_buffers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ema = ModelEma(model, decay=0.9)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.add_(5.0)
    step = 100
    ema.update(model, step)
    d = warm_decay(0.9, step)
    assert d == 0.9
    new = model.state_dict()
    for k, v in ema.state_dict().items():
        if k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
            assert torch.equal(v, new[k])
        else:
            assert torch.allclose(v, d * before[k] + (1 - d) * new[k])
    assert warm_decay(0.999, 0) == pytest.approx(0.1) and not any(p.requires_grad for p in ema.module.parameters())


def test_saved_best_is_the_ema_and_last_keeps_the_trained_weights(tmp_path):
    from edgevit.train.api import train
    from edgevit.train.recipe import TrainArgs

    out = tmp_path / "run"
    res = train(TrainArgs(model="vit_test", data="digits", limit=200, epochs=2, batch_size=32, out=str(out),
                          ema=0.9))
    state = torch.load(out / "last" / "train_state.pt", weights_only=True)
    best, last = load_state_dict(out / "best"), load_state_dict(out / "last")
    meta = json.loads((out / "best" / "meta.json").read_text())
    assert meta["weights"] == "ema" and res["weights"] == "ema"
    assert any(not torch.equal(best[k], last[k]) for k in best)  # the EMA is not the trained weights
    if meta["epoch"] == 2:  # best = the final EMA, which train_state holds
        assert all(torch.equal(best[k], state["ema"][k]) for k in best)
    from edgevit.checkpoint import load_checkpoint
    from edgevit.data import load_dataset
    from edgevit.train.evaluate import evaluate

    model, info = load_checkpoint(out / "best")
    test = load_dataset("digits", val_fraction=0.1, seed=0, limit=200).test
    assert evaluate(model, test, info.preprocess, 10)["accuracy"] == pytest.approx(res["test_acc"])


def test_amp_choices_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert hardware.amp_dtype("auto", cpu) is None and hardware.amp_dtype("off", cuda) is None
    assert hardware.amp_dtype("bf16", cpu) is torch.bfloat16
    assert hardware.amp_dtype("fp16", cuda) is torch.float16
    with pytest.raises(Exception, match="CUDA"):
        hardware.amp_dtype("fp16", cpu)
    assert not hardware.grad_scaler(cpu, torch.bfloat16).is_enabled()


def test_bf16_autocast_trains_a_step_on_cpu(tmp_path):
    from edgevit.train.api import train
    from edgevit.train.recipe import TrainArgs

    res = train(TrainArgs(model="mmoe_vit_test", data="digits", limit=40, epochs=1, batch_size=32, amp="bf16",
                          out=str(tmp_path / "run")))
    assert res["epochs_done"] == 1.0 and 0.0 <= res["test_acc"] <= 1.0


def test_threads_default_and_oversubscription_warning(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert hardware.default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(hardware, "usable_cores", lambda: 8)
    assert hardware.default_threads(2) == 4 and hardware.default_threads(16) == 1
    monkeypatch.setattr(hardware.os, "getloadavg", lambda: (9.5, 0.0, 0.0))
    assert "oversubscribed" in hardware.oversubscription(2)
    monkeypatch.setattr(hardware.os, "getloadavg", lambda: (1.0, 0.0, 0.0))
    assert hardware.oversubscription(2) is None


def test_time_schedule_warms_up_then_ends_at_min_lr():
    lrs = [lr_at_time(f / 100, 1e-3, 0.05, 1e-5) for f in range(101)]
    assert lrs[0] < lrs[4] < lrs[5] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[5:], lrs[6:], strict=False))
    assert lrs[-1] == pytest.approx(1e-5) and lr_at_time(1.5, 1e-3, 0.05, 1e-5) == pytest.approx(1e-5)
    assert lr_at_time(0.525, 1e-3, 0.05, 0.0) == pytest.approx(0.5e-3, rel=1e-6)
    assert not math.isnan(lr_at_time(0.0, 1e-3, 0.0))


def test_a_budget_run_stops_on_time_and_records_it(tmp_path):
    from edgevit.train.api import train
    from edgevit.train.recipe import TrainArgs

    res = train(TrainArgs(model="vit_test", data="digits", limit=200, batch_size=32, budget_minutes=0.05,
                          out=str(tmp_path / "run")))
    state = torch.load(tmp_path / "run" / "last" / "train_state.pt", weights_only=True)
    assert state["time_up"] and res["epochs_done"] > 0
    assert res["train_seconds"] + 0.05 >= state["elapsed_s"] > 0  # results round to 0.1 s
