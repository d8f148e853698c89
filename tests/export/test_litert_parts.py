"""`benchmarks/litert_parts.py`: a block's float parts alone, with the linear layers replaced by stand-ins; the
alternatives it times compute what the form computes."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from export_testlib import make_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import litert_parts  # noqa: E402

from edgevit.export.routing import to_static  # noqa: E402
from edgevit.export.tflite_form import to_tflite_form  # noqa: E402


def _parts(name: str, **overrides) -> tuple[dict, torch.Tensor]:
    model = make_model(name, **overrides)
    form = to_tflite_form(to_static(model)).eval()
    c = model.config
    x = torch.randn(1, c.num_tokens, c.dim, generator=torch.Generator().manual_seed(0))
    return litert_parts.parts(form.blocks[0], c.dim), x


def test_the_softmax_alternatives_equal_the_exported_core():
    parts, x = _parts("mmoe_vit_test", num_kv_heads=2)
    with torch.no_grad():
        want = parts["attention core (as exported)"](x)
        for name in ("attention core, SOFTMAX op", "attention core, softmax spelled out",
                     "attention core, output normalised"):
            assert torch.allclose(parts[name](x), want, atol=1e-5, rtol=1e-5), name
        assert not torch.allclose(parts["attention core, weights unnormalised"](x), want, atol=1e-3)


def test_every_part_keeps_the_block_width_and_the_stand_ins_hold_no_weights():
    for name, overrides in (("mmoe_vit_test", {"num_kv_heads": 2}), ("vit_test", {"mlp_kind": "swiglu"})):
        parts, x = _parts(name, **overrides)
        with torch.no_grad():
            for part_name, part in parts.items():
                assert part(x).shape == x.shape, (name, part_name)
        for part_name, part in parts.items():
            linears = [m for m in part.modules() if isinstance(m, torch.nn.Linear)]
            assert not linears, (name, part_name)  # only the non-linear work is left to time
