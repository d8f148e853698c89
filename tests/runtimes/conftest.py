"""Fixtures for the runtime harness tests: see edgevit_bench_fixtures.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edgevit_bench_fixtures import artifacts, coreml_artifact, pte_artifact  # noqa: E402, F401
