"""ONNX target: `torch.onnx.export(dynamo=True)` (opset >= 17, default 23, dynamic batch), onnxslim, fp16 / int8.

- form: onnxruntime's own static form (`onnx_form.to_onnx_form`): ONNX `Attention` (opset >= 23, so the
  default) and a TopK router, about half the nodes of the portable form.
- fp32: exported, then simplified with onnxslim (onnxsim is not installed here; onnxslim never changed numerics
  in TOOLCHAIN.md's measurements and removes the exporter's leftover shape ops).
- fp16: `onnxruntime.transformers.float16` with float32 inputs/outputs kept (`keep_io_types`), so a runtime feeds
  the same tensors as for fp32.
- int8 `dynamic`: `quantize_dynamic`, int8 weights per channel (per-tensor lost accuracy: TOOLCHAIN.md).
- int8 `static`: QDQ `quantize_static` calibrated (min/max) on real images from the checkpoint's dataset:
  Conv/MatMul/Gemm and the stacked expert weights read by Gather (quantising softmax/LayerNorm inputs costs
  accuracy for little speed), int8 weights per channel, uint8 activations (onnxruntime's x86 kernels take
  uint8, and its own int8-to-uint8 rewrite at load time breaks on opset >= 21 QuantizeLinear). QDQ is the form
  int8 accelerators' execution providers take; on x86 CPU at batch 1 the Q/DQ pairs left around float ops
  add about half again as many kernels, and kernel count, not FLOPs, sets the time there: `dynamic` is the
  CPU form.
The contract goes into `metadata_props['edgevit']`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ExportError, require
from edgevit.export.common import GraphInfo, quiet

DEFAULT_OPSET = 23  # ONNX `Attention`: onnxruntime >= 1.23.1 runs it
INPUT_NAME, OUTPUT_NAME = "input", "logits"
_DTYPES = {1: "float32", 10: "float16", 11: "float64", 3: "int8", 2: "uint8"}


def export(model: Any, sample: Any, path: Path, *, precision: str = "fp32", quant: str | None = None,
           calibration: np.ndarray | None = None, info: Any = None, opset: int | None = None, no_simplify: bool = False) -> Path:
    """Write `model` (already in its static export form) to `path` as ONNX."""
    onnx = require("onnx", "onnx", "ONNX export")
    require("onnxscript", "onnx", "the dynamo ONNX exporter")
    import torch

    from edgevit.export.onnx_form import onnx_translations, to_onnx_form

    opset = int(opset or DEFAULT_OPSET)
    if opset < 17:
        raise ExportError(f"onnx: --opset {opset} is too old; edgevit exports opset >= 17")
    if opset > onnx.defs.onnx_opset_version():
        raise ExportError(f"onnx: --opset {opset} is newer than this onnx package knows "
                          f"(up to {onnx.defs.onnx_opset_version()})")
    model = to_onnx_form(model, opset)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="edgevit-onnx-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        for name in ("torch.onnx", "onnxscript"):
            logging.getLogger(name).setLevel(logging.ERROR)
        with quiet():
            torch.onnx.export(model, (sample,), str(fp32), dynamo=True, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], external_data=False,
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), verbose=False,
                              custom_translation_table=onnx_translations())
        proto = onnx.load(str(fp32))
        written = _opset(proto)
        if written != opset:
            raise ExportError(f"onnx: the exporter wrote opset {written}, not the --opset {opset} asked for")
        if not no_simplify:
            proto = _slim(proto)
            onnx.save(proto, str(fp32))
        if precision == "fp32":
            onnx.save(proto, str(path))
        elif precision == "fp16":
            from onnxruntime.transformers.float16 import convert_float_to_float16

            onnx.save(convert_float_to_float16(proto, keep_io_types=True), str(path))
        elif precision == "int8":
            quantize(fp32, path, quant or "dynamic", calibration)
        else:
            raise ExportError(f"onnx: unsupported precision {precision!r}")
    return path


def _opset(proto: Any) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _slim(proto: Any) -> Any:
    slim = require("onnxslim", "onnx", "ONNX graph simplification")
    with quiet():
        return slim.slim(proto)


def quantize(src: Path, dst: Path, scheme: str, calibration: np.ndarray | None) -> None:
    """Write the int8 form of the fp32 ONNX file `src` to `dst`: `dynamic` or calibrated QDQ `static`."""
    q = require("onnxruntime.quantization", "onnx", "ONNX int8 quantization", package="onnxruntime")
    if scheme == "dynamic":
        from onnxruntime.quantization.registry import IntegerOpsRegistry

        # Its registry's `Attention` is the com.microsoft contrib op; quantizing ONNX's `Attention` as that one
        # writes a QAttention node with the wrong inputs.
        op_types = [op for op in IntegerOpsRegistry if op != "Attention"]
        with quiet():
            q.quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=q.QuantType.QInt8,
                               op_types_to_quantize=op_types)
        return
    if calibration is None or len(calibration) == 0:
        raise ExportError("onnx int8 static quantization needs calibration images")
    pre = src.with_name("pre.onnx")
    with quiet():
        q.quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(calibration[i:i + 1].astype(np.float32) for i in range(len(calibration)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {INPUT_NAME: x}

    with quiet():
        q.quantize_static(str(pre), str(dst), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          op_types_to_quantize=["Conv", "MatMul", "Gemm", "Gather"],
                          calibrate_method=q.CalibrationMethod.MinMax)


def embed_metadata(path: Path, text: str) -> bool:
    onnx = require("onnx", "onnx", "ONNX metadata")
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    props["edgevit"] = text
    del proto.metadata_props[:]
    for k, v in props.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(path))
    return True


def _dims(value_info: Any) -> list[Any]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def inspect(path: Path) -> GraphInfo:
    onnx = require("onnx", "onnx", "reading ONNX files")
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    g = proto.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    ops: Counter = Counter(n.op_type for n in g.node)
    consts = [numpy_helper.to_array(t) for t in g.initializer]
    for n in g.node:
        if n.op_type == "Constant":
            consts += [numpy_helper.to_array(a.t) for a in n.attribute if a.name == "value"]
    consts = [c for c in consts if c.dtype.kind == "f" and c.size > 1]
    i0, o0 = inputs[0], g.output[0]
    return GraphInfo(
        input_name=i0.name, input_shape=_dims(i0), input_dtype=_DTYPES.get(i0.type.tensor_type.elem_type, "?"),
        output_name=o0.name, output_shape=_dims(o0), ops=ops, constants=consts,
        metadata={p.key: p.value for p in proto.metadata_props},
        extra={"opset": _opset(proto),
               "nodes": len(g.node), "inputs": len(inputs), "outputs": len(g.output)},
    )


def contract_from_file(path: Path) -> dict[str, Any] | None:
    """The embedded contract, if any (used by tests and `edgevit bench` when edgevit.json went missing)."""
    meta = inspect(path).metadata
    return json.loads(meta["edgevit"]) if "edgevit" in meta else None
