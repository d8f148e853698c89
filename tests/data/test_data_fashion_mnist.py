"""fashion-mnist: the real Debian files when installed, and the idx reader on tiny files written here."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from edgevit.data import DATASET_STATS, compute_mean_std, load_dataset
from edgevit.data import fashion_mnist as fm
from edgevit.errors import DataError


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape) + arr.tobytes()


def _write_set(folder, n_train=12, n_test=6, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in fm.FILES.items():
        data = _idx(arrays[key])
        (folder / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.fixture(scope="module")
def real():
    if fm.debian_dir() is None:
        pytest.skip("Debian package dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    return load_dataset("fashion-mnist", val_fraction=0.1)


def test_real_debian_files(real):
    assert len(real.train) + len(real.val) == 60000 and len(real.val) == 6000
    assert len(real.test) == 10000
    assert (real.image_size, real.channels, real.num_classes) == ((28, 28), 1, 10)
    assert real.labels[0] == "T-shirt/top" and real.labels[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(real.test.targets), [1000] * 10)
    mean, std = compute_mean_std(real.test)
    assert abs(mean[0] - DATASET_STATS["fashion-mnist"][0][0]) < 0.01  # test set stats close to train's
    assert abs(std[0] - DATASET_STATS["fashion-mnist"][1][0]) < 0.01


@pytest.mark.parametrize("gz", [True, False])
def test_dir_spec_reads_idx(tmp_path, gz):
    arrays = _write_set(tmp_path / "fm", gz=gz)
    s = load_dataset(f"fashion-mnist:{tmp_path / 'fm'}", val_fraction=0.0)
    np.testing.assert_array_equal(s.train.images[..., 0], arrays["train_images"])
    np.testing.assert_array_equal(s.test.targets, arrays["test_labels"])
    assert s.name == "fashion-mnist" and s.labels == fm.LABELS


def test_dir_spec_accepts_parent(tmp_path):
    _write_set(tmp_path / "fashion-mnist")
    assert len(load_dataset(f"fashion-mnist:{tmp_path}", val_fraction=0.0).test) == 6


def test_truncated_idx_is_a_clear_error(tmp_path):
    _write_set(tmp_path, gz=False)
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_bad_gzip_and_bad_magic(tmp_path):
    _write_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        load_dataset(f"fashion-mnist:{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01abcd"))
    with pytest.raises(DataError, match="not a uint8 idx"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_mismatched_counts(tmp_path):
    _write_set(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="do not match"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(f"fashion-mnist:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_not_installed_says_how_to_install(monkeypatch):
    monkeypatch.setattr(fm, "debian_dir", lambda: None)
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*fashion-mnist:DIR"):
        load_dataset("fashion-mnist")
