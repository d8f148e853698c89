"""TFLite / LiteRT target: litert-torch conversion, ai-edge-quantizer recipes, the contract in a metadata buffer.

- form: LiteRT's own static form (`tflite_form.to_tflite_form`): norm affines folded into the next linear,
  SwiGLU's two input projections in one, softmax and the token router's top-k mask in ops XNNPACK runs.
- fp32: `litert_torch.convert(model, (sample,))` (static batch 1; NCHW or, with `--layout NHWC`, an input
  permute the converter folds into the stem).
- fp16: ai-edge-quantizer `float_casting` (fp16 weights of fully-connected/conv ops, float compute).
- int8 `dynamic`: `dynamic_wi8_afp32` (int8 channel-wise weights, activations quantised on the fly);
  `weight`: `weight_only_wi8_afp32`; `static`: the matrix products (fully-connected, conv) and the gathers of
  stacked expert weights in int8, activations calibrated on real images, everything else float
  (`_STATIC_INT8_OPS`). ai-edge-quantizer has no weight-only or dynamic gather, so for `dynamic` / `weight`
  the model stores its gathered expert stacks in int8 itself (`routing.int8_expert_stacks`) before conversion.
The `torch.topk` the routers would lower to STABLEHLO_SORT is gone after `to_static` (argmax rounds);
validation checks the graph holds no sort/custom op.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ExportError, require
from edgevit.export.common import GraphInfo, quiet

# Static int8 stops at the ops XNNPACK runs in int8. The full-integer recipe (`static_wi8_ai8`) also quantizes
# LayerNorm's RSQRT / SQUARED_DIFFERENCE, SOFTMAX, DIV and BATCH_MATMUL, which XNNPACK leaves to TFLite's own
# kernels: the flagship's graph then splits into 106 delegate partitions instead of 10 and runs ~2x slower than
# fp32 (`benchmarks/targets.py` counts the partitions and what is left undelegated). Gathers are the exception:
# TFLite runs them with or without XNNPACK, and in int8 they copy a quarter of the bytes (Mobile V-MoE's expert
# stacks: a 1.5 MB file instead of 3.7 MB dynamic, and faster).
_STATIC_INT8_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "GATHER", "GATHER_ND")
_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16"}
_NP = {0: np.float32, 1: np.float16}


def export(model: Any, sample: Any, path: Path, *, precision: str = "fp32", quant: str | None = None,
           calibration: np.ndarray | None = None, info: Any = None) -> Path:
    litert_torch = require("litert_torch", "tflite", "TFLite export")
    from edgevit.export.tflite_form import to_tflite_form

    path = Path(path)
    model = to_tflite_form(model)
    if precision == "int8" and (quant or "dynamic") in ("dynamic", "weight"):
        from edgevit.export.routing import int8_expert_stacks

        model = int8_expert_stacks(model)  # the quantizer has no weight-only / dynamic gather
    with tempfile.TemporaryDirectory(prefix="edgevit-tflite-") as tmp:
        fp32 = Path(tmp) / "fp32.tflite"
        with quiet():
            litert_torch.convert(model.eval(), (sample,)).export(str(fp32))
        if precision == "fp32":
            fp32.replace(path)
        elif precision in ("fp16", "int8"):
            quantize(fp32, path, "fp16" if precision == "fp16" else (quant or "dynamic"), calibration)
        else:
            raise ExportError(f"tflite: unsupported precision {precision!r}")
    return path


def quantize(src: Path, dst: Path, scheme: str, calibration: np.ndarray | None) -> None:
    """Write `src` (an fp32 .tflite) quantized by `scheme` (fp16 | dynamic | weight | static) to `dst`."""
    aeq = require("ai_edge_quantizer", "tflite", "TFLite quantization", package="ai-edge-quantizer")
    from ai_edge_quantizer import qtyping, recipe

    qt = aeq.quantizer.Quantizer(str(src))
    if scheme == "fp16":
        qt.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                  num_bits=16, algorithm_key=recipe.AlgorithmName.FLOAT_CASTING)
    elif scheme == "static":
        for op in _STATIC_INT8_OPS:
            qt.add_static_config(regex=".*", operation_name=getattr(qtyping.TFLOperationName, op),
                                 activation_num_bits=8, weight_num_bits=8)
    else:
        recipes = {"dynamic": recipe.dynamic_wi8_afp32, "weight": recipe.weight_only_wi8_afp32}
        qt.load_quantization_recipe(recipes[scheme]())
    calib_result = None
    if qt.need_calibration:
        if calibration is None or len(calibration) == 0:
            raise ExportError("tflite int8 static quantization needs calibration images")
        interp = require("ai_edge_litert.interpreter", "tflite", "TFLite calibration", package="ai-edge-litert")
        it = interp.Interpreter(model_path=str(src))
        sig = it.get_signature_list()
        key = next(iter(sig))
        name = sig[key]["inputs"][0]
        data = {key: [{name: calibration[i:i + 1].astype(np.float32)} for i in range(len(calibration))]}
        with quiet():
            calib_result = qt.calibrate(data, num_threads=2)
    with quiet():
        result = qt.quantize(calib_result, enable_progress_report=False)
    dst.write_bytes(bytes(result.quantized_model))


def _schema() -> Any:
    return require("ai_edge_litert.schema_py_generated", "tflite", "reading TFLite files", package="ai-edge-litert")


def _read(path: Path) -> Any:
    """The model as flatbuffer objects, with every buffer's bytes inline.

    ai-edge-quantizer writes weights after the flatbuffer (`Buffer.offset`/`size` into the file); re-packing
    the object tree without inlining them first would silently drop every weight.
    """
    schema = _schema()
    raw = Path(path).read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytearray(raw), 0))
    for b in model.buffers or []:
        if b.offset > 1:
            end = b.offset + b.size
            if end > len(raw):
                raise ExportError(f"{Path(path).name} is truncated: a weight buffer ends at byte {end}, "
                                  f"the file has {len(raw)}")
            b.data = np.frombuffer(raw[b.offset:end], dtype=np.uint8)
            b.offset, b.size = 0, 0
    return model


def embed_metadata(path: Path, text: str) -> bool:
    """Add (or replace) a metadata entry 'edgevit' whose buffer holds the contract JSON."""
    import flatbuffers

    schema = _schema()
    model = _read(path)
    model.metadata = [m for m in (model.metadata or []) if m.name not in (b"edgevit", "edgevit")]
    buf = schema.BufferT()
    buf.data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    model.buffers.append(buf)
    md = schema.MetadataT()
    md.name = "edgevit"
    md.buffer = len(model.buffers) - 1
    model.metadata.append(md)
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    Path(path).write_bytes(bytes(b.Output()))
    return True


def _op_names() -> dict[int, str]:
    schema = _schema()
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def inspect(path: Path) -> GraphInfo:
    model = _read(path)
    names = _op_names()
    codes = []
    for oc in model.operatorCodes:
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = names.get(code, str(code))
        codes.append(f"CUSTOM:{oc.customCode.decode() if isinstance(oc.customCode, bytes) else oc.customCode}"
                     if name == "CUSTOM" else name)
    sg = model.subgraphs[0]
    ops = Counter(codes[op.opcodeIndex] for g in model.subgraphs for op in (g.operators or []))
    consts = []
    for t in sg.tensors:
        data = model.buffers[t.buffer].data if 0 < t.buffer < len(model.buffers) else None
        if data is not None and len(data) and t.type in _NP:
            consts.append(np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype=_NP[t.type]))

    def tname(t: Any) -> str:
        return t.name.decode() if isinstance(t.name, bytes) else str(t.name)

    def shape(t: Any) -> list[Any]:
        sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
        return [int(d) if d >= 0 else None for d in sig]

    tin, tout = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    meta = {}
    for m in model.metadata or []:
        key = m.name.decode() if isinstance(m.name, bytes) else str(m.name)
        data = model.buffers[m.buffer].data
        meta[key] = bytes(np.asarray(data, np.uint8)).decode("utf-8", "replace") if data is not None else ""
    return GraphInfo(input_name=tname(tin), input_shape=shape(tin), input_dtype=_TYPES.get(tin.type, str(tin.type)),
                     output_name=tname(tout), output_shape=shape(tout),
                     output_dtype=_TYPES.get(tout.type, str(tout.type)), num_inputs=len(sg.inputs),
                     ops=ops, constants=consts, metadata=meta,
                     extra={"operators": sum(ops.values()), "subgraphs": len(model.subgraphs)})


def xnnpack_partitions(path: Path) -> dict[str, Any]:
    """How LiteRT runs a .tflite on this CPU: XNNPACK delegate partitions and the ops left to TFLite's kernels.

    Every op XNNPACK does not take splits the graph (tensors leave the delegate, one TFLite kernel runs, the next
    partition starts), and TFLite's int8 kernels are far slower than XNNPACK's. The interpreter lists the
    original nodes and one DELEGATE node per partition (`_get_ops_details`, its only view of delegation from
    Python); an original node ran inside a partition when one of its outputs leaves a DELEGATE node, or when
    all its consumers ran inside one. `undelegated_int8` counts the ops left to TFLite that compute in int8.
    """
    interp = require("ai_edge_litert.interpreter", "tflite", "LiteRT delegation report", package="ai-edge-litert")
    it = interp.Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    nodes = it._get_ops_details()
    int8 = {t["index"] for t in it.get_tensor_details() if t["dtype"] == np.int8}
    delegates = [n for n in nodes if n["op_name"] == "DELEGATE"]
    ops = {n["index"]: n for n in nodes if n["op_name"] != "DELEGATE"}
    leaves = {int(t) for d in delegates for t in d["outputs"]}
    feeds = {int(t) for d in delegates for t in d["inputs"]} | {o["index"] for o in it.get_output_details()}
    consumers: dict[int, list[int]] = {}
    for n in ops.values():
        for t in n["inputs"]:
            consumers.setdefault(int(t), []).append(n["index"])
    inside: dict[int, bool] = {}
    for i in sorted(ops, reverse=True):  # nodes are stored in execution order: consumers come later
        outs = [int(t) for t in ops[i]["outputs"] if t >= 0]
        if any(t in leaves for t in outs):
            inside[i] = True
        elif any(t in feeds for t in outs):
            inside[i] = False
        else:
            inside[i] = all(inside.get(c, False) for t in outs for c in consumers.get(t, []))
    left = [ops[i] for i, v in inside.items() if not v]
    in_int8 = [n for n in left if any(int(t) in int8 for t in [*n["inputs"], *n["outputs"]])]
    return {"partitions": len(delegates), "operators": len(ops),
            "undelegated": dict(Counter(n["op_name"] for n in left).most_common()),
            "undelegated_int8": dict(Counter(n["op_name"] for n in in_int8).most_common())}
