"""What the commands call: train / pretrain a run end to end, evaluate a checkpoint, derive super-classes.

Kept apart from the typer layer so tests and notebooks can call them directly.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from edgevit.errors import CheckpointError, DataError
from edgevit.runtimes.console import make_console
from edgevit.runtimes.files import atomic_write_text
from edgevit.train import ddp, hardware
from edgevit.train.recipe import TrainArgs
from edgevit.train.run import BEST, prepare

RESULTS_FILE = "results.json"
ARGS_FILE = "args.yaml"


def args_yaml(args: TrainArgs) -> str:
    """The run's resolved arguments as YAML: `edgevit train --config OUT/args.yaml` repeats the run."""
    import yaml

    d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in args.to_dict().items()}
    d["overrides"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d["overrides"].items()}
    d.pop("out", None)  # a repeat goes to a new folder
    return yaml.safe_dump(d, sort_keys=False)


def saved_files(out: Path) -> dict[str, str]:
    """What a finished run left, by what it is (printed at the end, like ultralytics' `Results saved to`)."""
    from edgevit.train.metrics_log import CSV_FILE, METRICS_FILE, TB_DIR

    where = {"best checkpoint": BEST, "last checkpoint": "last", "metrics": METRICS_FILE, "metrics (csv)": CSV_FILE,
             "curves": "curves.png", "expert usage": "expert_usage.png", "confusion matrix": "eval/confusion.png",
             "test report": "eval/eval.json", "tensorboard": TB_DIR, "arguments": ARGS_FILE,
             "results": RESULTS_FILE}
    return {what: str(out / rel) for what, rel in where.items() if (out / rel).exists() or rel == RESULTS_FILE}


def train(args: TrainArgs, given: dict[str, Any] | None = None, resume: bool = False,
          console: Console | None = None) -> dict[str, Any]:
    """Run `edgevit train` / `edgevit pretrain` (args.task) -> results (also written to OUT/results.json)."""
    from edgevit.train.loop import Trainer

    console = console or make_console()
    d = ddp.setup(args.device)
    try:
        t0 = time.perf_counter()
        local = int(os.environ.get("LOCAL_WORLD_SIZE", d.world_size))
        hardware.set_threads(args.threads or hardware.default_threads(local))
        run = prepare(args, given, resume, d)
        warn = hardware.oversubscription(torch.get_num_threads(), local) if d.is_main else None
        if warn:  # after the checks: a start that fails says only why
            console.print(f"[yellow]warning:[/] {warn}", highlight=False)
        if d.is_main:  # the start is valid: the run folder may now appear, with the resolved arguments
            atomic_write_text(run.out / ARGS_FILE, args_yaml(run.args))
        quiet = Console(quiet=True)
        trainer = Trainer(run, d, console if d.is_main else quiet)
        if d.is_main:
            what = "pre-training (MAE)" if run.args.task == "mae" else "training"
            n = sum(p.numel() for p in run.model.parameters())
            start = f", resuming after epoch {trainer.start_epoch}" if run.state else ""
            console.print(f"{what} [bold]{run.model.config.name}[/] ({n / 1e6:.3f}M params, {run.model.config.img_size}px) "
                          f"on [bold]{run.splits.name}[/] ({len(run.splits.train.targets)} train / "
                          f"{len(run.splits.val.targets)} val), {run.args.epochs} epochs, {d.world_size} process(es) "
                          f"on {d.device}{start} -> {run.out}", highlight=False)
            if trainer.warmup < round(run.args.warmup_epochs * trainer.spe):
                console.print(f"note: warm-up shortened to {trainer.warmup} steps (a fifth of this "
                              f"{run.args.epochs}-epoch run) so the learning rate still decays", highlight=False)
        if resume and run.state is None and d.is_main:
            console.print(f"nothing to resume in {run.out}: starting a new run", highlight=False)
        try:
            fit = trainer.fit()
        except KeyboardInterrupt:
            if d.is_main and (run.out / "last").is_dir():
                console.print(f"stopped; continue with: edgevit {'pretrain' if run.args.task == 'mae' else 'train'} "
                              f"--out {run.out} --resume", highlight=False)
            raise
        results = finish(trainer, fit, time.perf_counter() - t0) if d.is_main else {}
        ddp.barrier(d)
        return results
    finally:
        ddp.teardown(d)


def finish(trainer, fit: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """Rank 0 after the last epoch: test the best checkpoint, draw the plots, write results.json."""
    from edgevit.checkpoint import load_state_dict
    from edgevit.train import plots
    from edgevit.train.evaluate import evaluate, write_report

    run, a = trainer.run, trainer.run.args
    out, best = run.out, run.out / BEST
    recs = list(fit["records"])
    results: dict[str, Any] = {"checkpoint": str(best), "out": str(out), "best_epoch": fit["best_epoch"],
                               "epochs": a.epochs, "epochs_done": recs[-1]["epoch"] if recs else 0,
                               "stopped_early": fit.get("stopped_early"),
                               "wall_s": round(wall_s, 1), "model": run.model.config.name, "data": a.data,
                               "train_img_s": (sum(r["img_s"] for r in recs) / len(recs)) if recs else None}
    results.update({"train_seconds": round(fit["train_seconds"], 1), "epochs_done": round(fit["epochs_done"], 3),
                    "recipe": a.recipe, "threads": torch.get_num_threads(),
                    "weights": "ema" if trainer.ema is not None else "trained"})
    if a.task == "classify":
        model = trainer.eval_model()  # the object best/ is saved from: the EMA when it is on
        model.load_state_dict(load_state_dict(best))
        split = run.splits.test if run.splits.test is not None else run.splits.val
        res = evaluate(model, split, run.preprocess, len(run.labels), a.eval_batch_size, trainer.d.device,
                       usage=bool(run.model.moe_modules()))
        results.update({"test_split": "test" if run.splits.test is not None else "val", "test_acc": res["accuracy"],
                        "best_val_acc": fit["best_score"]})
        best_metrics = next((r for r in recs if r["epoch"] == fit["best_epoch"]), {})
        metrics = {k: v for k, v in best_metrics.items() if k != "expert_usage"}
        metrics.update(test_acc=res["accuracy"])
        trainer._save(BEST, fit["best_epoch"], metrics, with_state=False)
        _try(trainer.console, write_report, res, run.labels, out / "eval",
             {"model": run.model.config.name, "data": a.data, "split": results["test_split"], "checkpoint": str(best)})
        if "expert_usage" in res:
            _try(trainer.console, plots.plot_expert_usage, res["expert_usage"], out / "expert_usage.png",
                 f"{run.model.config.name}: expert usage on {results['test_split']}")
    else:
        results["best_val_masked_loss"] = -fit["best_score"]
    if recs:
        _try(trainer.console, plots.plot_curves, recs, out / "curves.png", f"{run.model.config.name} on {a.data}")
    results["files"] = saved_files(out)
    atomic_write_text(out / RESULTS_FILE, json.dumps(results, indent=1) + "\n")
    return results


def _try(console: Console, fn, *args) -> None:
    try:
        fn(*args)
    except Exception as e:  # a plot must never cost a finished run
        console.print(f"[yellow]warning:[/] could not write {fn.__name__}: {e}", highlight=False)


def evaluate_checkpoint(ckpt: str | Path, data: str | None, split: str = "test", out: str | Path | None = None,
                        batch_size: int = 256, limit: int | None = None, device: str = "auto") -> dict[str, Any]:
    """`edgevit eval`: accuracy, per-class accuracy, confusion (eval.json + confusion.png in `out`)."""
    from edgevit.checkpoint import load_checkpoint
    from edgevit.data import load_dataset
    from edgevit.train.evaluate import evaluate, write_report

    model, info = load_checkpoint(ckpt)
    data = data or info.dataset
    same = info.data is not None and info.data.spec == data  # its own dataset: rebuild the split it held out
    splits = load_dataset(data, val_fraction=info.data.val_fraction if same else 0.1,
                          seed=info.data.seed if same else 0, limit=limit)
    ds = {"test": splits.test, "val": splits.val, "train": splits.train}.get(split)
    if split not in ("test", "val", "train"):
        raise DataError(f"--split must be test, val or train, got {split!r}")
    if ds is None:
        raise DataError(f"dataset {data!r} has no {split} split")
    labels = [str(x) for x in splits.labels]
    if len(labels) != len(info.labels):
        raise CheckpointError(f"{ckpt} predicts {len(info.labels)} classes but {data!r} has {len(labels)}")
    dev = ddp.pick_device(device)
    res = evaluate(model.to(dev), ds, info.preprocess, len(labels), batch_size, dev,
                   usage=bool(model.moe_modules()))
    out = Path(out) if out else Path(ckpt) / "eval" / f"{splits.name}-{split}"
    extra = {"model": info.model_name, "checkpoint": str(ckpt), "data": data, "split": split}
    paths = write_report(res, info.labels, out, extra)
    return {**extra, **res, "labels": info.labels, "report": str(paths["json"]), "confusion_png": str(paths["png"])}


def derive_superclasses(ckpt: str | Path, data: str | None, num: int, out: str | Path | None = None,
                        device: str = "auto") -> dict[str, Any]:
    """`edgevit superclasses`: cluster the dense model's confusion on the held-out split into `num` groups."""
    from edgevit.checkpoint import TrainData, load_checkpoint
    from edgevit.data import load_dataset
    from edgevit.train import superclasses as sc
    from edgevit.train.evaluate import evaluate

    model, info = load_checkpoint(ckpt)
    data = data or info.dataset
    trained = info.data or TrainData()
    # the split the dense model never trained on: same seed and fraction as its training run
    splits = load_dataset(data, val_fraction=trained.val_fraction, seed=trained.seed)
    labels = [str(x) for x in splits.labels]
    if labels != info.labels:
        raise CheckpointError(f"{ckpt} was trained on other classes than {data!r}")
    dev = ddp.pick_device(device)
    res = evaluate(model.to(dev), splits.val, info.preprocess, len(labels), device=dev)
    import numpy as np

    assignment = sc.cluster_confusion(np.asarray(res["confusion"]), num)
    data_out = sc.to_json(assignment, labels, {"checkpoint": str(ckpt), "model": info.model_name, "data": data,
                                               "split": "val", "val_accuracy": res["accuracy"],
                                               "confusion": res["confusion"]})
    path = Path(out) if out else Path(ckpt) / sc.SUPERCLASSES_FILE
    if path.is_dir():
        path = path / sc.SUPERCLASSES_FILE
    sc.write_superclasses(path, data_out)
    return {**data_out, "path": str(path)}
