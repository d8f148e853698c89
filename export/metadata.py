"""Build the artifact contract (`edgevit.json`) for one exported model.

The contract is written beside every artifact and embedded where the format allows (ONNX `metadata_props`,
Core ML `user_defined_metadata`, a TFLite metadata buffer; ExecuTorch `.pte`: beside only). The embedded copy
is the same JSON as the file beside it.
"""

from __future__ import annotations

import json
from typing import Any

import edgevit
from edgevit.checkpoint import CheckpointInfo
from edgevit.runtimes.contract import Contract


def input_shape(info: CheckpointInfo, layout: str, batch: int = 1) -> list[int]:
    h, w = info.preprocess.size
    c = info.preprocess.channels
    return [batch, c, h, w] if layout == "NCHW" else [batch, h, w, c]


def build_contract(info: CheckpointInfo, *, target: str, file: str, precision: str, routing: str, layout: str,
                   sha256: str, eval_set: str, input_name: str = "input", output_name: str = "logits",
                   dynamic_batch: bool = False, params: int | None = None,
                   extra: dict[str, Any] | None = None) -> Contract:
    cfg = info.config
    inp: dict[str, Any] = {"name": input_name, "shape": input_shape(info, layout), "layout": layout,
                           "dtype": "float32"}
    if dynamic_batch:
        inp["dynamic_batch"] = True
    model: dict[str, Any] = {"name": info.model_name, "family": cfg.family, "config": cfg.to_dict()}
    if params is not None:
        model["params"] = int(params)
    return Contract(
        model=model,
        labels=list(info.labels),
        input=inp,
        output={"name": output_name, "shape": [1, len(info.labels)], "kind": "logits"},
        preprocess=info.preprocess,
        target=target,
        file=file,
        precision=precision,
        routing=routing,
        source={"checkpoint": str(info.path.resolve()), "sha256": sha256},
        eval_set=eval_set,
        validation={},
        edgevit_version=edgevit.__version__,
        extra=dict(extra or {}),
    )


def contract_text(contract: Contract) -> str:
    """Compact JSON for embedding (the file beside it is the indented form of the same data)."""
    return json.dumps(contract.to_dict(), separators=(",", ":"), sort_keys=False)
