"""Fixtures for the hostile-input tests (issue 12)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtimes"))

from edgevit_bench_fixtures import artifacts  # noqa: E402, F401  (real .onnx / .tflite exports, cached)
