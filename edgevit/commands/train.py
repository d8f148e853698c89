"""`edgevit train`, `edgevit pretrain` (MAE), `edgevit eval`, `edgevit superclasses`.

Options default to None so `--resume` can tell what was given explicitly; the plain defaults live in
`edgevit.train.recipe.TrainArgs`, the named recipes (`--recipe`) in `edgevit.train.recipes`, and a flag given
always wins over the recipe. Multi-process: `torchrun --nproc-per-node N -m edgevit train ...`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

# typer options shared by train and pretrain
MODEL = typer.Option(None, "--model", "-m", help="Registered model name (default: mmoe_vit_xxs); see `edgevit models`.")
DATA = typer.Option(None, "--data", "-d", help="digits | fashion-mnist[:DIR] | cifar10:DIR | cifar100:DIR | imagefolder:DIR")
OUT = typer.Option(None, "--out", "-o", help="Run folder, exactly (default: runs/NAME).")
NAME = typer.Option(None, "--name", "-n", help="Run name under runs/ (default DATA-MODEL); numbered -2, -3... "
                    "so runs never collide.")
PATIENCE = typer.Option(None, "--patience", help="Stop after this many epochs without a better val score (0: off).")
TBOARD = typer.Option(None, "--tensorboard/--no-tensorboard", help="Also log to RUN/tensorboard (extra: tb).")
CONFIG = typer.Option(None, "--config", help="YAML of arguments (a run's args.yaml repeats it); flags win.")
JSON_OUT = typer.Option(False, "--json", help="Print the results as JSON on stdout (progress goes to stderr).")
EPOCHS = typer.Option(None, help="Epochs (default 30).")
BATCH = typer.Option(None, "--batch-size", "-b", help="Global batch size, split across processes (default 64).")
LR = typer.Option(None, help="Peak AdamW learning rate after warm-up (default 2e-3).")
WD = typer.Option(None, "--weight-decay", help="AdamW weight decay (default 0.05).")
WARMUP = typer.Option(None, "--warmup-epochs", help="Linear warm-up epochs before cosine decay (default 2; capped at a fifth of the run).")
CLIP = typer.Option(None, "--clip-grad", help="Gradient-norm clipping, 0 = off (default 1.0).")
SEED = typer.Option(None, help="Seed for init, split, data order and augmentation (default 0).")
IMG = typer.Option(None, "--img-size", help="Override the model's input size, or 'native' (the dataset's size); recorded in config.json.")
RECIPE = typer.Option(None, "--recipe", "-r", help="Named recipe: default | small-data-vit | cct | cpu-fast | mae (see edgevit.train.recipes); flags override its values.")
LR_BATCH = typer.Option(None, "--lr-batch", help="The batch size --lr is stated for; other batch sizes scale it (default: no scaling).")
LR_SCALING = typer.Option(None, "--lr-scaling", help="sqrt (default, timm's rule for AdamW) | linear.")
MIN_LR = typer.Option(None, "--min-lr", help="Learning rate at the end of the cosine (default 1e-5).")
CROP = typer.Option(None, "--crop-padding", help="Random crop after padding by this many pixels (default: the dataset's suggestion).")
HFLIP = typer.Option(None, "--hflip/--no-hflip", help="Random horizontal flips (default: the dataset's suggestion).")
THREADS = typer.Option(None, "--threads", help="torch intra-op threads (default: OMP_NUM_THREADS, else cores / processes).")
AMP = typer.Option(None, "--amp", help="auto (bf16/fp16 autocast on CUDA, off on CPU) | off | bf16 | fp16.")
COMPILE = typer.Option(None, "--compile/--no-compile", help="torch.compile the training forward (+7% on this CPU).")
BUDGET = typer.Option(None, "--budget-minutes", help="Train for this wall time instead of --epochs; the lr schedule runs on time.")
SET = typer.Option(None, "--set", help="Model config override key=value (repeatable), e.g. --set drop_path_rate=0.1.")
AUG = typer.Option(None, "--augment", help="auto (the dataset's suggested augmentations) | none.")
INIT = typer.Option(None, "--init", help="Start from this checkpoint's weights (MAE encoder or another dataset).")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out from its last completed epoch.")
VALF = typer.Option(None, "--val-fraction", help="Share of train held out for validation (default 0.1).")
LIMIT = typer.Option(None, "--limit", help="Use at most this many training images (train + val; quick tries).")
DEVICE = typer.Option(None, "--device", help="auto | cpu | cuda (default auto).")


def _given(**kw: Any) -> dict[str, Any]:
    from edgevit.train.recipe import parse_overrides

    kw["overrides"] = parse_overrides(kw.pop("set_", None)) or None
    return {k: v for k, v in kw.items() if v is not None}


def _img_size(value: str | None) -> int | str | None:
    if value is None or value == "native":
        return value
    try:
        return int(value)
    except ValueError:
        from edgevit.errors import ConfigError

        raise ConfigError(f"--img-size is a number of pixels or 'native', got {value!r}") from None


def _run(given: dict[str, Any], resume: bool, config: Path | None, as_json: bool) -> dict[str, Any]:
    from edgevit.runtimes.console import make_console
    from edgevit.train.api import train as run_train
    from edgevit.train.recipes import build_args

    if config is not None:
        from edgevit.train.config_file import load_run_config

        given = {**load_run_config(config), **given}
    if "img_size" in given:
        given["img_size"] = _img_size(given["img_size"])
    return run_train(build_args(given), given, resume, console=make_console(stderr=as_json))


def _report(res: dict[str, Any], summary: str, next_step: str, as_json: bool) -> None:
    """The end of a run: one summary line, where everything is, and the next command (or all of it as JSON)."""
    if as_json:
        typer.echo(json.dumps(res, indent=1))
        return
    typer.echo(f"\n{summary}")
    typer.echo(f"results saved to {res['out']}")
    files = res.get("files") or {}
    width = max((len(k) for k in files), default=0)
    for what, path in files.items():
        typer.echo(f"  {what:<{width}}  {path}")
    typer.echo(f"next: {next_step}")


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        model: str | None = MODEL,
        recipe: str | None = RECIPE,
        data: str | None = DATA,
        out: Path | None = OUT,
        epochs: int | None = EPOCHS,
        batch_size: int | None = BATCH,
        lr: float | None = LR,
        weight_decay: float | None = WD,
        warmup_epochs: float | None = WARMUP,
        label_smoothing: float | None = typer.Option(
            None, "--label-smoothing", help="Cross-entropy label smoothing (default 0.1)."),
        clip_grad: float | None = CLIP,
        seed: int | None = SEED,
        img_size: str | None = IMG,
        set_: list[str] | None = SET,
        augment: str | None = AUG,
        lr_batch: int | None = LR_BATCH,
        lr_scaling: str | None = LR_SCALING,
        min_lr: float | None = MIN_LR,
        crop_padding: int | None = CROP,
        hflip: bool | None = HFLIP,
        trivial_augment: bool | None = typer.Option(
            None, "--trivial-augment/--no-trivial-augment", help="Light TrivialAugment (default: the dataset's suggestion)."),
        randaugment: int | None = typer.Option(
            None, "--randaugment", help="kornia RandAugment magnitude 1..29 (n=2 ops), 0 = off."),
        random_erasing: float | None = typer.Option(
            None, "--random-erasing", help="Probability of erasing one rectangle per image."),
        mixup: float | None = typer.Option(None, "--mixup", help="Mixup Beta alpha, 0 = off (CCT: 0.8)."),
        cutmix: float | None = typer.Option(None, "--cutmix", help="CutMix Beta alpha, 0 = off (CCT: 1.0)."),
        mix_prob: float | None = typer.Option(None, "--mix-prob", help="Share of batches mixed (default 1.0)."),
        ema: float | None = typer.Option(
            None, "--ema", help="EMA decay of the weights (e.g. 0.999), 0 = off; the EMA is validated and saved as best."),
        threads: int | None = THREADS,
        amp: str | None = AMP,
        compile_: bool | None = COMPILE,
        budget_minutes: float | None = BUDGET,
        superclasses: str | None = typer.Option(
            None, "--superclasses", help="Mobile V-MoE router targets: 'dataset' or a superclasses.json."),
        init: Path | None = INIT,
        resume: bool = RESUME,
        val_fraction: float | None = VALF,
        limit: int | None = LIMIT,
        device: str | None = DEVICE,
        name: str | None = NAME,
        patience: int | None = PATIENCE,
        tensorboard: bool | None = TBOARD,
        config: Path | None = CONFIG,
        as_json: bool = JSON_OUT,
    ) -> None:
        """Train a model on a dataset (no arguments: the quick start, mmoe_vit_xxs on digits in a minute or two)."""
        given = _given(model=model, recipe=recipe, data=data, out=None if out is None else str(out), epochs=epochs,
                       batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs,
                       label_smoothing=label_smoothing, clip_grad=clip_grad, seed=seed, img_size=img_size, set_=set_,
                       augment=augment, lr_batch=lr_batch, lr_scaling=lr_scaling, min_lr=min_lr,
                       crop_padding=crop_padding, hflip=hflip, trivial_augment=trivial_augment,
                       randaugment=randaugment, random_erasing=random_erasing, mixup=mixup, cutmix=cutmix,
                       mix_prob=mix_prob, ema=ema, threads=threads, amp=amp, compile=compile_,
                       budget_minutes=budget_minutes, superclasses=superclasses,
                       init=None if init is None else str(init),
                       val_fraction=val_fraction, limit=limit, device=device, task="classify", name=name,
                       patience=patience, tensorboard=tensorboard)
        res = _run(given, resume, config, as_json)
        if res:
            early = ", stopped early" if res.get("stopped_early") else ""
            _report(res, f"done in {res['wall_s']:.0f}s: {res['test_split']} accuracy {res['test_acc']:.2%} "
                    f"(best epoch {res['best_epoch']}/{res['epochs_done']:g}{early}, "
                    f"{res['train_img_s']:.0f} train img/s)",
                    f"edgevit export --checkpoint {res['checkpoint']} --target onnx", as_json)

    @app.command("pretrain")
    def pretrain(
        model: str | None = MODEL,
        recipe: str | None = RECIPE,
        data: str | None = DATA,
        out: Path | None = OUT,
        epochs: int | None = EPOCHS,
        batch_size: int | None = BATCH,
        lr: float | None = LR,
        weight_decay: float | None = WD,
        warmup_epochs: float | None = WARMUP,
        clip_grad: float | None = CLIP,
        seed: int | None = SEED,
        img_size: str | None = IMG,
        set_: list[str] | None = SET,
        augment: str | None = AUG,
        lr_batch: int | None = LR_BATCH,
        lr_scaling: str | None = LR_SCALING,
        min_lr: float | None = MIN_LR,
        crop_padding: int | None = CROP,
        hflip: bool | None = HFLIP,
        threads: int | None = THREADS,
        amp: str | None = AMP,
        compile_: bool | None = COMPILE,
        budget_minutes: float | None = BUDGET,
        mask_ratio: float | None = typer.Option(None, "--mask-ratio", help="Share of patches hidden (default 0.75)."),
        visible_weight: float | None = typer.Option(
            None, "--visible-weight", help="Loss weight of the visible patches (default 0.1)."),
        decoder_dim: int | None = typer.Option(None, "--decoder-dim", help="Width of the 2-block decoder (default 64)."),
        resume: bool = RESUME,
        val_fraction: float | None = VALF,
        limit: int | None = LIMIT,
        device: str | None = DEVICE,
        name: str | None = NAME,
        patience: int | None = PATIENCE,
        tensorboard: bool | None = TBOARD,
        config: Path | None = CONFIG,
        as_json: bool = JSON_OUT,
    ) -> None:
        """MAE pre-training (mmLiT): writes an encoder checkpoint that `edgevit train --init` starts from."""
        given = _given(model=model, recipe=recipe, data=data, out=None if out is None else str(out), epochs=epochs,
                       batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs,
                       clip_grad=clip_grad, seed=seed, img_size=img_size, set_=set_, augment=augment,
                       lr_batch=lr_batch, lr_scaling=lr_scaling, min_lr=min_lr, crop_padding=crop_padding,
                       hflip=hflip, threads=threads, amp=amp, compile=compile_, budget_minutes=budget_minutes,
                       mask_ratio=mask_ratio, visible_weight=visible_weight, decoder_dim=decoder_dim,
                       val_fraction=val_fraction, limit=limit, device=device, task="mae", name=name,
                       patience=patience, tensorboard=tensorboard)
        res = _run(given, resume, config, as_json)
        if res:
            _report(res, f"done in {res['wall_s']:.0f}s: best val masked-patch loss {res['best_val_masked_loss']:.4f} "
                    f"(epoch {res['best_epoch']}/{res['epochs']})",
                    f"edgevit train --init {res['checkpoint']} --data {res['data']}", as_json)

    @app.command("eval")
    def evaluate(
        checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint directory."),
        data: str | None = typer.Option(None, "--data", "-d", help="Dataset spec (default: the one it was trained on)."),
        split: str = typer.Option("test", help="test | val | train."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Report folder (default CHECKPOINT/eval/DATA-SPLIT)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
        batch_size: int = typer.Option(256, "--batch-size", "-b"), limit: int | None = LIMIT,
        device: str = typer.Option("auto", "--device"),
    ) -> None:
        """Accuracy, per-class accuracy and confusion matrix (JSON + PNG) of a checkpoint on a dataset split."""
        from edgevit.train.api import evaluate_checkpoint

        res = evaluate_checkpoint(checkpoint, data, split, out, batch_size, limit, device)
        if as_json:
            typer.echo(json.dumps(res, indent=1))
            return
        from rich.table import Table

        from edgevit.runtimes.console import make_console

        con = make_console()
        con.print(f"[bold]{res['model']}[/] on {res['data']} ({split}, {res['count']} images): "
                  f"accuracy [bold]{res['accuracy']:.2%}[/]  loss {res['loss']:.4f}", highlight=False)
        table = Table("class", "accuracy", "support")
        for lab, acc, sup in zip(res["labels"], res["per_class_accuracy"], res["support"], strict=True):
            table.add_row(lab, f"{acc:.2%}", str(sup))
        con.print(table)
        con.print(f"report: {res['report']}\nconfusion: {res['confusion_png']}", highlight=False)

    @app.command("superclasses")
    def superclasses(
        checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="A trained dense model's checkpoint."),
        data: str | None = typer.Option(None, "--data", "-d", help="Dataset spec (default: the one it was trained on)."),
        num: int = typer.Option(..., "--num", "-n", help="Number of super-classes (= experts of the MoE model)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default CHECKPOINT/superclasses.json)."),
        device: str = typer.Option("auto", "--device"),
    ) -> None:
        """Super-classes for Mobile V-MoE: spectral clustering of a dense model's held-out confusion matrix."""
        from edgevit.train.api import derive_superclasses

        res = derive_superclasses(checkpoint, data, num, out, device)
        for i, (name, group) in enumerate(zip(res["names"], res["groups"], strict=True)):
            typer.echo(f"{i:>2} {name}: {', '.join(group)}")
        typer.echo(f"wrote {res['path']}")
        typer.echo(f"next: edgevit train --model mobile_vmoe_t32 --data {res['source']['data']} --superclasses {res['path']} "
                   f"--set num_experts={num}")
