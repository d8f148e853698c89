"""Shared pytest setup: few threads per test process (the CI machine has 2 cores).

Under pytest-xdist (`-n N`) the cores are shared out between the N workers, so N workers never run more
threads than the machine has cores (oversubscribed torch/OpenMP runs several times slower).
"""

from __future__ import annotations

import os

_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, min(2, (os.cpu_count() or 1) // _workers))))
