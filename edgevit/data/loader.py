"""Deterministic, shardable batches straight from an in-memory ArrayDataset.

Why not torch's DataLoader: the data is already a uint8 array in memory, so a permutation and fancy indexing
is all batching needs; workers would only add start-up time. The order depends only on (seed, epoch), and the
sharding follows DistributedSampler (pad by wrapping, then rank::world_size) so every rank gets the same
number of batches and DDP never waits on a rank that ran out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from edgevit.data.base import ArrayDataset
from edgevit.errors import DataError


def shard_indices(n: int, shuffle: bool, seed: int, epoch: int = 0, drop_last: bool = False, rank: int = 0,
                  world_size: int = 1) -> np.ndarray:
    """This rank's sample indices for one epoch (DistributedSampler's rule)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise DataError(f"rank {rank} is outside world_size {world_size}")
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    if drop_last and n >= world_size:
        total = (n // world_size) * world_size
        order = order[:total]
    else:
        total = math.ceil(n / world_size) * world_size
        if total > n and n > 0:  # pad by wrapping around so every rank has the same count
            order = np.concatenate([order, np.resize(order, total - n)])
    return order[rank::world_size]


def num_batches(n: int, batch_size: int, drop_last: bool = False, world_size: int = 1) -> int:
    """Batches per rank per epoch for a dataset of n samples (for progress bars and schedulers)."""
    per_rank = n // world_size if drop_last and n >= world_size else math.ceil(n / world_size)
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)


def iterate_batches(ds: ArrayDataset, batch_size: int, shuffle: bool, seed: int, epoch: int = 0,
                    drop_last: bool = False, rank: int = 0, world_size: int = 1
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (uint8 images (B, H, W, C), int64 targets (B,)) tensors; `drop_last` also drops a short batch.

    With world_size > 1 and no drop_last, a few samples are repeated to even out the shards (as
    DistributedSampler does), so exact evaluation should run on one rank or de-duplicate.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    idx = shard_indices(len(ds), shuffle, seed, epoch, drop_last, rank, world_size)
    stop = len(idx) - len(idx) % batch_size if drop_last else len(idx)
    for start in range(0, stop, batch_size):
        sel = idx[start:start + batch_size]
        yield torch.from_numpy(ds.images[sel]), torch.from_numpy(ds.targets[sel])
