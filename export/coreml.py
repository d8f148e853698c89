"""Core ML target: coremltools ML program (`.mlpackage`) from `torch.export`, contract in user_defined_metadata.

- fp16 (default) or fp32 compute (`compute_precision`); inputs and outputs stay float32 tensors, so a caller
  feeds exactly what the contract's preprocessing produces. Deployment target iOS 18 (native SDPA, int8 ops).
- int8: `linear` = `coremltools.optimize.coreml.linear_quantize_weights` (int8 per-channel symmetric weights)
  or `palettize` = 8-bit k-means palettization (`palettize_weights`), on top of the fp16 program.
- `image_input`: an `ImageType` input whose scale/bias fold the contract's mean/std (needs one std for all
  channels) plus `ClassifierConfig` labels, for Apple's Vision framework; the default is a tensor input.
Conversion and structure checks run on Linux; prediction (numeric validation) needs macOS.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ExportError, require
from edgevit.export.common import GraphInfo, quiet

INPUT_NAME, OUTPUT_NAME = "input", "logits"
_ARRAY_TYPES = {65568: "float32", 65552: "float16", 65600: "float64", 131104: "int32"}


def export(model: Any, sample: Any, path: Path, *, precision: str = "fp16", quant: str | None = None,
           calibration: np.ndarray | None = None, image_input: bool = False, info: Any = None) -> Path:
    ct = require("coremltools", "coreml", "Core ML export")
    import torch

    path = Path(path)
    with quiet():
        ep = torch.export.export(model.eval(), (sample,)).run_decompositions({})
    kw: dict[str, Any] = {}
    if image_input:
        inputs = [_image_type(ct, sample, info)]
        kw["classifier_config"] = ct.ClassifierConfig([str(x) for x in info.labels])
    else:
        inputs = [ct.TensorType(name=INPUT_NAME, shape=tuple(sample.shape), dtype=np.float32)]
    compute = ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16
    with quiet():
        ml = ct.convert(ep, inputs=inputs, outputs=[ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)],
                        convert_to="mlprogram", minimum_deployment_target=ct.target.iOS18,
                        compute_precision=compute, **kw)
        if precision == "int8":
            ml = _quantize(ct, ml, quant or "linear")
    ml.author = "edgevit"
    ml.short_description = f"{getattr(info, 'model_name', 'edgevit model')}: logits over {len(getattr(info, 'labels', []))} classes"
    ml.save(str(path))
    return path


def _image_type(ct: Any, sample: Any, info: Any) -> Any:
    if info is None:
        raise ExportError("coreml --image-input needs the checkpoint's preprocessing")
    pre = info.preprocess
    if tuple(sample.shape[1:2]) != (pre.channels,):
        raise ExportError("coreml --image-input takes NCHW models only (drop --layout NHWC)")
    if len(set(pre.std)) != 1:
        raise ExportError(f"coreml --image-input folds preprocessing into one scale, but std differs per channel "
                          f"({list(pre.std)}); use the default tensor input")
    s = pre.std[0]
    layout = ct.colorlayout.RGB if pre.channels == 3 else ct.colorlayout.GRAYSCALE
    bias = [-m / s for m in pre.mean]
    return ct.ImageType(name="image", shape=tuple(sample.shape), scale=pre.scale / s,
                        bias=bias if pre.channels == 3 else bias[0], color_layout=layout)


def _quantize(ct: Any, ml: Any, scheme: str) -> Any:
    opt = ct.optimize.coreml
    if scheme == "linear":
        cfg = opt.OptimizationConfig(global_config=opt.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=512))
        return opt.linear_quantize_weights(ml, config=cfg)
    if scheme == "palettize":
        cfg = opt.OptimizationConfig(global_config=opt.OpPalettizerConfig(mode="kmeans", nbits=8, weight_threshold=512))
        return opt.palettize_weights(ml, config=cfg)
    raise ExportError(f"coreml: unknown int8 scheme {scheme!r}")


def embed_metadata(path: Path, text: str) -> bool:
    ct = require("coremltools", "coreml", "Core ML metadata")
    path = Path(path)
    ml = ct.models.MLModel(str(path), skip_model_load=True)
    ml.user_defined_metadata["edgevit"] = text
    for key in ("routing", "precision", "target"):
        ml.user_defined_metadata[f"edgevit.{key}"] = str(json.loads(text).get(key, ""))
    tmp = Path(tempfile.mkdtemp(prefix=".mlpackage-", dir=path.parent))
    try:
        ml.save(str(tmp / path.name))
        shutil.rmtree(path)
        (tmp / path.name).rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def inspect(path: Path, *, weights: bool = True) -> GraphInfo:
    """Structure of a `.mlpackage`; `weights=False` skips reading the ML program's constants (slow)."""
    ct = require("coremltools", "coreml", "reading Core ML files")
    ml = ct.models.MLModel(str(path), skip_model_load=True)
    spec = ml.get_spec()
    desc = spec.description
    inp = desc.input[0]
    kind = inp.type.WhichOneof("Type")
    if kind == "multiArrayType":
        in_shape = [int(d) for d in inp.type.multiArrayType.shape]
        in_dtype = _ARRAY_TYPES.get(inp.type.multiArrayType.dataType, str(inp.type.multiArrayType.dataType))
    else:
        im = inp.type.imageType
        in_shape, in_dtype = [1, 3 if im.colorSpace == 20 else 1, im.height, im.width], "image"
    probs = desc.predictedProbabilitiesName  # classifier (image input): label -> logit dictionary output
    out = next((o for o in desc.output if o.name in (OUTPUT_NAME, probs)), desc.output[0])
    if out.type.WhichOneof("Type") == "multiArrayType":
        out_shape = [int(d) for d in out.type.multiArrayType.shape]
        out_dtype = _ARRAY_TYPES.get(out.type.multiArrayType.dataType, str(out.type.multiArrayType.dataType))
    else:
        out_shape, out_dtype = [1, None], "dictionary"
    ops: Counter = Counter()
    for fn in spec.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            ops.update(op.type for op in block.operations)
    consts = _constants(ml, spec) if weights else []
    return GraphInfo(input_name=inp.name, input_shape=in_shape, input_dtype=in_dtype, output_name=out.name,
                     output_shape=out_shape, output_dtype=out_dtype, num_inputs=len(desc.input),
                     class_labels=_class_labels(spec), ops=ops, constants=consts,
                     metadata=dict(desc.metadata.userDefined),
                     extra={"spec_version": spec.specificationVersion, "operations": sum(ops.values()),
                            "outputs": [o.name for o in desc.output], "classifier": bool(desc.predictedFeatureName),
                            **({"label_output": desc.predictedFeatureName} if desc.predictedFeatureName else {})})


def _class_labels(spec: Any) -> list[str] | None:
    """Class labels of a Core ML classifier (neural network or ML program), None for a plain model."""
    kind = spec.WhichOneof("Type")
    if kind == "neuralNetworkClassifier":
        nn = spec.neuralNetworkClassifier
        which = nn.WhichOneof("ClassLabels")
        if which == "stringClassLabels":
            return list(nn.stringClassLabels.vector)
        if which == "int64ClassLabels":
            return [str(v) for v in nn.int64ClassLabels.vector]
        return None
    if kind == "mlProgram":
        for fn in spec.mlProgram.functions.values():
            for block in fn.block_specializations.values():
                for op in block.operations:
                    if op.type == "classify":
                        values = op.inputs["classes"].arguments[0].value.immediateValue.list.values
                        out: list[str] = []
                        for v in values:
                            t = v.immediateValue.tensor
                            out += list(t.strings.values) or [str(x) for x in t.longInts.values] or [
                                str(x) for x in t.ints.values]
                        return out
    return None


def _constants(ml: Any, spec: Any) -> list[np.ndarray]:
    """Float weights of the ML program (what `coremltools.optimize.coreml.get_weights_metadata` walks)."""
    try:
        from coremltools.converters.mil.frontend.milproto import load as milproto
        from coremltools.models import utils as model_utils

        with quiet():
            prog = model_utils._convert_model_spec_to_pymil_prog(ml, spec.specificationVersion, milproto.load)
    except Exception:
        return []
    out: list[np.ndarray] = []

    def walk(block: Any) -> None:
        for op in block.operations:
            for b in op.blocks:
                walk(b)
            if op.op_type == "const":
                v = np.asarray(op.outputs[0].val)
                if v.dtype.kind == "f" and v.size > 1:
                    out.append(v)

    for f in prog.functions.values():
        walk(f)
    return out
