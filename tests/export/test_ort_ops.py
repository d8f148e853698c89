"""`benchmarks/ort_ops.py`: each alternative kernel it times computes what the ONNX form's own graph computes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import ort_ops  # noqa: E402


def test_every_alternative_is_checked_against_the_forms_graph():
    out = ort_ops.cases(np.random.default_rng(0))
    diffs = ort_ops.check(out)
    assert set(diffs) == {k for k, (_, _, ref) in out.items() if ref is not None} and len(diffs) >= 4
    assert all(d < 1e-3 for d in diffs.values()), diffs


def test_check_refuses_an_alternative_that_computes_something_else():
    out = ort_ops.cases(np.random.default_rng(0))
    name = "com.microsoft SkipLayerNormalization (with bias)"
    sess, feeds, ref = out[name]
    out[name] = (sess, {k: v[..., ::-1].copy() for k, v in feeds.items()}, ref)  # other inputs, other result
    try:
        ort_ops.check(out)
    except SystemExit as e:
        assert name in str(e)
    else:
        raise AssertionError("check() accepted a different result")


def test_repeat_kv_gives_query_head_h_the_kv_head_h_over_rep():
    kv = np.arange(ort_ops.KV_HEADS * ort_ops.D, dtype=np.float32)
    full = ort_ops.repeat_kv(kv).reshape(ort_ops.HEADS, ort_ops.D)
    rep = ort_ops.HEADS // ort_ops.KV_HEADS
    for h in range(ort_ops.HEADS):
        np.testing.assert_array_equal(full[h], kv.reshape(ort_ops.KV_HEADS, ort_ops.D)[h // rep])
