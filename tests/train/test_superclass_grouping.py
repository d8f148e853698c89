"""CIFAR-100's 20 coarse labels grouped into the router's E super-classes (the paper's best E = 10)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import run_cli

from edgevit.checkpoint import read_checkpoint_info
from edgevit.errors import ConfigError
from edgevit.train.superclasses import CIFAR100_COARSE_ORDER, group_coarse_labels, resolve

CIFAR100_COARSE = sorted(CIFAR100_COARSE_ORDER)  # the data set's meta lists them alphabetically
FINE_PER_COARSE = 5


def _fine_to_coarse(seed: int = 0) -> list[int]:
    """100 fine classes, 5 per coarse label, in a shuffled order like the real data set's."""
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(20), FINE_PER_COARSE)).tolist()


@pytest.mark.parametrize("num", [1, 2, 3, 5, 7, 10, 19, 20])
def test_grouping_is_a_balanced_partition_consistent_with_coarse_labels(num: int) -> None:
    coarse_of = _fine_to_coarse()
    groups, names = group_coarse_labels(coarse_of, CIFAR100_COARSE, num)
    assert len(groups) == 100 and len(names) == num
    assert sorted(set(groups)) == list(range(num))  # E groups, none empty
    # fine labels map through their coarse label: one group per coarse label
    group_of_coarse = {}
    for c, g in zip(coarse_of, groups, strict=True):
        assert group_of_coarse.setdefault(c, g) == g
    assert len(group_of_coarse) == 20  # every coarse label assigned
    sizes = np.bincount(list(group_of_coarse.values()), minlength=num)
    assert sizes.max() - sizes.min() <= 1, sizes
    for g, name in enumerate(names):  # the name lists exactly the group's coarse labels
        assert sorted(name.split("+")) == sorted(CIFAR100_COARSE[c] for c, gg in group_of_coarse.items() if gg == g)
    assert group_coarse_labels(coarse_of, CIFAR100_COARSE, num) == (groups, names)  # deterministic


def test_ten_groups_pair_related_coarse_labels() -> None:
    _, names = group_coarse_labels(list(range(20)), CIFAR100_COARSE, 10)
    for pair in ("aquatic_mammals+fish", "vehicles_1+vehicles_2", "insects+non-insect_invertebrates",
                 "large_carnivores+large_omnivores_and_herbivores", "medium_mammals+small_mammals"):
        assert pair in names, names


def test_equal_count_keeps_the_data_sets_labels_and_bad_counts_are_errors() -> None:
    coarse_of = _fine_to_coarse(1)
    assert group_coarse_labels(coarse_of, CIFAR100_COARSE, 20) == (coarse_of, CIFAR100_COARSE)
    other = ["b", "a", "c"]  # not CIFAR-100's names: index order
    assert group_coarse_labels([0, 1, 2, 2], other, 2) == ([0, 0, 1, 1], ["b+a", "c"])
    for bad in (0, 21):
        with pytest.raises(ConfigError, match="num_experts"):
            group_coarse_labels(coarse_of, CIFAR100_COARSE, bad)


def test_resolve_groups_dataset_superclasses_into_the_models_experts() -> None:
    from types import SimpleNamespace

    splits = SimpleNamespace(name="cifar100", labels=[str(i) for i in range(100)], superclasses=_fine_to_coarse(),
                             superclass_names=CIFAR100_COARSE)
    assert resolve("dataset", splits) == (splits.superclasses, CIFAR100_COARSE)
    assert resolve("dataset", splits, 20) == (splits.superclasses, CIFAR100_COARSE)
    groups, names = resolve("dataset", splits, 10)
    assert len(names) == 10 and max(groups) == 9


def test_train_cifar100_router_gets_e_groups(tmp_path, capsys) -> None:
    """End to end: a 20-coarse-label CIFAR-100 and a 4-expert Mobile V-MoE train with 4 super-classes."""
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    coarse_of = np.arange(40) % 20  # two fine classes per coarse label
    rng = np.random.default_rng(0)
    for split, n in (("train", 160), ("test", 40)):
        fine = np.arange(n) % 40
        rows = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        batch = {b"data": rows, b"fine_labels": fine.tolist(), b"coarse_labels": coarse_of[fine].tolist()}
        (root / split).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(40)],
            b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE]}
    (root / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--model", "mobile_vmoe_test", "--data", f"cifar100:{root}", "--epochs", "1",
                            "--batch-size", "16", "--img-size", "16", "--superclasses", "dataset",
                            "--out", str(out)], capsys)
    assert code == 0, err
    saved = read_checkpoint_info(out / "best").meta["superclasses"]
    assert sorted(set(saved["assignment"])) == [0, 1, 2, 3] and len(saved["names"]) == 4
