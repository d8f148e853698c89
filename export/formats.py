"""The export formats table: one row per target, the single place that says what each target supports.

| target | file | module | precisions (default first) | int8 schemes (--quant) | layouts | extra |
|---|---|---|---|---|---|---|
| onnx | model.onnx | edgevit.export.onnx | fp32, fp16, int8 | dynamic, static | NCHW | onnx |
| coreml | model.mlpackage | edgevit.export.coreml | fp16, fp32, int8 | linear, palettize | NCHW, NHWC | coreml |
| tflite | model.tflite | edgevit.export.tflite | fp32, fp16, int8 | dynamic, static, weight | NCHW, NHWC | tflite |
| executorch | model.pte | edgevit.export.executorch | fp32, int8 | dynamic, static | NCHW | executorch |

Every target module has the same interface::

    export(model, sample, path, *, precision, quant, calibration, **options) -> Path   # writes the model file
    inspect(path) -> GraphInfo        # structure: input/output names, shapes, dtypes, op counts, constants
    embed_metadata(path, text) -> bool  # the contract inside the file where the format allows

`check_request` rejects a flag a target does not support by name, listing what that target does support.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgevit.errors import ExportError

PRECISIONS = ("fp32", "fp16", "int8")
ROUTINGS = ("static", "dense")
LAYOUTS = ("NCHW", "NHWC")


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    file: str  # artifact file name inside the export folder
    module: str
    runtime: str  # edgevit.runtimes harness that validates it
    precisions: tuple[str, ...]  # first = default
    quant: tuple[str, ...]  # int8 schemes, first = default
    layouts: tuple[str, ...]
    extra: str  # pip extra that brings the converter
    requires: tuple[str, ...]  # modules imported (lazily) by the converter
    options: dict[str, str] = field(default_factory=dict)  # target-only flags: name -> help
    embeds: str = ""  # where the contract goes inside the file
    calibrated: tuple[str, ...] = ()  # quant schemes that need calibration images
    int8_note: str = ""  # which int8 scheme to pick on this runtime (benchmarks/results/findings.md), for `--list`

    @property
    def suffix(self) -> str:
        return "." + self.file.rsplit(".", 1)[-1]

    @property
    def default_precision(self) -> str:
        return self.precisions[0]

    def flags(self) -> list[str]:
        """The target's own flags beyond precision/routing/quant/layout."""
        return (["--calib-images N"] if self.calibrated else []) + [f"--{o.replace('_', '-')}" for o in self.options]

    def supports(self) -> str:
        """What this target accepts, as flags (for error messages and `--list`)."""
        parts = [f"--precision {'|'.join(self.precisions)}", f"--routing {'|'.join(ROUTINGS)}"]
        if self.quant:
            parts.append(f"--quant {'|'.join(self.quant)}")
        if len(self.layouts) > 1:
            parts.append(f"--layout {'|'.join(self.layouts)}")
        return ", ".join(parts + self.flags())


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("onnx", "ONNX", "model.onnx", "edgevit.export.onnx", "onnx", ("fp32", "fp16", "int8"),
           ("dynamic", "static"), ("NCHW",), "onnx", ("onnx", "onnxruntime", "onnxscript", "onnxslim"),
           {"opset": "ONNX opset (>= 17, default 23; below 23 attention is exported without the Attention op)", "no_simplify": "skip onnxslim"},
           embeds="metadata_props['edgevit']", calibrated=("static",),
           int8_note="dynamic is onnxruntime's fast CPU form; static (QDQ) is for accelerator execution providers"),
    Format("coreml", "Core ML", "model.mlpackage", "edgevit.export.coreml", "coreml", ("fp16", "fp32", "int8"),
           ("linear", "palettize"), ("NCHW", "NHWC"), "coreml", ("coremltools",),
           {"image_input": "image input (scale/bias from the preprocess) + classifier labels, for Vision"},
           embeds="user_defined_metadata['edgevit']"),
    Format("tflite", "TFLite / LiteRT", "model.tflite", "edgevit.export.tflite", "tflite", ("fp32", "fp16", "int8"),
           ("dynamic", "static", "weight"), ("NCHW", "NHWC"), "tflite",
           ("litert_torch", "ai_edge_litert", "ai_edge_quantizer"),
           embeds="model metadata buffer 'edgevit'", calibrated=("static",),
           int8_note="static (calibrated on the checkpoint's data) runs fastest in LiteRT once the model is "
                     "trained (near-tied logits of an untrained one miss the 90% agreement check); dynamic needs "
                     "no data"),
    Format("executorch", "ExecuTorch (XNNPACK)", "model.pte", "edgevit.export.executorch", "executorch",
           ("fp32", "int8"), ("dynamic", "static"), ("NCHW",), "executorch", ("executorch",), embeds="",
           calibrated=("static",)),
)}


def get_format(name: str) -> Format:
    key = name.strip().lower()
    if key not in FORMATS:
        raise ExportError(f"unknown target {name!r}; known targets: {', '.join(FORMATS)}")
    return FORMATS[key]


def parse_targets(spec: str | list[str]) -> list[Format]:
    names = spec.split(",") if isinstance(spec, str) else [n for s in spec for n in s.split(",")]
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ExportError(f"no target given; known targets: {', '.join(FORMATS)}")
    out: list[Format] = []
    for n in names:
        f = get_format(n)
        if f not in out:
            out.append(f)
    return out


@dataclass(frozen=True)
class TargetPlan:
    """One target's resolved settings."""

    fmt: Format
    precision: str
    quant: str | None  # None unless precision == int8
    layout: str
    options: dict[str, Any]

    @property
    def tag(self) -> str:
        """Folder name: <target>-<precision>[-<quant>][-nhwc][-dense]-style, stable across runs."""
        parts = [self.fmt.name, self.precision]
        if self.quant and self.quant != self.fmt.quant[0]:
            parts.append(self.quant)
        if self.layout != "NCHW":
            parts.append(self.layout.lower())
        if self.options.get("image_input"):
            parts.append("image")
        return "-".join(parts)

    @property
    def needs_calibration(self) -> bool:
        return self.quant in self.fmt.calibrated


def check_request(fmt: Format, *, precision: str | None = None, quant: str | None = None,
                  layout: str | None = None, calib_images: int | None = None,
                  options: dict[str, Any] | None = None) -> TargetPlan:
    """Resolve one target's settings; a flag it does not support is rejected by name with what it supports."""

    def reject(flag: str) -> None:
        raise ExportError(f"{fmt.name} does not support {flag}; {fmt.name} supports: {fmt.supports()}")

    prec = (precision or fmt.default_precision).lower()
    if prec not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if prec not in fmt.precisions:
        reject(f"--precision {prec}")
    if quant is not None:
        q = quant.lower()
        if q not in fmt.quant:
            reject(f"--quant {quant}")
        if prec != "int8":
            raise ExportError(f"--quant {quant} needs --precision int8 (got {prec})")
    else:
        q = fmt.quant[0] if prec == "int8" else None
    lay = (layout or "NCHW").upper()
    if lay not in LAYOUTS:
        raise ExportError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if lay not in fmt.layouts:
        reject(f"--layout {lay}")
    if calib_images is not None and not (q and q in fmt.calibrated):
        if not fmt.calibrated:
            reject("--calib-images")
        raise ExportError(f"--calib-images is used by {fmt.name} --precision int8 --quant "
                          f"{'|'.join(fmt.calibrated)} only")
    opts: dict[str, Any] = {}
    for k, v in (options or {}).items():
        if v is None or v is False:
            continue
        if k not in fmt.options:
            reject(f"--{k.replace('_', '-')}")
        opts[k] = v
    return TargetPlan(fmt, prec, q, lay, opts)


def formats_rows() -> list[dict[str, str]]:
    """The table as rows (for `edgevit export --list` and docs)."""
    return [{"target": f.name, "format": f.title, "file": f.file, "precisions": ", ".join(f.precisions),
             "int8": ", ".join(f"{q} (default)" if i == 0 else q for i, q in enumerate(f.quant))
             + (f"; {f.int8_note}" if f.int8_note else ""), "layouts": ", ".join(f.layouts), "metadata": f.embeds or "beside only",
             "extra": f"edgevit[{f.extra}]", "flags": ", ".join(f.flags())} for f in FORMATS.values()]
