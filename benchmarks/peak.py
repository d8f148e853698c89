"""The machine's limit: peak fp32 GFLOP/s of a large single-thread GEMM in numpy (issue 7, table 3).

Runs in a child process with one BLAS thread. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines here to
dodge old OpenBLAS bugs) can slow a current numpy, so the GEMM is measured with the environment as is and with
both unset, and the faster is the peak (both are recorded).

    python benchmarks/peak.py            # prints JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, time, numpy as np
from threadpoolctl import threadpool_info
n = 1024
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
for _ in range(3): a @ b
best = float("inf")
for _ in range(15):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
info = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} for d in threadpool_info()]
print(json.dumps({"gflops": 2 * n**3 / best / 1e9, "n": n, "blas": info}))
"""


def gemm_peak() -> dict:
    """Single-thread sgemm GFLOP/s (best of 15 runs of 1024^3), under both OpenBLAS environments."""
    results = {}
    for label, unset in (("env_as_is", False), ("coretype_unset", True)):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if unset:
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
        r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True)
        results[label] = json.loads(r.stdout)
    best = max(results.values(), key=lambda d: d["gflops"])
    return {"peak_gflops": round(best["gflops"], 1), "runs": results}


if __name__ == "__main__":
    print(json.dumps(gemm_peak(), indent=1))
