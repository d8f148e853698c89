"""Fuzz screen, run as a child: `python fuzz_worker.py IMAGE.npy ARTIFACT_DIR...` loads and runs each artifact
in turn and prints one JSON line per artifact: {"i", "outcome": "ok" | "error", "error"}. A runtime that crashes
kills this process: the parent (test_fuzz_readers.py) records that artifact as a crash and starts a new worker
after it, so hundreds of mutants cost a few processes."""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def main(argv: list[str]) -> int:
    from edgevit.errors import EdgevitError
    from edgevit.runtimes.base import open_harness

    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # runtimes' C++ logs go to stderr, our lines stay parseable
    images = np.load(argv[0])
    for i, path in enumerate(argv[1:]):
        msg: dict = {"i": i, "outcome": "ok", "error": None}
        try:
            h = open_harness(path, threads=1)
            try:
                y = h.predict(images)
                assert np.isfinite(y).all()  # non-finite outputs must have been turned into an error
            finally:
                h.close()
        except (EdgevitError, ValueError, RuntimeError, OSError, MemoryError) as e:
            msg.update(outcome="error", error=f"{type(e).__name__}: {str(e)[:200]}")
        out.write(json.dumps(msg) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
