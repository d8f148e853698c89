"""ExecuTorch target: `torch.export` -> `to_edge_transform_and_lower(XnnpackPartitioner)` -> `.pte`.

- form: ExecuTorch's own static form (`executorch_form.to_executorch_form`): LayerNorm, the token router's
  top-k and sums, and the attention products written in ops XNNPACK's partitioner takes, so the blocks run in
  one delegate call (the portable form left LayerNorm, argmax rounds, sums and expand copies to portable kernels).
- fp32: lowered to XNNPACK; Mobile V-MoE's expert gathers and the class token's copy run on portable kernels.
- int8 `dynamic`: PT2E with `XNNPACKQuantizer` (symmetric, per-channel int8 weights, dynamically quantised
  activations), calibrated by one forward on the sample image (dynamic activations need no ranges). The
  quantizer takes linear/conv weights only, so Mobile V-MoE's gathered expert stacks are stored in int8 by
  the form itself (`executorch_form.Int8BmmImageExperts`: dequantized by XNNPACK after the gather).
- int8 `static`: the same quantizer with static activation ranges observed on real calibration images (the
  checkpoint's train split), so XNNPACK runs int8 kernels end to end between the float ops it keeps.
The `.pte` format has no metadata slot we can use: the contract lives beside it only. `inspect` reads the
program back and reports delegate calls vs portable-kernel calls (the share of the work XNNPACK takes).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ExportError, require
from edgevit.export.common import GraphInfo, quiet


def export(model: Any, sample: Any, path: Path, *, precision: str = "fp32", quant: str | None = None,
           calibration: np.ndarray | None = None, info: Any = None) -> Path:
    require("executorch", "executorch", "ExecuTorch export")
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edgevit.export.executorch_form import to_executorch_form

    path = Path(path)
    model = to_executorch_form(model, int8_stacks=precision == "int8")
    with quiet():
        if precision == "int8":
            model = _quantize(model, sample, quant or "dynamic", calibration)
        elif precision != "fp32":
            raise ExportError(f"executorch: unsupported precision {precision!r}")
        ep = torch.export.export(model, (sample,))
        prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])
        path.write_bytes(prog.to_executorch().buffer)
    return path


def _quantize(model: Any, sample: Any, scheme: str, calibration: np.ndarray | None = None) -> Any:
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if scheme not in ("dynamic", "static"):
        raise ExportError(f"executorch: unknown int8 scheme {scheme!r}")
    dynamic = scheme == "dynamic"
    if not dynamic and (calibration is None or len(calibration) == 0):
        raise ExportError("executorch int8 static quantization needs calibration images")
    q = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic))
    gm = torch.export.export(model.eval(), (sample,)).module()
    gm = prepare_pt2e(gm, q)
    with torch.no_grad():
        for x in ([sample] if dynamic else [torch.from_numpy(c[None]).float() for c in calibration]):
            gm(x)
    return convert_pt2e(gm)


def embed_metadata(path: Path, text: str) -> bool:
    """`.pte` has no user metadata: the contract stays beside the file."""
    return False


def inspect(path: Path) -> GraphInfo:
    require("executorch", "executorch", "reading .pte files")
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte = deserialize_pte_binary(Path(path).read_bytes())
    plan = pte.program.execution_plan[0]
    ops: Counter = Counter()
    delegated = 0
    for chain in plan.chains:
        for ins in chain.instructions:
            kind = type(ins.instr_args).__name__
            if kind == "KernelCall":
                ops[plan.operators[ins.instr_args.op_index].name] += 1
            elif kind == "DelegateCall":
                delegated += 1
                ops[f"delegate:{plan.delegates[ins.instr_args.delegate_index].id}"] += 1

    def shape(i: int) -> list[Any]:
        v = plan.values[i].val
        return [int(s) for s in getattr(v, "sizes", [])]

    kernels = sum(n for k, n in ops.items() if not k.startswith("delegate:"))
    return GraphInfo(input_name="input", input_shape=shape(plan.inputs[0]), input_dtype="float32",
                     output_name="logits", output_shape=shape(plan.outputs[0]), ops=ops, constants=[],
                     extra={"delegated_nodes": delegated, "non_delegated_nodes": kernels,
                            "backends": sorted({d.id for d in plan.delegates}),
                            "constants_note": ".pte weights live in delegate blobs: not counted (see the onnx export)"})
