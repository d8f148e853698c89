"""CIFAR-10/100 from tiny folders written in the exact python-pickle format (bytes keys, numpy data)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from edgevit.data import load_dataset
from edgevit.errors import DataError

C10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> the on-disk (N, 3072) layout: all R, then all G, then all B, row-major."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def _dump(path, obj, numpy1: bool = False):
    """Protocol 2, like the original Python 2 files; numpy1=True writes numpy 1.x's module path."""
    data = pickle.dumps(obj, protocol=2)
    if numpy1:
        data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(data)


def make_cifar10(parent, per_batch=4, n_test=5, seed=0):
    root = parent / "cifar-10-batches-py"
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    train_imgs, train_t = [], []
    for i in range(1, 6):
        imgs = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        _dump(root / f"data_batch_{i}", {b"batch_label": f"training batch {i} of 5".encode(), b"labels": labels,
                                         b"data": _rows(imgs), b"filenames": [b"x.png"] * per_batch},
              numpy1=i == 1)
        train_imgs.append(imgs)
        train_t += labels
    test_imgs = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    test_t = [int(v) for v in rng.integers(0, 10, n_test)]
    _dump(root / "test_batch", {b"batch_label": b"testing batch 1 of 1", b"labels": test_t,
                                b"data": _rows(test_imgs), b"filenames": [b"y.png"] * n_test})
    _dump(root / "batches.meta", {b"label_names": [n.encode() for n in C10_NAMES], b"num_cases_per_batch": 10000,
                                  b"num_vis": 3072})
    return root, np.concatenate(train_imgs), np.array(train_t), test_imgs, np.array(test_t)


def make_cifar100(parent, n_fine=6, n_coarse=3):
    root = parent / "cifar-100-python"
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    coarse_of = np.arange(n_fine) % n_coarse  # fine i belongs to super-class i % 3
    fine_names = [f"fine{i}" for i in range(n_fine)]
    coarse_names = [f"coarse{i}" for i in range(n_coarse)]
    for name, n in (("train", 3 * n_fine), ("test", n_fine)):
        fine = np.arange(n) % n_fine
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        _dump(root / name, {b"filenames": [b"a.png"] * n, b"batch_label": name.encode(),
                            b"fine_labels": fine.tolist(), b"coarse_labels": coarse_of[fine].tolist(),
                            b"data": _rows(imgs)})
    _dump(root / "meta", {b"fine_label_names": [n.encode() for n in fine_names],
                          b"coarse_label_names": [n.encode() for n in coarse_names]})
    return root, coarse_of


def test_cifar10_loads_exact_pixels_and_labels(tmp_path):
    root, train_imgs, train_t, test_imgs, test_t = make_cifar10(tmp_path)
    s = load_dataset(f"cifar10:{root}", val_fraction=0.0)
    assert s.name == "cifar10" and s.labels == C10_NAMES
    assert (s.image_size, s.channels, s.num_classes) == ((32, 32), 3, 10)
    np.testing.assert_array_equal(s.train.images, train_imgs)
    np.testing.assert_array_equal(s.train.targets, train_t)
    np.testing.assert_array_equal(s.test.images, test_imgs)
    np.testing.assert_array_equal(s.test.targets, test_t)
    assert s.superclasses is None


def test_cifar10_accepts_parent_folder(tmp_path):
    make_cifar10(tmp_path)
    assert len(load_dataset(f"cifar10:{tmp_path}", val_fraction=0.0).train) == 20


def test_cifar100_superclasses(tmp_path):
    root, coarse_of = make_cifar100(tmp_path)
    for spec in (f"cifar100:{root}", f"cifar100:{tmp_path}"):
        s = load_dataset(spec, val_fraction=0.0)
        assert s.labels == [f"fine{i}" for i in range(6)]
        assert s.superclass_names == ["coarse0", "coarse1", "coarse2"]
        assert s.superclasses == coarse_of.tolist()
        assert (len(s.train), len(s.test), s.num_classes) == (18, 6, 6)


def test_cifar100_inconsistent_superclass(tmp_path):
    root, _ = make_cifar100(tmp_path)
    d = pickle.loads((root / "train").read_bytes(), encoding="bytes")
    d[b"coarse_labels"][6] = (d[b"coarse_labels"][6] + 1) % 3  # fine0 now under two super-classes
    _dump(root / "train", d)
    with pytest.raises(DataError, match="two super-classes"):
        load_dataset(f"cifar100:{root}")


def test_corrupt_pickle_names_the_file(tmp_path):
    root, *_ = make_cifar10(tmp_path)
    (root / "data_batch_3").write_bytes(b"\x80\x02}q\x00(garbage")
    with pytest.raises(DataError, match="corrupt CIFAR pickle .*data_batch_3"):
        load_dataset(f"cifar10:{root}")


def test_malicious_pickle_is_refused(tmp_path):
    root, *_ = make_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    (root / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match="refusing to load"):
        load_dataset(f"cifar10:{root}")


def test_missing_batch_and_wrong_shape(tmp_path):
    root, *_ = make_cifar10(tmp_path)
    (root / "data_batch_5").unlink()
    with pytest.raises(DataError, match="missing CIFAR file .*data_batch_5"):
        load_dataset(f"cifar10:{root}")
    _dump(root / "data_batch_5", {b"labels": [1], b"data": np.zeros((1, 100), np.uint8)})
    with pytest.raises(DataError, match=r"uint8 \(N, 3072\)"):
        load_dataset(f"cifar10:{root}")


def test_label_out_of_range(tmp_path):
    root, *_ = make_cifar10(tmp_path)
    _dump(root / "batches.meta", {b"label_names": [b"a", b"b"]})
    with pytest.raises(DataError, match="class names"):
        load_dataset(f"cifar10:{root}")


def test_not_a_cifar_folder(tmp_path):
    with pytest.raises(DataError, match="not a CIFAR folder"):
        load_dataset(f"cifar10:{tmp_path}")
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(f"cifar100:{tmp_path / 'missing'}")
    make_cifar10(tmp_path)  # a CIFAR-10 folder is not a CIFAR-100 one
    with pytest.raises(DataError, match="cifar100:.*not a CIFAR folder"):
        load_dataset(f"cifar100:{tmp_path}")
