"""Helpers for the sample-app tests (tests/apps): a tiny digits classifier, its contract and exports.

The model is a small CNN trained for a few seconds on part of the shipped digits test set, so its top-1 is
meaningful; its contract uses a non-square size and per-channel mean/std so a swapped axis or channel shows
up as a different answer. Converters are imported inside the export functions.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevit.runtimes.contract import Contract, Preprocess, preprocess_images

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "apps"
DIGITS = REPO / "runtimes" / "data" / "digits_test.npz"
TRAIN_N = 240
LABELS = [f"digit-{i}" for i in range(10)]
PRE = Preprocess(size=(18, 14), channels=3, mean=(0.1, 0.2, 0.3), std=(0.3, 0.4, 0.5), resize="bilinear")


def load_reference_preprocess():
    """apps/reference_preprocess.py (apps/ is not a package)."""
    name = "edgevit_apps_reference_preprocess"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APPS / "reference_preprocess.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(DIGITS)
    return d["images"], d["labels"]


def make_contract(layout: str, target: str, file: str, pre: Preprocess = PRE, labels=LABELS) -> Contract:
    h, w = pre.size
    shape = [1, pre.channels, h, w] if layout == "NCHW" else [1, h, w, pre.channels]
    return Contract(
        model={"name": "tiny_cnn_test", "family": "test", "config": {}},
        labels=list(labels),
        input={"name": "input", "shape": shape, "layout": layout, "dtype": "float32"},
        output={"name": "logits", "shape": [1, len(labels)]},
        preprocess=pre,
        target=target,
        file=file,
        precision="fp32",
        routing="none",
        eval_set="digits",
        edgevit_version="0.1.0",
    )


def train_tiny_model(images: np.ndarray, labels: np.ndarray):
    """A tiny CNN (NCHW input) trained on the first TRAIN_N images; eval mode."""
    import torch

    torch.manual_seed(0)
    x = torch.from_numpy(preprocess_images(images[:TRAIN_N], PRE, "NCHW"))
    y = torch.from_numpy(labels[:TRAIN_N])
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()


@dataclass
class Exported:
    folder: Path
    artifact: Path
    contract: Contract


def _nhwc(model):
    import torch

    class NHWC(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.permute(0, 3, 1, 2))

    return NHWC(model).eval()


def export_tflite(model, layout: str, folder: Path) -> Exported:
    import litert_torch
    import torch

    contract = make_contract(layout, "tflite", "model.tflite")
    m = model if layout == "NCHW" else _nhwc(model)
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / "model.tflite"
    litert_torch.convert(m.eval(), (torch.zeros(contract.input_shape),)).export(str(artifact))
    contract.save(folder)
    return Exported(folder, artifact, contract)


def export_coreml(model, folder: Path, classifier: bool) -> Exported:
    import coremltools as ct
    import torch

    contract = make_contract("NCHW", "coreml", "model.mlpackage")
    x = torch.zeros(contract.input_shape)
    extra = {"classifier_config": ct.ClassifierConfig(list(LABELS))} if classifier else {
        "outputs": [ct.TensorType(name="logits")]}
    ml = ct.convert(
        torch.jit.trace(model, x),
        inputs=[ct.TensorType(name="input", shape=tuple(contract.input_shape))],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,
        **extra,
    )
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / "model.mlpackage"
    ml.save(str(artifact))
    contract.save(folder)
    return Exported(folder, artifact, contract)


def tflite_logits(model_path: Path, x: np.ndarray) -> np.ndarray:
    """Batch-1 runs of a .tflite through ai_edge_litert, one image at a time."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path), num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    logits = []
    for i in range(len(x)):
        interp.set_tensor(inp, np.ascontiguousarray(x[i : i + 1], dtype=np.float32))
        interp.invoke()
        logits.append(interp.get_tensor(out).reshape(-1).copy())
    return np.stack(logits)


# A small real .tflite, checked in so the default (fast) test run exercises a real interpreter without
# converting: the tiny CNN above, trained and exported with make_contract("NCHW", ...). Regenerate with
# `.venv/bin/python tests/apps/app_testlib.py` (needs torch and litert-torch).
FIXTURE_TFLITE = Path(__file__).resolve().parent / "data" / "tiny_digits_nchw.tflite"


def write_fixture() -> Path:
    images, labels = load_digits()
    model = train_tiny_model(images, labels)
    exported = export_tflite(model, "NCHW", FIXTURE_TFLITE.parent / ".build")
    FIXTURE_TFLITE.parent.mkdir(parents=True, exist_ok=True)
    exported.artifact.replace(FIXTURE_TFLITE)
    import shutil

    shutil.rmtree(exported.folder)
    return FIXTURE_TFLITE


if __name__ == "__main__":
    print(write_fixture())
