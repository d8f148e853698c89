"""Shared pieces of the target modules: the structural `GraphInfo`, quiet converter runs, and turning a
converter's failure into one `ExportError` that names the rejected op and the model module it came from."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgevit.errors import EdgevitError, ExportError
from edgevit.runtimes.files import one_line


@dataclass
class GraphInfo:
    """What an artifact declares, read back from the file (no execution)."""

    input_name: str
    input_shape: list[Any]
    input_dtype: str
    output_name: str
    output_shape: list[Any]
    output_dtype: str = "float32"
    num_inputs: int = 1
    class_labels: list[str] | None = None  # a classifier's own labels (Core ML classifiers), else None
    ops: Counter = field(default_factory=Counter)
    constants: list[np.ndarray] = field(default_factory=list)  # float weights (for the experts count)
    metadata: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def quiet(log: list[str] | None = None) -> Iterator[None]:
    """Silence converters' prints, warnings and C++ logs (fd-level) unless `edgevit --verbose`; the captured
    text goes to `log` for error messages."""
    import warnings

    from edgevit.runtimes.console import native_output_to, verbose

    with warnings.catch_warnings(), native_output_to(log):
        if not verbose():
            warnings.simplefilter("ignore")
        yield


_OP_PATTERNS = (
    r"torch\.ops\.aten\.([A-Za-z0-9_]+)",
    r"aten[.:]{1,2}([A-Za-z0-9_]+)",
    r"\b(STABLEHLO_[A-Z_]+)\b",
    r"'(stablehlo\.[a-z_]+)' op",
    r"'(tfl\.[a-z_]+)' op",
    r"op '([A-Za-z0-9_]+)' not implemented",
    r"convert function for op '([A-Za-z0-9_]+)'",
    r"Unsupported (?:operator|op)s?:? '?([A-Za-z0-9_.:]+)",
)
_NOISE_OPS = {"_assert_async", "sym_size", "sym_constrain_range_for_size"}


def find_ops(text: str) -> list[str]:
    """Op names a converter's message mentions, most specific first, without duplicates."""
    seen: list[str] = []
    for pat in _OP_PATTERNS:
        for m in re.finditer(pat, text):
            op = m.group(1)
            if op not in seen:
                seen.append(op)
    return seen


def locate_op(model: Any, sample: Any, op: str) -> str | None:
    """Which module of `model` emits `op`: its nn_module_stack path and type, and the source line if known."""
    import torch

    bare = op.split(".")[-1].split("::")[-1].lower()
    bare = {"stablehlo_sort": "topk", "sort": "topk", "scatter": "scatter"}.get(bare, bare)
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(model, (sample,), strict=False)
    except Exception:
        return None
    for graph in (ep.graph, _decomposed_graph(ep)):
        if graph is None:
            continue
        for node in graph.nodes:
            if node.op != "call_function":
                continue
            target = str(getattr(node.target, "__name__", node.target)).split(".")[0].lower()
            if target != bare and target.rstrip("_") != bare:
                continue
            stack = node.meta.get("nn_module_stack") or {}
            where = ""
            if stack:
                path, typ = list(stack.values())[-1]
                tname = getattr(typ, "__name__", str(typ)).rsplit(".", 1)[-1]
                path = re.sub(r"^(L__self__|L\['self'\])\.?", "", path)
                where = f"module {path or '<root>'} ({tname})"
            trace = (node.meta.get("stack_trace") or "").strip().splitlines()
            line = next((t.strip() for t in reversed(trace) if t.strip().startswith("File ")), "")
            if line:
                where += (", " if where else "") + line.replace('File "', "").replace('", line ', ":")
            return where or None
    return None


def _decomposed_graph(ep: Any) -> Any:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ep.run_decompositions().graph
    except Exception:
        return None


def converter_error(target: str, exc: BaseException, model: Any = None, sample: Any = None,
                    log: str = "") -> EdgevitError:
    """A converter failure as one ExportError naming the rejected op and its module (when we can tell)."""
    if isinstance(exc, EdgevitError):
        return exc
    msg = f"{type(exc).__name__}: {exc}"
    ops = [o for o in find_ops(msg + "\n" + log) if o.split(".")[-1] not in _NOISE_OPS]
    if ops and model is not None and sample is not None:
        for op in ops:
            where = locate_op(model, sample, op)
            if where:
                return ExportError(f"{target}: the converter rejected op {op} from {where}: {one_line(msg, 300)}")
        return ExportError(f"{target}: the converter rejected op {ops[0]}: {one_line(msg, 300)}")
    return ExportError(f"{target} conversion failed: {one_line(msg, 300)}")
