"""Resumable training state and crash-safe checkpoint directories.

`train_state.pt` holds only tensors and plain containers (optimizer state, step, epoch, best metric, RNG states),
so it loads with `torch.load(weights_only=True)`. A checkpoint directory is written beside its final place and
swapped in with renames (`edgevit.runtimes.files.write_dir_atomically`): a kill at any moment leaves either the
old or the new directory, never a mix of epoch-N weights with an epoch-(N-1) train_state.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgevit.checkpoint import TRAIN_STATE_FILE
from edgevit.errors import CheckpointError
from edgevit.runtimes.files import atomic_write_bytes


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": repr(random.getstate()),
                              "numpy": _np_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _np_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "gauss": float(gauss)}


def set_rng_states(states: dict[str, Any]) -> None:
    import ast

    torch.set_rng_state(states["torch"])
    random.setstate(_tuplify(ast.literal_eval(states["python"])))
    n = states["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, list | tuple) else x


def save_train_state(ckpt_dir: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({**state, "rng": rng_states()}, buf)
    atomic_write_bytes(Path(ckpt_dir) / TRAIN_STATE_FILE, buf.getvalue())


def load_train_state(ckpt_dir: Path) -> dict[str, Any]:
    f = Path(ckpt_dir) / TRAIN_STATE_FILE
    if not f.is_file():
        raise CheckpointError(f"{ckpt_dir} has no {TRAIN_STATE_FILE}: it cannot be resumed")
    try:
        return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt/truncated/unpickling refused: all the same to the user
        raise CheckpointError(f"{f} is corrupt or unreadable: {str(e).splitlines()[0]}") from None
