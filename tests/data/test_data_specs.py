"""Spec parsing, bad specs, the preprocess defaults, and that the dataset layer stays torch-free."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgevit.data import ArrayDataset, dataset_name, default_preprocess, list_datasets, load_dataset
from edgevit.errors import DataError


def test_list_datasets():
    assert list_datasets() == ["digits", "fashion-mnist", "fashion-mnist:DIR", "cifar10:DIR", "cifar100:DIR",
                               "imagefolder:DIR"]


@pytest.mark.parametrize("spec, match", [
    ("mnist", r"unknown dataset 'mnist'.*valid: digits, fashion-mnist"),
    ("", "empty dataset spec"),
    ("   ", "empty dataset spec"),
    ("cifar10", r"needs a folder: cifar10:DIR"),
    ("cifar100:", r"needs a folder"),
    ("imagefolder", r"needs a folder"),
    ("digits:/tmp", "takes no folder"),
])
def test_bad_specs(spec, match):
    with pytest.raises(DataError, match=match):
        load_dataset(spec)


def test_bare_folder_hints_imagefolder(tmp_path):
    with pytest.raises(DataError, match=f"try imagefolder:{tmp_path}"):
        load_dataset(str(tmp_path))


def test_aliases_and_names():
    assert dataset_name("Fashion_MNIST") == "fashion-mnist"
    assert dataset_name("CIFAR-10:/x") == "cifar10"
    assert load_dataset("DIGITS").name == "digits"


@pytest.mark.parametrize("kw, match", [({"val_fraction": 1.0}, "val_fraction"), ({"limit": 0}, "limit")])
def test_bad_arguments(kw, match):
    with pytest.raises(DataError, match=match):
        load_dataset("digits", **kw)


def test_array_dataset_checks():
    with pytest.raises(DataError, match="uint8"):
        ArrayDataset(np.zeros((2, 4, 4, 1), np.float32), np.zeros(2))
    with pytest.raises(DataError, match="C = 1 or 3"):
        ArrayDataset(np.zeros((2, 4, 4, 2), np.uint8), np.zeros(2))
    with pytest.raises(DataError, match="2 images but 3 targets"):
        ArrayDataset(np.zeros((2, 4, 4), np.uint8), np.zeros(3))
    ds = ArrayDataset(np.zeros((3, 4, 4), np.uint8), [0, 1, 2])
    assert ds.images.shape == (3, 4, 4, 1) and ds.targets.dtype == np.int64
    assert len(ds.subset([2, 0])) == 2 and ds.subset([2, 0]).targets.tolist() == [2, 0]


def test_default_preprocess():
    p = default_preprocess("digits", (32, 32))
    assert p.size == (32, 32) and p.channels == 3 and p.mean == (0.3049,) * 3 and p.std == (0.3757,) * 3
    assert default_preprocess("fashion-mnist", 28, channels=1).mean == (0.286,)
    c = default_preprocess("cifar10:/some/dir", 32)
    assert c.mean == (0.4914, 0.4822, 0.4465)
    assert default_preprocess("cifar100:/x", 32, channels=1).mean == pytest.approx((np.mean([0.5071, 0.4865, 0.4409]),))
    assert default_preprocess("imagefolder:/x", 64).mean == (0.5, 0.5, 0.5)
    assert default_preprocess(load_dataset("digits", limit=20), 16).mean == (0.3049,) * 3
    assert default_preprocess("digits", 32, resize="nearest").resize == "nearest"


def test_dataset_layer_is_torch_free():
    code = ("import sys, edgevit.data as d; s = d.load_dataset('digits'); d.default_preprocess(s, 32); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
