"""The dataset layer: dataset specs -> in-memory uint8 splits, batching, and the torch preprocessing mirror.

`load_dataset`, the containers and `default_preprocess` are torch-free; `BatchTransform` and `iterate_batches`
import torch on first use. `evalset` turns a dataset spec into the one eval-set type
(`edgevit.runtimes.evalset.EvalSet`) for `edgevit bench` and the exporter; `edgevit.runtimes` never imports this
package (a device reads only the shipped digits or an .npz).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgevit.data.base import ArrayDataset, DatasetSplits, stratified_split
from edgevit.data.config import AugmentConfig, suggested_augment
from edgevit.data.specs import DEFAULT_DATASET, dataset_name, describe_datasets, list_datasets, load_dataset
from edgevit.data.stats import DATASET_STATS, compute_mean_std, default_preprocess

if TYPE_CHECKING:
    from edgevit.data.loader import iterate_batches, num_batches, shard_indices
    from edgevit.data.transforms import BatchTransform

_LAZY = {
    "BatchTransform": "edgevit.data.transforms",
    "iterate_batches": "edgevit.data.loader",
    "num_batches": "edgevit.data.loader",
    "shard_indices": "edgevit.data.loader",
}

__all__ = [
    "DATASET_STATS",
    "DEFAULT_DATASET",
    "ArrayDataset",
    "AugmentConfig",
    "BatchTransform",
    "DatasetSplits",
    "compute_mean_std",
    "dataset_name",
    "default_preprocess",
    "describe_datasets",
    "iterate_batches",
    "list_datasets",
    "load_dataset",
    "num_batches",
    "shard_indices",
    "stratified_split",
    "suggested_augment",
]


def __getattr__(name: str) -> Any:
    """Import the torch-side names on first use, so `import edgevit.data` stays torch-free."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgevit.data' has no attribute {name!r}")
