"""The checkpoint behind the runtime/bench test artifacts: the registered `vit_test` model trained on digits and
saved with `edgevit.checkpoint.save_checkpoint`, so the torch harness loads it like any real checkpoint.
Torch side (tests only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODEL = "vit_test"


def train_digits_model(pre: dict, steps: int = 300):
    """Train on the sklearn digits images that are NOT in the shipped test split -> (model, test logits)."""
    import torch
    from sklearn.datasets import load_digits

    from edgevit import create_model
    from edgevit.runtimes.contract import Preprocess, preprocess_images
    from edgevit.runtimes.evalset import shipped_digits

    test = np.load(Path(__file__).parents[2] / "runtimes" / "data" / "digits_test.npz")
    x, y = load_digits(return_X_y=True)
    keep = np.ones(len(y), bool)
    keep[test["indices"]] = False
    images = np.round(x[keep].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    pre = Preprocess.from_dict(pre)
    xt, yt = torch.from_numpy(preprocess_images(images, pre)), torch.from_numpy(y[keep])
    torch.manual_seed(0)
    model = create_model(MODEL, num_classes=10, img_size=pre.size[0], in_chans=pre.channels)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(preprocess_images(shipped_digits().images, pre))).numpy()
    return model, logits


def save_digits_checkpoint(model, path: Path, pre: dict) -> Path:
    from edgevit.checkpoint import save_checkpoint
    from edgevit.runtimes.contract import Preprocess

    return save_checkpoint(path, model, [str(i) for i in range(10)], Preprocess.from_dict(pre),
                           {"data": {"spec": "digits"}})
