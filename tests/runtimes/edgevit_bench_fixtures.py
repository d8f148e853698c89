"""Real artifacts for the runtime/bench tests, built once and cached across sessions (pytest cache, keyed by the
hash of this file): the registered `vit_test` model trained on the digits train split (sklearn, minus the
shipped test indices) and saved as a real checkpoint (`save_checkpoint`), exported to ONNX (dynamic batch) and
.tflite (litert-torch, static batch 1), and (slow, separate) an ExecuTorch .pte and a Core ML .mlpackage.

Also: shims for child processes — `sitecustomize.py` folders that make torch unimportable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from cached_build import cached_build
from digits_checkpoint import MODEL

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
KEY = hashlib.sha256(Path(__file__).read_bytes() + (HERE / "digits_checkpoint.py").read_bytes()).hexdigest()[:12]
PRE = {"size": [16, 16], "channels": 3, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize": "bilinear",
       "scale": 1 / 255}


def contract(target: str, file: str, precision: str = "fp32", **extra):
    from edgevit.runtimes.contract import Contract, Preprocess

    return Contract(model={"name": MODEL, "family": "vit"}, labels=[str(i) for i in range(10)],
                    input={"name": "input", "shape": [1, 3, 16, 16], "layout": "NCHW", "dtype": "float32"},
                    output={"name": "logits", "shape": [1, 10]}, preprocess=Preprocess.from_dict(PRE),
                    target=target, file=file, precision=precision, routing="none", eval_set="digits",
                    validation={"top1_agreement": 1.0}, edgevit_version="0.1.0", **extra)


def _build_base(root: Path) -> None:
    import torch
    from digits_checkpoint import save_digits_checkpoint, train_digits_model

    torch.set_num_threads(1)
    model, logits = train_digits_model(PRE)
    ckpt = save_digits_checkpoint(model, root / "ckpt", PRE)
    np.save(root / "reference_logits.npy", logits)
    x = torch.zeros(1, 3, 16, 16)
    d = root / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (x,), str(d / "model.onnx"), dynamo=False, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    contract("onnx", "model.onnx", source={"checkpoint": str(ckpt)}).save(d)
    import litert_torch

    d = root / "tflite"
    d.mkdir(parents=True, exist_ok=True)
    litert_torch.convert(model.eval(), (x,)).export(str(d / "model.tflite"))
    contract("tflite", "model.tflite").save(d)


def _ensure(config, name: str, build) -> Path:
    return cached_build(config, f"bench-{name}", KEY, build)


@pytest.fixture(scope="session")
def artifacts(pytestconfig, tmp_path_factory) -> Path:
    """A private copy (tests may damage files) of: ckpt/, onnx/, tflite/, reference_logits.npy."""
    root = _ensure(pytestconfig, "base", _build_base)
    dst = tmp_path_factory.mktemp("artifacts")
    shutil.copytree(root, dst, dirs_exist_ok=True)
    # the contract names the checkpoint it came from: point it at this copy
    c = json.loads((dst / "onnx" / "edgevit.json").read_text())
    c["source"]["checkpoint"] = str(dst / "ckpt")
    (dst / "onnx" / "edgevit.json").write_text(json.dumps(c))
    return dst


def _build_pte(root: Path, ckpt: Path) -> None:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edgevit.checkpoint import load_checkpoint

    model, _ = load_checkpoint(ckpt)
    ep = torch.export.export(model.eval(), (torch.zeros(1, 3, 16, 16),))
    prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    (root / "model.pte").write_bytes(prog.buffer)
    contract("executorch", "model.pte", extra={"backend": "xnnpack"}).save(root)


def _build_coreml(root: Path, ckpt: Path) -> None:
    import coremltools as ct
    import torch

    from edgevit.checkpoint import load_checkpoint

    model, _ = load_checkpoint(ckpt)
    ep = torch.export.export(model.eval(), (torch.zeros(1, 3, 16, 16),))
    ml = ct.convert(ep.run_decompositions({}), convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17)
    ml.save(str(root / "model.mlpackage"))
    contract("coreml", "model.mlpackage").save(root)


@pytest.fixture(scope="session")
def pte_artifact(pytestconfig, artifacts, tmp_path_factory) -> Path:
    pytest.importorskip("executorch")
    root = _ensure(pytestconfig, "pte", lambda tmp: _build_pte(tmp, artifacts / "ckpt"))
    dst = tmp_path_factory.mktemp("pte") / "pte"
    shutil.copytree(root, dst)
    return dst


@pytest.fixture(scope="session")
def coreml_artifact(pytestconfig, artifacts, tmp_path_factory) -> Path:
    pytest.importorskip("coremltools")
    root = _ensure(pytestconfig, "coreml", lambda tmp: _build_coreml(tmp, artifacts / "ckpt"))
    dst = tmp_path_factory.mktemp("coreml") / "coreml"
    shutil.copytree(root, dst)
    return dst


def shim_dir(tmp: Path, code: str) -> Path:
    """A folder holding a sitecustomize.py with `code` (put it first on PYTHONPATH of a child)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "sitecustomize.py").write_text(code)
    return tmp


NO_TORCH = ("import sys\n"
            "for _m in ('torch', 'torchvision', 'torchao', 'executorch', 'litert_torch', 'edgevit.models',\n"
            "           'edgevit.train', 'edgevit.export'):\n"
            "    sys.modules[_m] = None  # import raises ImportError\n")

def child_env(*shims: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(s) for s in shims] + [env.get("PYTHONPATH", "")]).strip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
