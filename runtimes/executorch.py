"""ExecuTorch harness (the `executorch.runtime` Python API, XNNPACK and portable kernels). Workstation only.

`executorch.runtime`'s pybindings import torch and exchange torch tensors, so this harness — unlike every other
one in this package — pulls torch in, lazily, when (and only when) `--runtime executorch` is chosen. On a device
ExecuTorch runs through its C++ runner instead. Needs `edgevit[executorch]`.

The thread pool is sized before `load_method` (resetting it afterwards crashed or hung: TOOLCHAIN.md) and only
once per process: benches run each artifact in its own child process, so that holds.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from edgevit.errors import RuntimeHarnessError, require
from edgevit.runtimes.base import Harness
from edgevit.runtimes.files import one_line

_THREADS_SET: list[int] = []


class ExecuTorchHarness(Harness):
    name = "executorch"
    suffixes = (".pte",)
    extra = "executorch"

    def package(self) -> str:
        return "executorch"

    def provider(self) -> str | None:
        # what the exporter lowered to (recorded in the contract), XNNPACK being edgevit's default partitioner
        return str(self.contract.extra.get("backend") or self.contract.extra.get("partitioner") or "xnnpack")

    def _prepare(self) -> None:
        self._rt_mod = require("executorch.runtime", "executorch", "the ExecuTorch runtime", package="executorch")
        self._lib = importlib.import_module("executorch.extension.pybindings.portable_lib")
        self._torch = importlib.import_module("torch")  # already imported by the pybindings above

    def _load(self) -> None:
        rt_mod, lib = self._rt_mod, self._lib
        if self.threads and not _THREADS_SET:
            lib._unsafe_reset_threadpool(int(self.threads))
            _THREADS_SET.append(int(self.threads))
        elif self.threads and _THREADS_SET[0] != self.threads:
            raise RuntimeHarnessError(f"the ExecuTorch thread pool is already sized to {_THREADS_SET[0]} in this "
                                      f"process; run {self.threads} threads in a fresh process")
        runtime = rt_mod.Runtime.get()
        try:
            program = runtime.load_program(self.model_path, verification=rt_mod.Verification.InternalConsistency)
            if "forward" not in program.method_names:
                raise RuntimeHarnessError(f"{self.model_path.name} has no 'forward' method "
                                          f"(methods: {sorted(program.method_names)})")
            self._method = program.load_method("forward")
        except RuntimeHarnessError:
            raise
        except Exception as e:
            raise RuntimeHarnessError(f"ExecuTorch cannot load {self.model_path}: {one_line(e)}") from None
        self._program = program
        meta = self._method.metadata
        if meta.num_inputs() != 1:
            raise RuntimeHarnessError(f"{self.model_path.name} takes {meta.num_inputs()} inputs; edgevit models take one")
        shape = tuple(int(s) for s in meta.input_tensor_meta(0).sizes())
        self.check_input_shape(shape)
        self.fixed_batch = shape[0]  # .pte files from torch.export are static unless exported with dynamic dims
        self._dynamic = bool(self.options.get("dynamic_batch", self.contract.input.get("dynamic_batch", False)))
        if self._dynamic:
            self.fixed_batch = None

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            out: Any = self._method.execute([self._torch.from_numpy(x)])
        except Exception as e:
            raise RuntimeHarnessError(f"ExecuTorch failed running {self.model_path.name}: {one_line(e)}") from None
        y = out[0]
        return y.detach().numpy() if hasattr(y, "detach") else np.asarray(y)

    def close(self) -> None:
        self._method = None
        self._program = None
