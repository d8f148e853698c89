"""The numeric gates of export validation: what passes and what fails, per precision."""

from __future__ import annotations

import numpy as np
import pytest

from edgevit.export.validate import RANDOM_SLACK, TOLERANCES, ValidationReport, check_numbers, count_experts

REF = np.array([[2.0, -1.0, 0.5], [0.1, 3.0, -2.0]], dtype=np.float32)  # max |logit| 3 -> tol scales by 3


def _gate(precision: str, real_err: float, rand_err: float) -> bool | None:
    report = ValidationReport(target="onnx", precision=precision)
    bump = np.zeros_like(REF)
    bump[0, 2] = 1.0  # perturb a non-top-1 logit so agreement stays 100%
    check_numbers(report, precision, REF, REF + real_err * bump, REF, REF + rand_err * bump, labels=None)
    return next(c.ok for c in report.checks if c.name.startswith("max abs diff"))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_real_images_gate_at_the_tolerance(precision: str) -> None:
    tol = TOLERANCES[precision] * 3.0
    assert _gate(precision, 0.9 * tol, 0.0) is True
    assert _gate(precision, 1.1 * tol, 0.0) is False


def test_fp16_random_inputs_get_slack_but_not_unbounded() -> None:
    tol = TOLERANCES["fp16"] * 3.0
    assert RANDOM_SLACK["fp16"] > 1.0
    assert _gate("fp16", 0.5 * tol, 0.9 * RANDOM_SLACK["fp16"] * tol) is True
    assert _gate("fp16", 0.5 * tol, 1.1 * RANDOM_SLACK["fp16"] * tol) is False


def test_fp32_random_inputs_have_no_slack() -> None:
    tol = TOLERANCES["fp32"] * 3.0
    assert _gate("fp32", 0.0, 1.5 * tol) is False


def test_int8_diff_is_reported_not_gated() -> None:
    assert _gate("int8", 10.0, 10.0) is None


def _ort_fp16(a: np.ndarray) -> np.ndarray:
    """What onnxruntime's fp16 converter stores: tiny magnitudes clamped up to 5.96e-8, not rounded to zero."""
    tiny = np.float32(5.96e-08)
    a = np.where((a > 0) & (a < tiny), tiny, np.where((a < 0) & (a > -tiny), -tiny, a))
    return a.astype(np.float16)


def test_fp16_expert_count_survives_how_a_converter_stores_tiny_weights() -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    experts = [torch.randn(16, 8, generator=gen) for _ in range(3)]
    experts[1][0, :4] = torch.tensor([2e-8, -1e-8, 1e-9, 4e-8])  # a decayed corner of one expert
    for store in (_ort_fp16, lambda a: a.astype(np.float16)):  # clamp (onnxruntime) and round (numpy, LiteRT)
        stacked = store(np.stack([e.numpy() for e in experts]))
        assert count_experts([stacked], {"ffn": experts}, fp16=True) == {"ffn": (3, 3)}
        dropped = store(np.stack([experts[0].numpy(), experts[2].numpy()]))
        assert count_experts([dropped], {"ffn": experts}, fp16=True) == {"ffn": (2, 3)}
