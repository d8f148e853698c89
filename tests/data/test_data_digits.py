"""digits: the test split is the one shipped to devices; val is a seeded, stratified, disjoint cut of train."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from edgevit.data import DATASET_STATS, compute_mean_std, load_dataset, stratified_split
from edgevit.data.digits import digits_images, digits_split_indices


@pytest.fixture(scope="module")
def shipped():
    ref = resources.files("edgevit.runtimes").joinpath("data/digits_test.npz")
    with resources.as_file(ref) as p, np.load(p) as d:
        return {k: d[k] for k in d.files}


def test_test_split_equals_shipped_npz(shipped):
    s = load_dataset("digits")
    assert s.test.images.shape == (360, 8, 8, 1)
    np.testing.assert_array_equal(s.test.images[..., 0], shipped["images"])
    np.testing.assert_array_equal(s.test.targets, shipped["labels"])
    _, test_idx = digits_split_indices(1797)
    np.testing.assert_array_equal(test_idx, shipped["indices"])


def test_train_is_the_complement_of_test():
    images, targets = digits_images()
    train_idx, test_idx = digits_split_indices(len(images))
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    assert len(train_idx) + len(test_idx) == len(images) == 1797
    s = load_dataset("digits", val_fraction=0.0)
    np.testing.assert_array_equal(s.train.images[..., 0], images[train_idx])
    np.testing.assert_array_equal(s.train.targets, targets[train_idx])
    assert len(s.val) == 0 and s.val.images.shape[1:] == (8, 8, 1)


def test_metadata():
    s = load_dataset("digits")
    assert s.name == "digits" and s.spec == "digits"
    assert s.labels == [str(i) for i in range(10)]
    assert (s.num_classes, s.channels, s.image_size) == (10, 1, (8, 8))
    assert s.superclasses is None
    assert s.train.images.dtype == np.uint8 and s.train.targets.dtype == np.int64


def test_val_split_is_seeded_stratified_and_disjoint():
    a, b, c = (load_dataset("digits", val_fraction=0.2, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.val.images, b.val.images)
    assert not np.array_equal(a.val.images, c.val.images)
    pool = len(a.train) + len(a.val)
    assert pool == 1797 - 360
    # stratified: each class contributes round(n_c * 0.2) images
    _, counts = np.unique(np.concatenate([a.train.targets, a.val.targets]), return_counts=True)
    np.testing.assert_array_equal(np.bincount(a.val.targets, minlength=10), np.round(counts * 0.2))
    # disjoint: no val image (with its label) appears in train
    train_rows = {(t, im.tobytes()) for t, im in zip(a.train.targets, a.train.images, strict=True)}
    assert not any((t, im.tobytes()) in train_rows for t, im in zip(a.val.targets, a.val.images, strict=True))


def test_stratified_split_indices_partition():
    targets = np.repeat(np.arange(5), [1, 2, 10, 30, 7])
    keep, held = stratified_split(targets, 0.3, seed=3)
    assert len(np.intersect1d(keep, held)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(targets)))
    assert set(targets[keep]) == set(range(5))  # a class never vanishes from train


def test_limit_caps_train_pool_and_keeps_test():
    s = load_dataset("digits", limit=200, val_fraction=0.1, seed=0)
    assert len(s.train) + len(s.val) == 200 and len(s.val) > 0
    assert len(s.test) == 360
    assert set(np.unique(s.train.targets)) == set(range(10))
    s2 = load_dataset("digits", limit=200, val_fraction=0.1, seed=0)
    np.testing.assert_array_equal(s.train.targets, s2.train.targets)
    assert len(load_dataset("digits", limit=7, val_fraction=0.0).train) == 7


def test_stats_constant_matches_train_pool():
    s = load_dataset("digits", val_fraction=0.0)
    mean, std = compute_mean_std(s.train)
    assert DATASET_STATS["digits"][0][0] == pytest.approx(mean[0], abs=1e-4)
    assert DATASET_STATS["digits"][1][0] == pytest.approx(std[0], abs=1e-4)
