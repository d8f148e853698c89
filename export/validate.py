"""Validate every export: structure, the static form against eager PyTorch, and the artifact in its runtime.

Numbers compared are logits against the eval-mode PyTorch model (the checkpoint as trained, not its export
form) on a fixed batch of real eval images and on random normal inputs. Tolerances scale with the logits:
`tol = TOLERANCES[precision] * max(1, max|reference logits|)`. fp32 must stay within it on both input sets. fp16 must
stay within it on the real images and within `RANDOM_SLACK` times it on random inputs: fp16 rounding error grows
with activation size and random inputs drive activations far past what images do (a trained mmoe_vit_xxs: 2.6e-2
on images, 7.1e-2 on noise, tol 4.7e-2), while a wrong graph misses by the size of the logits. int8 is judged
by top-1 agreement with PyTorch on the real images (`min_agreement`), and its max diff and eval accuracy are
reported. Core ML numbers need macOS (coremltools' predict): elsewhere the numeric check is skipped with a clear
line and the report says `numeric: false` (never a made-up number).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

TOLERANCES = {"fp32": 1e-4, "fp16": 1e-2, "int8": 0.25}
STATIC_TOLERANCE = 1e-5
MIN_AGREEMENT = {"fp32": 0.0, "fp16": 0.0, "int8": 0.9}
RANDOM_SLACK = {"fp32": 1.0, "fp16": 4.0, "int8": 1.0}  # tolerance multiple on random (out-of-distribution) inputs
FP16_MIN_NORMAL = 6.104e-05  # smallest normal float16
FORBIDDEN_TFLITE_OPS = ("STABLEHLO_SORT", "CUSTOM")
PORTABLE_OPS_LISTED = 6  # ExecuTorch ops left to portable kernels named in the report; the rest counted


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped (not applicable or not possible on this machine)
    detail: str = ""

    def line(self) -> str:
        mark = {True: "[✓]", False: "[x]", None: "[-]"}[self.ok]
        return f"{mark} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class ValidationReport:
    target: str
    precision: str
    passed: bool = True
    numeric: bool = False
    checks: list[Check] = field(default_factory=list)
    max_abs_diff: float | None = None
    tolerance: float | None = None
    top1_agreement: float | None = None
    accuracy: float | None = None
    reference_accuracy: float | None = None
    n_real: int = 0
    n_random: int = 0
    eval_set: str = ""
    experts: dict[str, str] = field(default_factory=dict)
    structure: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, ok: bool | None, detail: str = "") -> Check:
        c = Check(name, ok, detail)
        self.checks.append(c)
        if ok is False:
            self.passed = False
        return c

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def failure(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if c.ok is False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checks"] = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]
        return d


def compare(ref: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(max abs diff, top-1 agreement) of two logit batches."""
    diff = float(np.max(np.abs(ref.astype(np.float64) - out.astype(np.float64)))) if ref.size else 0.0
    agree = float(np.mean(ref.argmax(-1) == out.argmax(-1))) if ref.size else 1.0
    return diff, agree


def accuracy(logits: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None or len(labels) == 0 or labels.max() >= logits.shape[-1]:
        return None
    return float(np.mean(logits.argmax(-1) == labels))


def count_experts(constants: list[np.ndarray], experts: dict[str, list[Any]], fp16: bool = False) -> dict[str, tuple[int, int]]:
    """For each MoE layer: (experts whose every weight value is in the graph's constants, experts in the layer).

    Matching values (not names or shapes) survives transposes, reshapes and folding into one stacked tensor; an
    export that sliced out unused experts at trace time is missing their values and fails the count.
    """
    cast = (lambda a: a.astype(np.float16).astype(np.float32)) if fp16 else (lambda a: a.astype(np.float32))
    if not constants:
        return {name: (0, len(ws)) for name, ws in experts.items()}
    pool = np.unique(np.concatenate([cast(np.asarray(c)).ravel() for c in constants]))
    out = {}
    for name, ws in experts.items():
        present = 0
        for w in ws:
            values = w.detach().cpu().numpy().ravel()
            if fp16:  # converters disagree below fp16's normal range (flush, round or clamp): match the rest
                values = values[np.abs(values) >= FP16_MIN_NORMAL]
            present += bool(np.isin(cast(values), pool).all())
        out[name] = (present, len(ws))
    return out


def check_structure(report: ValidationReport, target: str, contract: Any, graph: Any,
                    experts: dict[str, list[Any]] | None) -> None:
    """Input/output names and shapes against the contract; experts present; target-specific rules."""
    want_in = list(contract.input["shape"])
    got_in = list(graph.input_shape)
    ok_in = len(got_in) == len(want_in) and all(
        not isinstance(g, int) or g <= 0 or g == w for g, w in zip(got_in[1:], want_in[1:], strict=True))
    report.add("input", ok_in, f"{graph.input_name} {got_in} {graph.input_dtype} (contract {want_in} "
                               f"{contract.layout})")
    n_cls = len(contract.labels)
    got_out = list(graph.output_shape)
    ok_out = bool(got_out) and (got_out[-1] in (n_cls, None) or not isinstance(got_out[-1], int))
    report.add("output", ok_out, f"{graph.output_name} {got_out} ({n_cls} classes)")
    report.structure = {"input": {"name": graph.input_name, "shape": got_in, "dtype": graph.input_dtype},
                        "output": {"name": graph.output_name, "shape": got_out},
                        "ops": dict(sorted(graph.ops.items())), **graph.extra}
    if experts and contract.precision == "int8":
        report.add("experts in graph", None, "int8 weights: not counted (counted in the fp32/fp16 exports)")
    elif experts and graph.constants:
        counts = count_experts(graph.constants, experts, fp16=contract.precision == "fp16")
        report.experts = {k: f"{a}/{b}" for k, (a, b) in counts.items()}
        have, total = sum(a for a, _ in counts.values()), sum(b for _, b in counts.values())
        missing = [f"{k} ({a}/{b})" for k, (a, b) in counts.items() if a < b]
        report.add("experts in graph", have == total,
                   f"{have}/{total} in {len(counts)} MoE layers" + (f"; missing in {', '.join(missing)}" if missing else ""))
    elif experts:
        report.add("experts in graph", None, graph.extra.get("constants_note", "weights not readable: not counted"))
    if target == "tflite":
        bad = [op for op in graph.ops if any(op.startswith(f) for f in FORBIDDEN_TFLITE_OPS)]
        report.add("builtin ops only", not bad, f"found {bad}" if bad else f"{len(graph.ops)} op types, no sort/custom ops")
    if target == "executorch" and "delegated_nodes" in graph.extra:
        d, n = graph.extra["delegated_nodes"], graph.extra["non_delegated_nodes"]
        portable = [f"{k.split('::')[-1]} x{v}" for k, v in graph.ops.most_common() if not k.startswith("delegate:")]
        listed = ", ".join(portable[:PORTABLE_OPS_LISTED])
        if len(portable) > PORTABLE_OPS_LISTED:
            listed += f" and {len(portable) - PORTABLE_OPS_LISTED} more op types"
        report.add("delegated to XNNPACK", True if d else None,
                   f"{d} delegate calls, {n} portable kernel calls" + (f" ({listed})" if portable else ""))


def check_static_form(report: ValidationReport, eager: np.ndarray, static: np.ndarray) -> None:
    diff, agree = compare(eager, static)
    tol = STATIC_TOLERANCE * max(1.0, float(np.abs(eager).max()))
    report.add("static form == eager PyTorch", diff <= tol, f"max diff {diff:.2e} (tol {tol:.0e}), top-1 {agree:.1%}")


def check_numbers(report: ValidationReport, precision: str, ref_real: np.ndarray, out_real: np.ndarray,
                  ref_rand: np.ndarray, out_rand: np.ndarray, labels: np.ndarray | None,
                  min_agreement: float | None = None) -> None:
    report.numeric = True
    report.n_real, report.n_random = len(ref_real), len(ref_rand)
    d_real, agree = compare(ref_real, out_real)
    d_rand, agree_rand = compare(ref_rand, out_rand)
    scale = max(1.0, float(np.abs(ref_real).max()), float(np.abs(ref_rand).max()) if ref_rand.size else 1.0)
    tol = TOLERANCES[precision] * scale
    report.max_abs_diff, report.tolerance, report.top1_agreement = max(d_real, d_rand), tol, agree
    report.accuracy, report.reference_accuracy = accuracy(out_real, labels), accuracy(ref_real, labels)
    finite = bool(np.isfinite(out_real).all() and np.isfinite(out_rand).all())
    report.add("outputs finite", finite, "" if finite else "NaN or inf in the outputs")
    gate_diff = precision != "int8"
    tol_rand = tol * RANDOM_SLACK[precision]
    ok = d_real <= tol and d_rand <= tol_rand
    over = max(d_real - tol, d_rand - tol_rand)
    report.add(f"max abs diff vs PyTorch ({precision})", ok if gate_diff else None,
               f"{max(d_real, d_rand):.2e} (real {d_real:.2e}, random {d_rand:.2e}; tol {tol:.1e}"
               + (f", random {tol_rand:.1e}" if tol_rand != tol else "") + ")"
               + ("" if ok or not gate_diff else f": over by {over:.2e}")
               + ("" if gate_diff else ", reported only for int8"))
    need = MIN_AGREEMENT[precision] if min_agreement is None else min_agreement
    report.add("top-1 agreement with PyTorch", agree >= need if need > 0 else True,
               f"{agree:.1%} of {len(ref_real)} {report.eval_set} images, {agree_rand:.1%} of {len(ref_rand)} "
               f"random" + (f" (needs >= {need:.0%})" if need > 0 else ""))
    if report.accuracy is not None:
        report.add("accuracy", True,
                   f"{report.accuracy:.1%} (PyTorch {report.reference_accuracy:.1%}) on {len(ref_real)} images")
