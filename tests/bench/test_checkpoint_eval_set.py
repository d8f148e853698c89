"""A checkpoint benched beside its exports is scored on the same images: its own dataset's test split (as
`export` validated the exports), not the shipped digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgevit.commands.bench import _checkpoint_eval_set
from edgevit.runtimes.compare import CompareOptions, Job, _data_spec
from edgevit.runtimes.job import BenchJob


def _checkpoint(tmp_path: Path, spec: str) -> Path:
    from edgevit.checkpoint import save_checkpoint
    from edgevit.registry import create_model
    from edgevit.runtimes.contract import Preprocess

    model = create_model("vit_test")
    labels = [str(i) for i in range(model.config.num_classes)]
    return save_checkpoint(tmp_path / "ck", model, labels, Preprocess(size=(model.config.img_size,) * 2),
                           meta={"data": {"spec": spec}})


def _imagefolder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (root / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.png")
    return root


def test_a_checkpoint_is_scored_on_its_own_dataset(tmp_path: Path) -> None:
    spec = f"imagefolder:{_imagefolder(tmp_path / 'set')}"
    assert _checkpoint_eval_set(_checkpoint(tmp_path, spec)) == spec


def test_a_dataset_not_on_this_machine_falls_back_to_the_shipped_digits_as_export_does(tmp_path: Path) -> None:
    assert _checkpoint_eval_set(_checkpoint(tmp_path, f"imagefolder:{tmp_path / 'gone'}")) == "digits"


def test_which_eval_set_a_job_gets(tmp_path: Path) -> None:
    ckpt = tmp_path / "ck"
    opts = CompareOptions(checkpoint_eval_set=lambda p: f"set of {p.name}")
    assert _data_spec(Job(ckpt, "torch", None, reference=True), opts) == "set of ck"
    assert _data_spec(Job(ckpt, "torch", None), CompareOptions()) == "digits"  # a device: no workstation reader
    unreadable = CompareOptions(checkpoint_eval_set=_checkpoint_eval_set)  # `ck` does not exist: its job says so
    assert _data_spec(Job(ckpt, "torch", None), unreadable) == "digits"
    given = CompareOptions(job=BenchJob(data="fashion-mnist"), checkpoint_eval_set=lambda p: "other")
    assert _data_spec(Job(ckpt, "torch", None), given) == "fashion-mnist"  # --data wins
