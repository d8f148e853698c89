"""Set up a training run from its arguments: data, model (fresh, `--init`, or `--resume`), super-classes.

Everything that can fail on bad input (unknown model/dataset, incompatible `--init`, bad super-classes, an
unreadable checkpoint) happens here, before the output directory is touched, so a failed start writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from edgevit.checkpoint import load_checkpoint, read_checkpoint_info
from edgevit.errors import ConfigError
from edgevit.runtimes.files import not_a_folder, recover_dir
from edgevit.train import recipe
from edgevit.train.ddp import Dist
from edgevit.train.recipe import TrainArgs
from edgevit.train.rundir import run_dir
from edgevit.train.state import load_train_state

LAST, BEST = "last", "best"


@dataclass
class Run:
    args: TrainArgs
    out: Path
    splits: Any  # edgevit.data.DatasetSplits
    model: torch.nn.Module
    preprocess: Any  # Preprocess
    labels: list[str]
    superclasses: tuple[list[int], list[str]] | None = None
    state: dict[str, Any] | None = None  # train_state.pt of the run being resumed
    init_info: dict[str, Any] = field(default_factory=dict)


def resolve_args(args: TrainArgs, given: dict[str, Any], resume: bool) -> tuple[TrainArgs, Path, Path | None]:
    """Apply defaults and, for --resume, the saved run's args -> (args, out dir, checkpoint to resume or None).
    Without --out the folder is runs/<data>-<model> or --name, numbered so a new run never meets an old one."""
    out = run_dir(args.out, args.name, args.data, args.model_name(), args.task, resume)
    why = not_a_folder(out)
    if why:
        raise ConfigError(f"--out {out}: {why}")
    last = out / LAST
    if out.is_dir():
        recover_dir(last)
    if resume and (last / "train_state.pt").is_file():
        merged = recipe.merge_for_resume(recipe.saved_args(last), given)
        merged.out = str(out)
        return merged, out, last
    if not resume and last.exists():
        raise ConfigError(f"{out} already holds a training run: pass --resume to continue it, or choose another --out")
    args.out = str(out)
    return args, out, None


def model_config(args: TrainArgs, num_classes: int, native_size: int | None = None):
    """The config for a new run: --init's model (or --model / the default), with --img-size and --set applied.

    `--img-size native` (the small-data recipes) is the dataset's own side, `native_size`."""
    from edgevit.registry import create_config

    overrides = dict(args.overrides)
    if args.img_size is None and args.model is None and args.init is None:
        size = recipe.DEFAULT_IMG_SIZE.get((recipe.DEFAULT_MODEL, args.data.split(":", 1)[0]))
        if size:
            overrides.setdefault("img_size", size)
    elif args.img_size == "native":
        if native_size is None:
            raise ConfigError("--img-size native needs a dataset of one image size")
        overrides["img_size"] = native_size
    elif args.img_size is not None:
        overrides["img_size"] = int(args.img_size)
    overrides["num_classes"] = num_classes
    if args.init and args.model is None:
        return read_checkpoint_info(args.init).config.replace(**overrides)
    return create_config(args.model_name(), **overrides)


def prepare(args: TrainArgs, given: dict[str, Any] | None = None, resume: bool = False, d: Dist | None = None) -> Run:
    from edgevit.data import default_preprocess, load_dataset
    from edgevit.registry import build_model
    from edgevit.train import superclasses as sc
    from edgevit.train.losses import check_superclasses
    from edgevit.train.transfer import load_init_weights

    d = d or Dist()
    args, out, resume_from = resolve_args(args, given or {}, resume)
    if args.task not in ("classify", "mae"):
        raise ConfigError(f"unknown task {args.task!r}")
    args.check()
    if args.batch_size % d.world_size:
        raise ConfigError(f"--batch-size {args.batch_size} must be a multiple of the {d.world_size} processes")
    splits = load_dataset(args.data, val_fraction=args.val_fraction, seed=args.seed, limit=args.limit)
    labels = [str(x) for x in splits.labels]
    state, init_info, pre = None, {}, None
    if resume_from is not None:
        model, info = load_checkpoint(resume_from, eval_mode=False)
        if info.labels != labels:
            raise ConfigError(f"{resume_from} was trained on other classes than {args.data!r}")
        state, pre = load_train_state(resume_from), info.preprocess
    else:
        cfg = model_config(args, len(labels), min(splits.image_size))
        torch.manual_seed(args.seed)
        model = build_model(cfg)
        if args.init:
            init_info = load_init_weights(model, args.init)
    experts = getattr(model.config, "num_experts", None)  # dataset super-classes are grouped into E
    supers = sc.resolve(args.superclasses, splits, experts) if args.task == "classify" else None
    if supers is not None:
        check_superclasses(model, supers[0], len(labels))
    pre = pre or default_preprocess(splits, model.config.img_size, model.config.in_chans)
    return Run(args, out, splits, model.to(d.device), pre, labels, supers, state, init_info)
