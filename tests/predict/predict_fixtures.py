"""Real models and real image files for the predict / info tests (conftest.py imports these fixtures).

Built once and cached across sessions in the pytest cache, keyed by a hash of the code they depend on (models,
data, training, export, the contract and this file), so any change there rebuilds them:
- `vit_test` trained on digits (20 epochs, ~82%) and on Fashion-MNIST (3000 images, 8 epochs, ~55%) through
  `edgevit train`, exported through `edgevit export --target onnx,tflite`;
- a random-init grey (1-channel) `vit_test` exported to ONNX, for the colour-vs-grey cases.
Image files: the digits test split as PNG and a stratified Fashion-MNIST sample as JPEG, laid out as
`imagefolder` (`DIR/{train,test}/<class index>/*`) so `edgevit eval --data imagefolder:DIR` sees the same files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from cached_build import cached_build

ROOT = Path(__file__).resolve().parents[2]
_DEPS = [*sorted((ROOT / "edgevit" / "models").rglob("*.py")), *sorted((ROOT / "edgevit" / "data").rglob("*.py")),
         *sorted((ROOT / "edgevit" / "train").rglob("*.py")), *sorted((ROOT / "export").glob("*.py")),
         ROOT / "edgevit" / "checkpoint.py", ROOT / "runtimes" / "contract.py", Path(__file__)]
KEY = hashlib.sha256(b"".join(p.read_bytes() for p in _DEPS if p.exists())).hexdigest()[:12]
TRAIN = {"digits": ["--epochs", "20"], "fashion-mnist": ["--limit", "3000", "--epochs", "8"]}


def cli(*args: str) -> str:
    """Run the edgevit CLI in-process; returns stdout, fails the test (with the output) on a non-zero exit."""
    from typer.testing import CliRunner

    from edgevit.cli import app

    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, f"edgevit {' '.join(args)} -> {res.exit_code}\n{res.output}\n{res.exception!r}"
    return res.stdout


def _build_models(root: Path) -> None:
    import torch

    from edgevit.checkpoint import save_checkpoint
    from edgevit.registry import create_model
    from edgevit.runtimes.contract import Preprocess

    torch.set_num_threads(1)
    for data, extra in TRAIN.items():
        run = root / data
        cli("train", "--model", "vit_test", "--data", data, "--lr", "5e-3", "--warmup-epochs", "1", "--seed", "0",
            "--device", "cpu", "--out", str(run), *extra)
        cli("export", "--checkpoint", str(run / "best"), "--target", "onnx,tflite", "--out", str(run / "export"))
    torch.manual_seed(0)
    grey = create_model("vit_test", in_chans=1)
    pre = Preprocess(size=(16, 16), channels=1, mean=(0.5,), std=(0.5,))
    save_checkpoint(root / "grey" / "best", grey, [str(i) for i in range(10)], pre, {"data": {"spec": "digits"}})
    cli("export", "--checkpoint", str(root / "grey" / "best"), "--target", "onnx", "--out",
        str(root / "grey" / "export"))


@pytest.fixture(scope="session")
def models(pytestconfig: pytest.Config) -> Path:
    """ROOT/{digits,fashion-mnist}/best (checkpoint) + export/{onnx-fp32,tflite-fp32}; ROOT/grey/...onnx-fp32."""
    return cached_build(pytestconfig, "predict-models", KEY, _build_models)


def write_imagefolder(root: Path, images: np.ndarray, targets: np.ndarray, suffix: str) -> Path:
    """uint8 (N,H,W[,1]) images -> root/test/<class>/<i>.<suffix>, and the same files under root/train/."""
    from PIL import Image

    for i, (img, t) in enumerate(zip(images, targets, strict=True)):
        for split in ("test", "train"):
            d = root / split / str(int(t))
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.squeeze(img, -1) if img.ndim == 3 else img).save(d / f"{i:05d}{suffix}", quality=90)
    return root


@pytest.fixture(scope="session")
def image_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """digits: the whole test split (360) as PNG; fashion-mnist: 8 test images per class (80) as JPEG."""
    from edgevit.data import load_dataset

    out = tmp_path_factory.mktemp("images")
    digits = load_dataset("digits").test
    fm = load_dataset("fashion-mnist").test
    pick = np.concatenate([np.flatnonzero(fm.targets == c)[:8] for c in range(10)])
    return {"digits": write_imagefolder(out / "digits", digits.images, digits.targets, ".png"),
            "fashion-mnist": write_imagefolder(out / "fashion", fm.images[pick], fm.targets[pick], ".jpg")}


def torch_reference(checkpoint: Path, files: list[Path]) -> np.ndarray:
    """Argmax of the checkpoint in torch on the files as Pillow decodes them, through the training transform."""
    import torch
    from PIL import Image

    from edgevit.checkpoint import load_checkpoint
    from edgevit.data import BatchTransform

    model, info = load_checkpoint(checkpoint)
    images = np.stack([np.asarray(Image.open(f).convert("L")) for f in files])
    with torch.no_grad():
        return model(BatchTransform(info.preprocess, train=False)(images)).argmax(-1).numpy()


def eval_json(checkpoint: Path, folder: Path, out: Path) -> dict:
    """`edgevit eval --data imagefolder:FOLDER --json` on the test split."""
    return json.loads(cli("eval", "--checkpoint", str(checkpoint), "--data", f"imagefolder:{folder}", "--json",
                          "--device", "cpu", "--out", str(out)))
