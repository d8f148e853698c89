"""Shared pytest setup: deterministic torch, few threads (the CI machine has 2 cores)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
