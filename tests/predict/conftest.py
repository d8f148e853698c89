"""Fixtures for the predict / info tests: see predict_fixtures.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict_fixtures import image_sets, models  # noqa: E402, F401
