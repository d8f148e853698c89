"""iterate_batches: deterministic per (seed, epoch), and DistributedSampler-like shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgevit.data import ArrayDataset, iterate_batches, num_batches
from edgevit.errors import DataError


def _ds(n: int) -> ArrayDataset:
    images = (np.arange(n) % 256).astype(np.uint8)[:, None, None, None].repeat(2, 1).repeat(2, 2)
    return ArrayDataset(images, np.arange(n))


def _targets(**kw) -> list[int]:
    return [t for _, tg in iterate_batches(**kw) for t in tg.tolist()]


def test_batches_types_and_full_coverage():
    ds = _ds(23)
    batches = list(iterate_batches(ds, 5, shuffle=True, seed=0))
    assert [len(t) for _, t in batches] == [5, 5, 5, 5, 3] == [5] * 4 + [3]
    x, t = batches[0]
    assert x.dtype == torch.uint8 and x.shape == (5, 2, 2, 1) and t.dtype == torch.int64
    torch.testing.assert_close(x[:, 0, 0, 0].long(), t % 256)  # images travel with their targets
    assert sorted(_targets(ds=ds, batch_size=5, shuffle=True, seed=0)) == list(range(23))
    assert _targets(ds=ds, batch_size=5, shuffle=False, seed=0) == list(range(23))


def test_deterministic_per_seed_and_epoch():
    ds = _ds(50)
    a = _targets(ds=ds, batch_size=8, shuffle=True, seed=1, epoch=0)
    assert a == _targets(ds=ds, batch_size=8, shuffle=True, seed=1, epoch=0)
    assert a != _targets(ds=ds, batch_size=8, shuffle=True, seed=1, epoch=1)
    assert a != _targets(ds=ds, batch_size=8, shuffle=True, seed=2, epoch=0)


def test_drop_last():
    ds = _ds(23)
    got = list(iterate_batches(ds, 5, shuffle=True, seed=0, drop_last=True))
    assert [len(t) for _, t in got] == [5] * 4 and num_batches(23, 5, drop_last=True) == 4
    assert num_batches(23, 5) == 5


@pytest.mark.parametrize("n", [24, 23, 3])
def test_ranks_get_disjoint_shards_and_equal_batch_counts(n):
    ds, ws = _ds(n), 4
    shards = [_targets(ds=ds, batch_size=2, shuffle=True, seed=3, epoch=2, rank=r, world_size=ws)
              for r in range(ws)]
    counts = [len(list(iterate_batches(ds, 2, True, 3, 2, rank=r, world_size=ws))) for r in range(ws)]
    assert len(set(counts)) == 1 and counts[0] == num_batches(n, 2, world_size=ws)
    assert len({len(s) for s in shards}) == 1
    flat = [t for s in shards for t in s]
    assert set(flat) == set(range(n))  # everything covered
    if n % ws == 0:
        assert len(flat) == n  # and disjoint when it divides evenly
    else:
        assert len(flat) == -(-n // ws) * ws  # padded by wrapping, as DistributedSampler does


def test_sharded_drop_last_is_disjoint():
    ds, ws = _ds(23), 3
    shards = [set(_targets(ds=ds, batch_size=2, shuffle=True, seed=0, drop_last=True, rank=r, world_size=ws))
              for r in range(ws)]
    assert all(not (shards[i] & shards[j]) for i in range(ws) for j in range(i + 1, ws))
    assert all(len(s) == 6 for s in shards)  # 23 // 3 = 7 per rank, then whole batches of 2


def test_bad_arguments():
    with pytest.raises(DataError, match="rank"):
        next(iterate_batches(_ds(4), 2, True, 0, rank=2, world_size=2))
    with pytest.raises(DataError, match="batch_size"):
        next(iterate_batches(_ds(4), 0, True, 0))
