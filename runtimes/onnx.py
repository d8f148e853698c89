"""onnxruntime harness: providers, intra-op threads, graph optimization level. Needs `edgevit[pi]`.

Options (`--option key=value`): `provider` (default CPUExecutionProvider; comma-separated list allowed),
`graph_optimization_level` (all | extended | basic | disable; default all), `inter_op_threads` (default 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgevit.errors import RuntimeHarnessError, require
from edgevit.runtimes.base import Harness
from edgevit.runtimes.files import one_line

_OPT_LEVELS = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
               "disable": "ORT_DISABLE_ALL"}
_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class OnnxHarness(Harness):
    name = "onnx"
    suffixes = (".onnx",)
    extra = "pi"

    def _ort(self) -> Any:
        return require("onnxruntime", "pi", "the onnx runtime")

    def package(self) -> str:
        return "onnxruntime"

    def version(self) -> str:
        return str(self._ort().__version__)

    def provider(self) -> str | None:
        if getattr(self, "_session", None) is not None:
            return ",".join(self._session.get_providers())
        return str(self.options.get("provider", "CPUExecutionProvider"))

    def _prepare(self) -> None:
        self._ort()

    def _load(self) -> None:
        ort = self._ort()
        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = int(self.threads)
        so.inter_op_num_threads = int(self.options.get("inter_op_threads", 1))
        level = str(self.options.get("graph_optimization_level", "all")).lower()
        if level not in _OPT_LEVELS:
            raise RuntimeHarnessError(f"graph_optimization_level must be one of {list(_OPT_LEVELS)}, got {level!r}")
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[level])
        so.log_severity_level = 3
        providers = [p.strip() for p in str(self.options.get("provider", "CPUExecutionProvider")).split(",")]
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise RuntimeHarnessError(f"onnxruntime provider(s) {missing} not available here; "
                                      f"available: {ort.get_available_providers()}")
        try:
            self._session = ort.InferenceSession(str(self.model_path), sess_options=so, providers=providers)
        except Exception as e:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
            hint = ""
            if "opset" in str(e).lower() or "ir version" in str(e).lower():
                hint = (f" (onnxruntime {ort.__version__} may be older than this file's opset: edgevit's default"
                        " opset 23 needs onnxruntime >= 1.23.1; upgrade onnxruntime, or export with a lower --opset)")
            raise RuntimeHarnessError(f"onnxruntime cannot load {self.model_path}: {one_line(e)}{hint}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise RuntimeHarnessError(f"{self.model_path.name} has {len(inputs)} inputs; edgevit models take one")
        inp = inputs[0]
        self._input_name = inp.name
        self._input_dtype = _NP_TYPES.get(inp.type)
        if self._input_dtype is None:
            raise RuntimeHarnessError(f"{self.model_path.name}: input type {inp.type} is not a float tensor")
        shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.check_input_shape(shape)
        self.fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self._output_name = self._session.get_outputs()[0].name

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            (y,) = self._session.run([self._output_name], {self._input_name: x.astype(self._input_dtype, copy=False)})
        except Exception as e:
            raise RuntimeHarnessError(f"onnxruntime failed running {self.model_path.name}: {one_line(e)}") from None
        return y

    def close(self) -> None:
        self._session = None

