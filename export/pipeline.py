"""checkpoint -> static model -> convert -> validate -> contract -> atomic publish, for one or more targets.

Output layout (default `--out`: `<checkpoint>/export/`): one folder per artifact named by `TargetPlan.tag`,
`<target>-<precision>[-<quant>][-nhwc][-image][-dense]`, e.g. `onnx-fp32/`, `tflite-int8-static-nhwc/`, holding
the model file (`model.onnx`, `model.tflite`, `model.mlpackage`, `model.pte`) and `edgevit.json`. That is the
folder `edgevit bench` takes (or their parent, for all of them).

Atomicity: each artifact is built in a hidden temp folder beside its destination, validated there, and renamed
into place only when validation passes (or with `keep_invalid`, marked `validation.passed: false`). A failed
conversion or validation leaves nothing behind; a previous artifact in the destination is replaced only by a
complete new one. Every flag is checked for every target before any work starts.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ExportError, MissingDependencyError, ValidationError
from edgevit.export.calibration import calibration_images, eval_images, random_inputs
from edgevit.export.common import converter_error, quiet
from edgevit.export.formats import FORMATS, ROUTINGS, TargetPlan, check_request, parse_targets
from edgevit.export.metadata import build_contract, contract_text
from edgevit.export.validate import ValidationReport, check_numbers, check_static_form, check_structure
from edgevit.runtimes.base import path_size
from edgevit.runtimes.evalset import EvalSet
from edgevit.runtimes.files import not_a_folder, one_line, staging_dir, swap_dir

Progress = Callable[[str, str], None]  # (target tag, message)


@dataclass
class ExportResult:
    plan: TargetPlan
    routing: str
    folder: Path | None = None  # published folder (None when nothing was published)
    file: Path | None = None
    size_bytes: int = 0
    convert_seconds: float = 0.0
    total_seconds: float = 0.0
    report: ValidationReport | None = None
    error: str | None = None
    published: bool = False
    contract: Any = None
    app_bundle: Path | None = None  # the sample app's bundle written from this artifact (--app)

    @property
    def ok(self) -> bool:
        return self.error is None and self.report is not None and self.report.passed


@dataclass
class ExportRequest:
    checkpoint: Path
    targets: str | list[str]
    precision: str | None = None
    routing: str = "static"
    layout: str | None = None
    quant: str | None = None
    out: Path | None = None
    calib_images: int | None = None
    eval_images: int = 128
    random_inputs: int = 16
    min_agreement: float | None = None
    keep_invalid: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    app: str | None = None
    app_out: Path | None = None

    def __post_init__(self) -> None:
        """Counts and shares out of range are refused before the checkpoint is read."""
        for flag, value, least in (("--calib-images", self.calib_images, 1), ("--eval-images", self.eval_images, 1),
                                   ("random_inputs", self.random_inputs, 0)):
            if value is not None and value < least:
                raise ExportError(f"{flag} must be >= {least}, got {value}")
        if self.min_agreement is not None and not 0.0 <= self.min_agreement <= 1.0:
            raise ExportError(f"--min-agreement is a share in [0, 1], got {self.min_agreement}")
        opset = self.options.get("opset")
        if opset is not None and opset < 17:
            raise ExportError(f"--opset {opset} is too old; edgevit exports opset >= 17")


ALL_TARGETS = "all"


def plan_targets(req: ExportRequest) -> tuple[list[TargetPlan], list[tuple[str, str, str]]]:
    """(plans, skipped) for `--target` (names, or `all`) x `--precision` (one, or a comma list).

    One target at one precision is a request: anything it does not support is an error. `--target all` or
    several precisions ask for "everything that applies here": a combination a target does not offer, or a
    target whose converter is not installed (under `all`), is skipped with its reason (target, precision,
    reason) instead."""
    everything = isinstance(req.targets, str) and req.targets.strip().lower() == ALL_TARGETS
    fmts = list(FORMATS.values()) if everything else parse_targets(req.targets)
    precisions = [p.strip() for p in (req.precision or "").split(",") if p.strip()] or [None]
    wide = everything or len(precisions) > 1
    plans: list[TargetPlan] = []
    skipped: list[tuple[str, str, str]] = []
    for f in fmts:
        missing = [m for m in f.requires if importlib.util.find_spec(m) is None]
        if missing and everything:
            skipped.append((f.name, ",".join(p or f.default_precision for p in precisions),
                            f"not installed: pip install 'edgevit[{f.extra}]'"))
            continue
        for prec in precisions:
            try:
                plan = check_request(f, precision=prec, quant=req.quant, layout=req.layout,
                                     calib_images=req.calib_images, options=req.options)
            except ExportError as e:
                if not wide:
                    raise
                skipped.append((f.name, prec or f.default_precision, str(e)))
                continue
            if plan not in plans:
                plans.append(plan)
    if not plans:
        raise ExportError("nothing to export: " + "; ".join(f"{t} {p}: {why}" for t, p, why in skipped))
    return plans, skipped


def plan_export(req: ExportRequest) -> list[TargetPlan]:
    """Check every flag for every target and the converters' presence; no work yet."""
    if req.routing not in ROUTINGS:
        raise ExportError(f"unknown routing {req.routing!r}; expected one of {', '.join(ROUTINGS)}")
    plans, _ = plan_targets(req)
    if req.app:
        need = {"android": "tflite", "ios": "coreml"}.get(req.app)
        if need is None:
            raise ExportError(f"unknown app {req.app!r}; expected android or ios")
        if need not in [p.fmt.name for p in plans]:
            raise ExportError(f"--app {req.app} bundles a {need} model: add {need} to --target")
    for flag, folder in (("--out", req.out), ("--app-out", req.app_out)):
        why = not_a_folder(folder) if folder else None
        if why:
            raise ExportError(f"{flag} {folder}: {why}")
    for p in plans:
        for mod in p.fmt.requires:
            if importlib.util.find_spec(mod) is None:
                raise MissingDependencyError(mod.replace("_", "-"), p.fmt.extra, f"{p.fmt.name} export")
    return plans


def _tag(plan: TargetPlan, routing: str) -> str:
    return plan.tag + ("-dense" if routing == "dense" else "")


def export_checkpoint(req: ExportRequest, progress: Progress | None = None) -> list[ExportResult]:
    """Run the whole pipeline; raises on bad input before any work, returns one result per target."""
    import torch

    from edgevit.checkpoint import checkpoint_sha256, load_checkpoint
    from edgevit.export.routing import expert_tensors, to_static

    say = progress or (lambda tag, msg: None)
    plans = plan_export(req)
    model, info = load_checkpoint(req.checkpoint)
    sha = checkpoint_sha256(req.checkpoint)

    def run(m: Any, a: np.ndarray) -> np.ndarray:
        if not len(a):
            return np.zeros((0, len(info.labels)), np.float32)
        with torch.no_grad():
            return m(torch.from_numpy(a)).numpy()

    say("checkpoint", "loading eval images")
    real = eval_images(info, req.eval_images)
    x_real = real.preprocess(info.preprocess, "NCHW")
    x_rand = random_inputs(x_real.shape, req.random_inputs)
    static = to_static(model, req.routing)
    ref = Reference(info=info, sha=sha, real=real, x_real=x_real, x_rand=x_rand, ref_real=run(model, x_real),
                    ref_rand=run(model, x_rand), static_out=(run(static, x_real), run(static, x_rand)),
                    static=static, routing=getattr(static, "edgevit_routing", "none"),
                    experts=expert_tensors(model), params=sum(p.numel() for p in model.parameters()))
    out_root = Path(req.out) if req.out else Path(req.checkpoint) / "export"
    created = not out_root.exists()
    out_root.mkdir(parents=True, exist_ok=True)
    try:
        results = [_export_one(req, p, out_root, ref, say) for p in plans]
    finally:
        if created and not any(out_root.iterdir()):
            out_root.rmdir()  # nothing published: leave no empty folder behind
    if req.app:
        _bundle(req, results, say)
    return results


@dataclass
class Reference:
    """What every target is checked against, computed once per checkpoint: the eval images, the PyTorch
    model's outputs on them (and on random inputs), and the static-routing model that gets converted."""

    info: Any  # CheckpointInfo
    sha: str
    real: EvalSet
    x_real: np.ndarray  # preprocessed, NCHW
    x_rand: np.ndarray
    ref_real: np.ndarray  # the PyTorch model's logits
    ref_rand: np.ndarray
    static_out: tuple[np.ndarray, np.ndarray]  # the static-routing model's logits (real, random)
    static: Any  # the module that is converted
    routing: str
    experts: Any
    params: int


@dataclass
class Inputs:
    """One target's view of the reference: the model and inputs in its layout, its calibration images."""

    model: Any
    sample: Any  # torch tensor, batch 1
    x_real: np.ndarray
    x_rand: np.ndarray
    calibration: np.ndarray | None


def _export_one(req: ExportRequest, plan: TargetPlan, out_root: Path, ref: Reference, say: Progress) -> ExportResult:
    """convert -> contract -> validate -> embed -> verify -> publish, for one target (errors: `_attempt`)."""
    tag = _tag(plan, ref.routing)
    res = ExportResult(plan, ref.routing)
    with _attempt(res, tag, say) as t0, _staging(out_root, tag) as tmp:
        mod = importlib.import_module(plan.fmt.module)
        inputs = _inputs(req, plan, ref)
        path = tmp / plan.fmt.file
        say(tag, f"converting ({plan.fmt.title}, {plan.precision}{', ' + plan.quant if plan.quant else ''})")
        _convert(mod, plan, inputs, path, ref.info)
        res.convert_seconds = time.perf_counter() - t0
        say(tag, "validating")
        with quiet():
            graph = mod.inspect(path)
        contract = _contract(plan, ref, graph, res.convert_seconds)
        contract.save(tmp)
        report, validated = _validate(req, plan, ref, contract, graph, tmp, inputs)
        contract.validation = report.to_dict()
        contract.extra["embedded"] = plan.fmt.embeds or "beside only"
        _embed(mod, plan, contract, path)
        if validated is not None and plan.fmt.embeds:  # the file was rewritten: it must still compute the same
            _same_after_embedding(plan, tmp, inputs.x_real, validated)  # same batches: int8 scales span a batch
        contract.save(tmp)
        res.report, res.contract, res.size_bytes = report, contract, path_size(path)
        if report.passed or req.keep_invalid:
            final = swap_dir(tmp, out_root / tag)
            res.folder, res.file, res.published = final, final / plan.fmt.file, True
        say(tag, "done" if report.passed else "validation failed")
    return res


@contextlib.contextmanager
def _attempt(res: ExportResult, tag: str, say: Progress) -> Iterator[float]:
    """Timing and errors of one target in one place (like ultralytics' @try_export): a failure becomes
    `res.error` (one line said), never an exception, so every other target still gets its turn."""
    t0 = time.perf_counter()
    try:
        yield t0
    except Exception as e:
        err = e if isinstance(e, ExportError | ValidationError | MissingDependencyError) else converter_error(
            res.plan.fmt.name, e)
        res.error = str(err)
        say(tag, f"failed: {one_line(str(err), 200)}")
    finally:
        res.total_seconds = time.perf_counter() - t0


@contextlib.contextmanager
def _staging(out_root: Path, tag: str) -> Iterator[Path]:
    """A temp folder beside the final one (same file system: the publish is a rename); removed unless published."""
    tmp = staging_dir(out_root, f".{tag}.tmp-")
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _inputs(req: ExportRequest, plan: TargetPlan, ref: Reference) -> Inputs:
    import torch

    from edgevit.export.routing import NHWCInput

    nhwc = plan.layout == "NHWC"
    model = NHWCInput(ref.static).eval() if nhwc else ref.static
    x_real, x_rand = (a.transpose(0, 2, 3, 1).copy() if nhwc else a for a in (ref.x_real, ref.x_rand))
    calib = None
    if plan.needs_calibration:
        calib = calibration_images(ref.info, req.calib_images or 64).preprocess(ref.info.preprocess, plan.layout)
    return Inputs(model, torch.from_numpy(x_real[:1].copy()), x_real, x_rand, calib)


def _convert(mod: Any, plan: TargetPlan, inputs: Inputs, path: Path, info: Any) -> None:
    log: list[str] = []
    try:
        with quiet(log):
            mod.export(inputs.model, inputs.sample, path, precision=plan.precision, quant=plan.quant,
                       calibration=inputs.calibration, info=info, **plan.options)
    except Exception as e:
        raise converter_error(plan.fmt.name, e, inputs.model, inputs.sample, "".join(log)) from None


def _contract(plan: TargetPlan, ref: Reference, graph: Any, convert_seconds: float) -> Any:
    extra: dict[str, Any] = {"quantization": plan.quant, "export_seconds": round(convert_seconds, 2)}
    extra.update({k: v for k, v in plan.options.items()})
    contract = build_contract(
        ref.info, target=plan.fmt.name, file=plan.fmt.file, precision=plan.precision, routing=ref.routing,
        layout=plan.layout, sha256=ref.sha, eval_set=ref.real.name, input_name=graph.input_name,
        output_name=graph.output_name, dynamic_batch=not isinstance(graph.input_shape[0], int),
        params=ref.params, extra={k: v for k, v in extra.items() if v is not None})
    contract.input["dtype"] = graph.input_dtype
    if graph.extra.get("label_output"):  # Core ML classifier: a label output beside the label->logit dict
        contract.output.update(label_output=graph.extra["label_output"], dictionary=True)
    return contract


def _validate(req: ExportRequest, plan: TargetPlan, ref: Reference, contract: Any, graph: Any, folder: Path,
              inputs: Inputs) -> tuple[ValidationReport, np.ndarray | None]:
    """Structure, static-routing equivalence, and the artifact's numbers in its runtime."""
    report = ValidationReport(plan.fmt.name, plan.precision, eval_set=ref.real.name)
    check_structure(report, plan.fmt.name, contract, graph, ref.experts)
    check_static_form(report, np.concatenate([ref.ref_real, ref.ref_rand]), np.concatenate(ref.static_out))
    validated = _run_numbers(report, plan, folder, inputs.x_real, inputs.x_rand, ref, req)
    if ref.real.note:
        report.add("eval images", None, ref.real.note)
    return report, validated


def _embed(mod: Any, plan: TargetPlan, contract: Any, path: Path) -> None:
    """The contract inside the model file where the format allows, read back to prove it survived."""
    text = contract_text(contract)
    with quiet():
        embedded = mod.embed_metadata(path, text) and mod.inspect(path).metadata.get("edgevit") == text
    if plan.fmt.embeds and not embedded:
        raise ExportError(f"{plan.fmt.name}: the contract did not survive embedding into {path.name}")


def _same_after_embedding(plan: TargetPlan, folder: Path, x: np.ndarray, before: np.ndarray) -> None:
    from edgevit.runtimes.base import open_harness

    with quiet():
        h = open_harness(folder, runtime=plan.fmt.runtime)
        try:
            after = h.run(x)
        finally:
            h.close()
    diff = float(np.max(np.abs(after - before))) if len(x) else 0.0
    if not diff <= 1e-5 * max(1.0, float(np.abs(before).max())):
        raise ExportError(f"{plan.fmt.name}: embedding the contract changed the model's outputs (max diff {diff:.2e})")


def _run_numbers(report: ValidationReport, plan: TargetPlan, folder: Path, x_real: np.ndarray, x_rand: np.ndarray,
                 ref: Reference, req: ExportRequest) -> np.ndarray | None:
    """Run the artifact in its runtime and compare; returns its outputs on the real images (None: not run)."""
    import platform

    from edgevit.runtimes.base import UnsupportedPlatformError, open_harness

    if plan.fmt.name == "coreml" and (platform.system() != "Darwin" or plan.options.get("image_input")):
        why = (f"Core ML prediction needs macOS (this machine runs {platform.system()})"
               if platform.system() != "Darwin" else "image-input models are checked through the sample app")
        report.add("numeric check", None, f"skipped: {why}; structure checked only, no numbers reported")
        return None
    try:
        with quiet():
            h = open_harness(folder, runtime=plan.fmt.runtime)
    except UnsupportedPlatformError as e:
        report.add("numeric check", None, f"skipped: {e}")
        return None
    try:
        with quiet():
            out_real = h.run(x_real)
            out_rand = h.run(x_rand) if len(x_rand) else np.zeros_like(ref.ref_rand)
    finally:
        h.close()
    check_numbers(report, plan.precision, ref.ref_real, out_real, ref.ref_rand, out_rand,
                  ref.real.labels, req.min_agreement)
    return out_real


def _bundle(req: ExportRequest, results: list[ExportResult], say: Progress) -> None:
    from edgevit.export.app_bundle import write_app_bundle

    need = {"android": "tflite", "ios": "coreml"}[req.app]
    res = next((r for r in results if r.plan.fmt.name == need and r.published), None)
    if res is None:
        raise ExportError(f"--app {req.app}: no valid {need} artifact to bundle")
    res.app_bundle = write_app_bundle(res.file, res.contract, req.app, req.app_out)
    say(need, f"app bundle written to {res.app_bundle}")


def _retry_hint(r: ExportResult) -> str:
    """Static int8 that failed its numbers: the calibrated ranges cost agreement (a briefly trained model's
    near-tied logits flip); the dynamic scheme, which measures each input's range, usually passes."""
    static_failed = r.error is None and r.plan.quant == "static" and "dynamic" in r.plan.fmt.quant
    return "; try --quant dynamic" if static_failed else ""


def raise_for_failures(results: list[ExportResult]) -> None:
    """One clear error when any target failed (after every target has had its turn)."""
    bad = [r for r in results if not r.ok]
    if not bad:
        return
    parts = []
    for r in bad:
        what = r.error or (r.report.failure() if r.report else "failed")
        kept = " (kept: --keep-invalid)" if r.published else " (no artifact written)"
        parts.append(f"{_tag(r.plan, r.routing)}: {what}{kept}{_retry_hint(r)}")
    cls = ExportError if any(r.error for r in bad) else ValidationError
    raise cls("; ".join(parts))
