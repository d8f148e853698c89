"""A stand-in for `edgevit.checkpoint.load_checkpoint` in the torch-harness tests: a tiny CNN trained on digits,
saved as a folder with config.json / model.pt / labels.json / preprocess.json. Torch side (tests only)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np


def tiny_cnn():
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def train_tiny_cnn(steps: int = 120):
    """Train on the sklearn digits images that are NOT in the shipped test split -> (model, test logits)."""
    import torch
    from sklearn.datasets import load_digits

    from edgevit.runtimes.contract import Preprocess, preprocess_images
    from edgevit.runtimes.evalset import shipped_digits

    test = np.load(Path(__file__).parents[2] / "runtimes" / "data" / "digits_test.npz")
    x, y = load_digits(return_X_y=True)
    keep = np.ones(len(y), bool)
    keep[test["indices"]] = False
    images = np.round(x[keep].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    pre = Preprocess(size=(16, 16), channels=3)
    xt, yt = torch.from_numpy(preprocess_images(images, pre)), torch.from_numpy(y[keep])
    torch.manual_seed(0)
    model = tiny_cnn()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(preprocess_images(shipped_digits().images, pre))).numpy()
    return model, logits


def save_stub_checkpoint(model, path: Path, pre: dict) -> Path:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "model.pt")
    (path / "labels.json").write_text(json.dumps([str(i) for i in range(10)]))
    (path / "preprocess.json").write_text(json.dumps(pre))
    (path / "config.json").write_text(json.dumps({"name": "tinycnn", "family": "test"}))
    return path


def load_stub_model(path: Path):
    import torch

    model = tiny_cnn()
    model.load_state_dict(torch.load(Path(path) / "model.pt", weights_only=True))
    return model.eval()


def load_checkpoint(path, eval_mode: bool = True):
    """Same signature and return shape as edgevit.checkpoint.load_checkpoint."""
    from edgevit.errors import CheckpointError
    from edgevit.runtimes.contract import Preprocess

    path = Path(path)
    if not (path / "model.pt").is_file():
        raise CheckpointError(f"{path} is not a checkpoint: model.pt is missing")
    info = SimpleNamespace(path=path, labels=json.loads((path / "labels.json").read_text()),
                           preprocess=Preprocess.from_dict(json.loads((path / "preprocess.json").read_text())),
                           model_name="tinycnn", meta={})
    return load_stub_model(path), info
