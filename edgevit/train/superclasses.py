"""Super-classes for Mobile V-MoE's router (PAPERS.md section 2).

From the dataset when it has them (CIFAR-100's 20 coarse labels), otherwise from a trained dense model: its
confusion matrix on the held-out validation split, symmetrised into a class graph (classes the model confuses
are close), cut into N groups by spectral clustering. `superclasses.json` carries the result to `train`.

The router predicts the super-class, so it needs one expert per super-class, and the paper found E = 10 best
(router accuracy falls beyond it). A data set with more coarse labels than the model has experts (CIFAR-100:
20) has them merged into E groups (`group_coarse_labels`), rather than the model being forced to E = 20.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ConfigError, DataError
from edgevit.runtimes.files import atomic_write_text

SUPERCLASSES_FILE = "superclasses.json"


def cluster_confusion(confusion: np.ndarray, num: int, seed: int = 0) -> list[int]:
    """Class -> group (0..num-1) from a confusion matrix (rows true, columns predicted).

    Affinity: the row-normalised confusion rates, symmetrised (A + A^T) / 2, diagonal dropped, plus a small floor
    so the graph is connected (classes never confused still get assigned). Our choice of a faithful stand-in for
    the paper's graph clustering.
    """
    from sklearn.cluster import SpectralClustering

    c = np.asarray(confusion, dtype=np.float64)
    n = c.shape[0]
    if not 2 <= num <= n:
        raise ConfigError(f"--num must be between 2 and the number of classes ({n}), got {num}")
    rates = c / np.maximum(c.sum(1, keepdims=True), 1.0)
    aff = (rates + rates.T) / 2.0
    np.fill_diagonal(aff, 0.0)
    aff = aff + 1e-3 * (aff.max() if aff.max() > 0 else 1.0)
    np.fill_diagonal(aff, 0.0)
    sc = SpectralClustering(n_clusters=num, affinity="precomputed", random_state=seed, assign_labels="discretize")
    groups = sc.fit_predict(aff)
    # number groups by their smallest class index so the file reads naturally and is deterministic
    order = {g: i for i, g in enumerate(dict.fromkeys(int(x) for x in groups))}
    out = [order[int(g)] for g in groups]
    if len(set(out)) != num:
        raise ConfigError(f"spectral clustering found only {len(set(out))} non-empty groups for --num {num}")
    return out


# CIFAR-100's 20 coarse labels in an order where neighbours are alike (ours; the paper grouped ImageNet by a
# confusion graph): E contiguous, balanced runs of it are the E groups. E = 10 pairs land mammals, water life,
# invertebrates, plants, outdoor scenery, vehicles, household objects, man-made structures; E = 5 gives land
# mammals, other animals, nature, people/reptiles/vehicles, man-made things.
CIFAR100_COARSE_ORDER = (
    "large_carnivores", "large_omnivores_and_herbivores", "medium_mammals", "small_mammals",
    "aquatic_mammals", "fish", "insects", "non-insect_invertebrates",
    "flowers", "fruit_and_vegetables", "trees", "large_natural_outdoor_scenes",
    "reptiles", "people", "vehicles_1", "vehicles_2",
    "food_containers", "household_electrical_devices", "household_furniture", "large_man-made_outdoor_things",
)


def group_coarse_labels(coarse_of: list[int], coarse_names: list[str], num: int) -> tuple[list[int], list[str]]:
    """Merge a data set's coarse labels into `num` groups -> (fine class -> group, group names).

    Deterministic and balanced: the coarse labels, in `CIFAR100_COARSE_ORDER` when they are CIFAR-100's and in
    index order otherwise, are cut into `num` contiguous runs whose sizes differ by at most one; a group is named
    by its coarse labels joined with '+'. `num` equal to the number of coarse labels keeps them as they are.
    """
    n = len(coarse_names)
    if not 1 <= num <= n:
        raise ConfigError(f"cannot group {n} super-classes into {num}: a super-class router needs 1..{n} experts "
                          f"(pass --set num_experts=N with N <= {n})")
    if min(coarse_of, default=0) < 0 or max(coarse_of, default=0) >= n:
        raise DataError(f"super-class ids must be in 0..{n - 1}")
    if num == n:
        return [int(c) for c in coarse_of], list(coarse_names)
    known = sorted(coarse_names) == sorted(CIFAR100_COARSE_ORDER)
    order = [coarse_names.index(c) for c in CIFAR100_COARSE_ORDER] if known else list(range(n))
    group_of = [0] * n
    for pos, c in enumerate(order):
        group_of[c] = pos * num // n
    names = ["+".join(coarse_names[c] for c in order if group_of[c] == g) for g in range(num)]
    return [group_of[int(c)] for c in coarse_of], names


def to_json(assignment: list[int], labels: list[str], source: dict[str, Any],
            names: list[str] | None = None) -> dict[str, Any]:
    num = max(assignment) + 1
    return {
        "num_superclasses": num,
        "assignment": assignment,
        "labels": labels,
        "names": names or [f"group{g}" for g in range(num)],
        "groups": [[lab for lab, g in zip(labels, assignment, strict=True) if g == k] for k in range(num)],
        "source": source,
    }


def write_superclasses(path: Path, data: dict[str, Any]) -> Path:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return path


def read_superclasses(path: Path, labels: list[str]) -> tuple[list[int], list[str]]:
    """Load superclasses.json and check it fits the dataset's classes -> (class -> group, group names)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        assignment = [int(g) for g in data["assignment"]]
        names = [str(s) for s in data.get("names", [])]
    except FileNotFoundError:
        raise DataError(f"super-class file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not a valid {SUPERCLASSES_FILE}: {e!r}") from None
    if len(assignment) != len(labels):
        raise DataError(f"{path} assigns {len(assignment)} classes but the dataset has {len(labels)}")
    file_labels = data.get("labels")
    if file_labels and [str(x) for x in file_labels] != list(labels):
        raise DataError(f"{path} was made for other classes ({file_labels[:3]}...) than this dataset's ({labels[:3]}...)")
    num = max(assignment) + 1
    if min(assignment) < 0 or sorted(set(assignment)) != list(range(num)):
        raise DataError(f"{path}: super-class ids must be 0..N-1 with every group used")
    return assignment, names or [f"group{g}" for g in range(num)]


def resolve(spec: str | None, splits, num_experts: int | None = None) -> tuple[list[int], list[str]] | None:
    """`--superclasses dataset` (the dataset's own, merged into `num_experts` groups when given and fewer) or a
    superclasses.json path (used as it is); None when not asked for."""
    if not spec:
        return None
    if spec == "dataset":
        if not splits.superclasses:
            raise DataError(f"dataset {splits.name!r} has no super-classes: make some with `edgevit superclasses`")
        names = list(splits.superclass_names or [f"group{g}" for g in range(max(splits.superclasses) + 1)])
        coarse = [int(g) for g in splits.superclasses]
        if num_experts is None or num_experts == len(names):
            return coarse, names
        return group_coarse_labels(coarse, names, num_experts)
    p = Path(spec)
    return read_superclasses(p / SUPERCLASSES_FILE if p.is_dir() else p, list(splits.labels))
