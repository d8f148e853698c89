"""Core ML harness (coremltools `MLModel.predict`): macOS only. Needs `edgevit[coreml]` on a Mac.

Option `compute_units`: all | cpu_only | cpu_and_gpu | cpu_and_ne (default all). Core ML picks its own threads.

Elsewhere the harness refuses clearly with `UnsupportedPlatformError` ("needs macOS"): coremltools converts on
Linux, but prediction runs only on macOS, and a bench never fakes a number. On iOS, the sample app in
`apps/ios` writes a results file in the same JSON schema, which `edgevit bench report` ingests.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from edgevit.errors import RuntimeHarnessError, require
from edgevit.runtimes.base import Harness, UnsupportedPlatformError
from edgevit.runtimes.files import one_line

COMPUTE_UNITS = {"all": "ALL", "cpu_only": "CPU_ONLY", "cpu_and_gpu": "CPU_AND_GPU", "cpu_and_ne": "CPU_AND_NE"}


def needs_macos_message(path: Any) -> str:
    return (f"Core ML prediction needs macOS; this machine runs {platform.system() or 'an unknown OS'} "
            f"({path}): bench it on a Mac, or on iOS through the sample app (apps/ios)")


class CoreMLHarness(Harness):
    name = "coreml"
    suffixes = (".mlpackage", ".mlmodel", ".mlmodelc")
    extra = "coreml"

    def _units(self) -> str:
        key = str(self.options.get("compute_units", "all")).lower()
        if key not in COMPUTE_UNITS:
            raise RuntimeHarnessError(f"compute_units must be one of {list(COMPUTE_UNITS)}, got {key!r}")
        return key

    def package(self) -> str:
        return "coremltools"

    def provider(self) -> str | None:
        return self._units()

    def info(self):  # type: ignore[override]
        info = super().info()
        info.threads = None  # Core ML schedules its own threads; --threads does not apply
        return info

    def _load(self) -> None:
        if platform.system() != "Darwin":
            raise UnsupportedPlatformError(needs_macos_message(self.model_path))
        ct = require("coremltools", "coreml", "the Core ML runtime")
        units = getattr(ct.ComputeUnit, COMPUTE_UNITS[self._units()])
        try:
            self._model = ct.models.MLModel(str(self.model_path), compute_units=units)
            desc = self._model.get_spec().description
        except Exception as e:
            raise RuntimeHarnessError(f"Core ML cannot load {self.model_path}: {one_line(e)}") from None
        if len(desc.input) != 1:
            raise RuntimeHarnessError(f"{self.model_path.name} has {len(desc.input)} inputs; edgevit models take one")
        inp = desc.input[0]
        if inp.type.WhichOneof("Type") != "multiArrayType":
            raise RuntimeHarnessError(f"{self.model_path.name}: input {inp.name} is not a multi-array; "
                                      "edgevit exports preprocess outside the model")
        shape = tuple(int(d) for d in inp.type.multiArrayType.shape)
        if shape:
            self.check_input_shape(shape)
            ranges = inp.type.multiArrayType.shapeRange.sizeRanges
            flexible = bool(ranges) and ranges[0].upperBound != ranges[0].lowerBound
            self.fixed_batch = None if flexible else shape[0]
        self._in_name, self._out_name = inp.name, desc.output[0].name

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            out = self._model.predict({self._in_name: x})
        except Exception as e:
            raise RuntimeHarnessError(f"Core ML failed running {self.model_path.name}: {one_line(e)}") from None
        return np.asarray(out[self._out_name])

    def close(self) -> None:
        self._model = None
