"""LiteRT / TFLite interpreter harness: ai-edge-litert, or tflite-runtime where that is what a device has.

Options: `interpreter` (auto | litert | tflite_runtime; auto prefers ai-edge-litert), `delegate`
(xnnpack | none; default xnnpack, the interpreter's default CPU delegate, threaded by `--threads`).

tflite-runtime 2.14 (the last release, numpy<2) is supported for fp32 / fp16 / weight-only int8 models only:
it rejects PT2E int8 files and gives wrong answers on ai-edge-quantizer dynamic-int8 files (TOOLCHAIN.md).
Models with a static batch (what litert-torch writes) run larger batches as a loop of their own batch size:
resizing a static graph can silently mix images through reshapes with baked-in shapes.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

import numpy as np

from edgevit.errors import MissingDependencyError, RuntimeHarnessError
from edgevit.runtimes.base import Harness
from edgevit.runtimes.console import native_output_to
from edgevit.runtimes.files import one_line

_MODULES = {"litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
            "tflite_runtime": ("tflite_runtime.interpreter", "tflite-runtime")}


def import_interpreter(which: str = "auto") -> tuple[Any, str]:
    """(interpreter module, distribution name) for 'auto' | 'litert' | 'tflite_runtime'."""
    order = ["litert", "tflite_runtime"] if which == "auto" else [which]
    for key in order:
        if key not in _MODULES:
            raise RuntimeHarnessError(f"interpreter must be auto, litert or tflite_runtime, got {which!r}")
        module, dist = _MODULES[key]
        try:
            return importlib.import_module(module), dist
        except ImportError:
            continue
    raise MissingDependencyError("ai-edge-litert (or tflite-runtime)", "pi", "the tflite runtime")


class TFLiteHarness(Harness):
    name = "tflite"
    suffixes = (".tflite",)
    extra = "pi"

    def _module(self) -> tuple[Any, str]:
        if not hasattr(self, "_mod"):
            self._mod = import_interpreter(str(self.options.get("interpreter", "auto")))
        return self._mod

    def package(self) -> str:
        return self._module()[1]

    def version(self) -> str:
        mod, dist = self._module()
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return str(getattr(mod, "__version__", ""))

    def provider(self) -> str | None:
        return "xnnpack" if str(self.options.get("delegate", "xnnpack")).lower() == "xnnpack" else "builtin"

    def _prepare(self) -> None:
        self._module()

    def _load(self) -> None:
        mod, dist = self._module()
        delegate = str(self.options.get("delegate", "xnnpack")).lower()
        if delegate not in ("xnnpack", "none"):
            raise RuntimeHarnessError(f"tflite delegate must be xnnpack or none, got {delegate!r}")
        kwargs: dict[str, Any] = {"model_path": str(self.model_path)}
        if self.threads:
            kwargs["num_threads"] = int(self.threads)
        if delegate == "none":
            kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            with native_output_to():  # LiteRT logs "Created TensorFlow Lite XNNPACK delegate" on fd 2
                it = mod.Interpreter(**kwargs)
                it.allocate_tensors()
        except Exception as e:
            raise RuntimeHarnessError(f"{dist} cannot load {self.model_path}: {one_line(e)}") from None
        inputs, outputs = it.get_input_details(), it.get_output_details()
        if len(inputs) != 1:
            raise RuntimeHarnessError(f"{self.model_path.name} has {len(inputs)} inputs; edgevit models take one")
        self._it, self._in, self._out = it, inputs[0], outputs[0]
        sig = [int(d) for d in self._in.get("shape_signature", self._in["shape"])]
        self.check_input_shape(tuple(d if d > 0 else None for d in sig))
        self._dynamic = sig[0] <= 0
        self.fixed_batch = None if self._dynamic else int(self._in["shape"][0])

    def _run(self, x: np.ndarray) -> np.ndarray:
        it, inp = self._it, self._in
        if self._dynamic and tuple(it.get_input_details()[0]["shape"]) != x.shape:
            it.resize_tensor_input(inp["index"], list(x.shape), strict=False)
            it.allocate_tensors()
            self._out = it.get_output_details()[0]
        it.set_tensor(inp["index"], _quantize(x, inp))
        try:
            it.invoke()
        except Exception as e:
            raise RuntimeHarnessError(f"tflite failed running {self.model_path.name}: {one_line(e)}") from None
        return _dequantize(it.get_tensor(self._out["index"]), self._out)

    def close(self) -> None:
        self._it = None


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    scale, zero = detail.get("quantization", (0.0, 0))
    if not scale:
        raise RuntimeHarnessError(f"integer model input {detail.get('name')} has no quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]).kind == "f":
        return y.astype(np.float32, copy=False)
    scale, zero = detail.get("quantization", (0.0, 0))
    return ((y.astype(np.float32) - zero) * (scale or 1.0)).astype(np.float32)
