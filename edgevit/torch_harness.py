"""The torch-eager reference harness: a training checkpoint run by PyTorch, behind the same `Harness` interface
as the device runtimes (`edgevit.runtimes.base`). Imported only for `--runtime torch`, so `edgevit.runtimes`
stays torch-free; needs the workstation install (`edgevit[train]`).

It accepts a checkpoint folder (`config.json`, `model.safetensors`, ...) loaded by
`edgevit.checkpoint.load_checkpoint(path) -> (model, info)`, or an exported artifact whose contract's
`source.checkpoint` names one. Preprocessing comes from the checkpoint's `Preprocess` through the same numpy
`preprocess_images` every runtime uses, so its logits are the reference the others are compared with.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from edgevit.errors import CheckpointError, MissingDependencyError, RuntimeHarnessError, require
from edgevit.runtimes.base import Harness, is_checkpoint_dir, path_size
from edgevit.runtimes.contract import CONTRACT_FILENAME, Contract, load_contract
from edgevit.runtimes.evalset import SHIPPED
from edgevit.runtimes.files import one_line


def _checkpoint_dir(artifact: Path) -> Path:
    if is_checkpoint_dir(artifact):
        return artifact
    if artifact.exists() and (artifact.is_file() or (artifact / CONTRACT_FILENAME).exists()):
        src = load_contract(artifact).source.get("checkpoint")
        if src and Path(src).is_dir():
            return Path(src)
        raise RuntimeHarnessError(f"--runtime torch needs a checkpoint folder; {artifact}'s contract names "
                                  f"checkpoint {src!r}, which is not here")
    raise RuntimeHarnessError(f"--runtime torch needs a checkpoint folder (config.json + weights); got {artifact}")


class TorchHarness(Harness):
    name = "torch"
    suffixes = ()
    extra = "train"

    def _resolve(self, artifact: Path) -> tuple[Contract, Path]:
        ckpt = _checkpoint_dir(artifact)
        require("torch", "train", "the torch reference harness")
        with contextlib.suppress(ImportError):  # the model code's first import stays out of the load time
            from edgevit.models import load_families

            load_families()
        try:
            from edgevit.checkpoint import checkpoint_sha256, load_checkpoint
        except ImportError as e:
            if "torch" in str(e):
                raise MissingDependencyError("torch", "train", "the torch reference harness") from None
            raise RuntimeHarnessError(f"edgevit.checkpoint is not available: {e}") from None
        t0 = time.perf_counter()
        try:
            self._model, info = load_checkpoint(ckpt)
        except (CheckpointError, RuntimeHarnessError):
            raise
        except Exception as e:
            raise CheckpointError(f"cannot load checkpoint {ckpt}: {one_line(e)}") from None
        self._ckpt_ms = (time.perf_counter() - t0) * 1000.0
        pre, labels = info.preprocess, info.labels
        contract = Contract(
            model={"name": info.model_name}, labels=labels,
            input={"name": "input", "shape": [1, pre.channels, *pre.size], "layout": "NCHW", "dtype": "float32"},
            output={"name": "logits", "shape": [1, len(labels)]}, preprocess=pre, target="torch",
            file=ckpt.name, precision="fp32", routing="dynamic",
            source={"checkpoint": str(ckpt), "sha256": checkpoint_sha256(ckpt)},
            eval_set=SHIPPED)  # as before: the shipped digits unless the job passes an eval set
        self._ckpt = ckpt
        return contract, ckpt

    def package(self) -> str:
        return "torch"

    def version(self) -> str:
        import torch

        return str(torch.__version__).split("+")[0]

    def provider(self) -> str | None:
        return "eager"

    def load(self) -> Harness:
        super().load()
        if self.load_time_ms is not None and not getattr(self, "_ckpt_counted", False):
            self.load_time_ms += self._ckpt_ms  # the checkpoint was read when the harness was constructed
            self._ckpt_counted = True
        return self

    def _load(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self._torch = torch
        self._model.eval()

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        try:
            with torch.inference_mode():
                y = self._model(torch.from_numpy(x))
        except Exception as e:
            raise RuntimeHarnessError(f"torch failed running {self._ckpt}: {one_line(e)}") from None
        if isinstance(y, (tuple, list)):
            y = y[0]
        return y.detach().float().numpy()

    def size_bytes(self) -> int:
        weights = sorted(self._ckpt.glob("*.safetensors")) + sorted(self._ckpt.glob("*.pt"))
        return sum(path_size(w) for w in weights) if weights else path_size(self._ckpt)

    def close(self) -> None:
        self._model = None
