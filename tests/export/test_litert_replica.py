"""`benchmarks/litert_replica.py`: the linear layers of a model's LiteRT form alone, on the inputs the model
feeds them, fp32 and dynamic int8."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from litert_replica import LiteRTReplicaRun, replica  # noqa: E402

from edgevit.checkpoint import load_checkpoint  # noqa: E402
from edgevit.export.routing import to_static  # noqa: E402
from edgevit.export.tflite_form import to_tflite_form  # noqa: E402


def test_replica_is_every_linear_on_its_real_input(checkpoint_factory, tmp_path):
    ckpt = checkpoint_factory("mmoe_vit_test")
    model = load_checkpoint(ckpt)[0].eval()
    c = model.config
    x = np.random.default_rng(0).standard_normal((1, c.in_chans, c.img_size, c.img_size)).astype(np.float32)
    fp32, int8, feeds = replica(ckpt, x, tmp_path)

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    form = to_tflite_form(to_static(model)).eval()
    for m in form.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_hook(lambda _m, i, o: seen.append((i[0], o)))
    with torch.no_grad():
        form(torch.from_numpy(x))
    assert len(feeds) == len(seen) >= 4
    runner = LiteRTReplicaRun(fp32, feeds)
    runner.run()
    for (inp, want), fed, got in zip(seen, feeds, runner.outputs(), strict=True):
        np.testing.assert_array_equal(fed, inp.numpy())
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)

    runner8 = LiteRTReplicaRun(int8, feeds)
    runner8.run()
    for (_, want), got in zip(seen, runner8.outputs(), strict=True):
        ref = want.numpy()
        assert not np.array_equal(got, ref)  # quantized: not the fp32 numbers
        assert np.abs(got - ref).max() < 0.1 * max(1.0, np.abs(ref).max())
