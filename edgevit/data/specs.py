"""Dataset specs (`digits`, `fashion-mnist[:DIR]`, `cifar10:DIR`, `cifar100:DIR`, `imagefolder:DIR`) -> splits.

The one entry point the CLI, training, export and bench use, so every command accepts the same `--data` values
and fails the same way (one DataError line listing what is valid).
"""

from __future__ import annotations

from pathlib import Path

from edgevit.data.base import DatasetSplits, SourceData, make_splits
from edgevit.errors import DataError

DEFAULT_DATASET = "digits"
# name -> (needs DIR: True | False | None = optional, one-line description)
DATASETS: dict[str, tuple[bool | None, str]] = {
    "digits": (False, "scikit-learn's bundled 8x8 digits (default, instant)"),
    "fashion-mnist": (None, "Fashion-MNIST 28x28 from Debian's dataset-fashion-mnist, or fashion-mnist:DIR"),
    "cifar10": (True, "CIFAR-10 python batches (cifar-10-batches-py or its parent)"),
    "cifar100": (True, "CIFAR-100 python batches (cifar-100-python or its parent), 20 super-classes"),
    "imagefolder": (True, "DIR/<class>/*.png|jpg, or DIR/train/<class>/ and DIR/test/<class>/"),
}
ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
           "cifar-10": "cifar10", "cifar_10": "cifar10", "cifar-100": "cifar100", "cifar_100": "cifar100",
           "image-folder": "imagefolder", "image_folder": "imagefolder", "folder": "imagefolder"}


def list_datasets() -> list[str]:
    """Spec forms for --help text: ['digits', 'fashion-mnist', 'fashion-mnist:DIR', 'cifar10:DIR', ...]."""
    out = []
    for name, (needs_dir, _) in DATASETS.items():
        if needs_dir is not True:
            out.append(name)
        if needs_dir is not False:
            out.append(f"{name}:DIR")
    return out


def describe_datasets() -> dict[str, str]:
    """name -> one-line description, for a `datasets` listing."""
    return {name: desc for name, (_, desc) in DATASETS.items()}


def _valid() -> str:
    return ", ".join(list_datasets())


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'cifar10:~/data' -> ('cifar10', '~/data'); checks the name and whether a DIR is needed."""
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"empty dataset spec; valid: {_valid()}")
    raw_name, sep, arg = spec.strip().partition(":")
    name = ALIASES.get(raw_name.lower(), raw_name.lower())
    if name not in DATASETS:
        hint = f" (a folder? try imagefolder:{spec})" if Path(spec).expanduser().is_dir() else ""
        raise DataError(f"unknown dataset {spec!r}{hint}; valid: {_valid()}")
    needs_dir = DATASETS[name][0]
    arg = arg.strip() or None
    if needs_dir is True and arg is None:
        raise DataError(f"dataset {name!r} needs a folder: {name}:DIR ({DATASETS[name][1]})")
    if needs_dir is False and (sep or arg):
        raise DataError(f"dataset {name!r} takes no folder (got {spec!r})")
    return name, arg


def dataset_name(spec_or_splits: str | DatasetSplits) -> str:
    """The canonical name of a spec ('cifar10:/x' -> 'cifar10') or of loaded splits."""
    if isinstance(spec_or_splits, DatasetSplits):
        return spec_or_splits.name
    return parse_spec(spec_or_splits)[0]


def _load_source(name: str, arg: str | None) -> SourceData:
    if name == "digits":
        from edgevit.data.digits import load_digits_source

        return load_digits_source()
    if name == "fashion-mnist":
        from edgevit.data.fashion_mnist import load_fashion_mnist_source

        return load_fashion_mnist_source(arg)
    if name == "cifar10":
        from edgevit.data.cifar import load_cifar10_source

        return load_cifar10_source(arg or "")
    if name == "cifar100":
        from edgevit.data.cifar import load_cifar100_source

        return load_cifar100_source(arg or "")
    from edgevit.data.imagefolder import load_imagefolder_source

    return load_imagefolder_source(arg or "")


def load_dataset(spec: str = DEFAULT_DATASET, val_fraction: float = 0.1, seed: int = 0,
                 limit: int | None = None) -> DatasetSplits:
    """Load a dataset spec into train / val / test uint8 arrays.

    `val_fraction` of train (per class, seeded by `seed`) is held out as val; `limit` caps the train pool
    (train + val, a seeded stratified subset) for fast tests and benchmarks; the test split is never cut.
    Nothing is downloaded: a missing or malformed source raises DataError naming the spec or path.
    """
    name, arg = parse_spec(spec)
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    try:
        src = _load_source(name, arg)
    except (DataError, MemoryError):
        raise
    except OSError as e:  # permissions, vanished files, full disk mid-read
        raise DataError(f"cannot read dataset {spec!r}: {e}") from None
    if len(src.train) == 0:
        raise DataError(f"dataset {spec!r} has no training images")
    return make_splits(name, spec, src, val_fraction, seed, limit)
