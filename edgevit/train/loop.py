"""The training loop shared by `edgevit train` (classification) and `edgevit pretrain` (MAE).

Reproducibility: data order, augmentation, dropout and router noise of epoch e depend only on (seed, epoch, rank)
because every epoch re-seeds them; the optimizer state, step and best score come back from train_state.pt. So a
run killed at any point and resumed from its last completed epoch ends with bitwise the same weights as an
uninterrupted run. On CPU the loop turns on torch's deterministic algorithms: without them the backward of
Mobile V-MoE's expert gather (index_put with accumulate) adds with parallel atomics in a racy order. On GPU we
keep the fast kernels, so there a resumed run matches closely but not bitwise. Every augmentation source is
covered: the transform's own generator is re-seeded per epoch, and kornia's RandAugment and mixup/cutmix draw
from the re-seeded global RNG and the transform's generator; the EMA weights and the fp16 loss scaler are in
train_state.pt too.

With --budget-minutes the run trains for a wall-clock budget instead of a number of epochs: the lr follows
warm-up + cosine over the share of the budget spent (`lr_at_time`), the last epoch stops mid-way when the time
is up (keeping room for its validation), and the elapsed time is saved so a resumed run spends only the rest.
Such a run depends on the machine's speed, so it is resumable but not bitwise reproducible.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from edgevit.checkpoint import TRAIN_STATE_FILE, save_checkpoint
from edgevit.errors import CheckpointError, ConfigError, DataError, TrainError
from edgevit.runtimes.files import one_line, write_dir_atomically
from edgevit.train import ddp, hardware
from edgevit.train.ema import ModelEma
from edgevit.train.evaluate import evaluate
from edgevit.train.losses import training_loss
from edgevit.train.metrics_log import METRICS_FILE, MetricsLog
from edgevit.train.progress import ProgressView
from edgevit.train.run import BEST, LAST, Run
from edgevit.train.schedule import lr_at, lr_at_time, param_groups, set_lr, warmup_steps
from edgevit.train.state import save_train_state, set_rng_states


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    return (seed * 1_000_003 + epoch * 10_007 + rank * 101 + 17) % (2**31 - 1)


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def augment_config(args, dataset: str, img_size: int):
    """The run's augmentations: the dataset's suggestion (--augment auto) or none, then each switch given."""
    from edgevit.data import AugmentConfig, suggested_augment

    if args.augment not in ("auto", "none"):
        raise ConfigError(f"--augment must be auto or none, got {args.augment!r}")
    base = suggested_augment(dataset, img_size) if args.augment == "auto" else AugmentConfig()
    switches = {"random_crop_padding": args.crop_padding, "hflip": args.hflip,
                "trivial_augment": args.trivial_augment, "randaugment": args.randaugment,
                "random_erasing": args.random_erasing}
    return AugmentConfig.from_dict({**base.to_dict(), **{k: v for k, v in switches.items() if v is not None}})


class Trainer:
    def __init__(self, run: Run, d: ddp.Dist, console: Console) -> None:
        self.run, self.d, self.console, a = run, d, console, run.args
        self.mae = a.task == "mae"
        if self.mae:
            from edgevit.train.mae import MAE

            self.net = MAE(run.model, decoder_dim=a.decoder_dim, mask_ratio=a.mask_ratio,
                           visible_weight=a.visible_weight).to(d.device)
        else:
            self.net = run.model
        self.trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.wrapped = ddp.wrap(self.net, d)
        self.forward = hardware.maybe_compile(self.wrapped, a.compile)
        self.amp = hardware.amp_dtype(a.amp, d.device)
        self.scaler = hardware.grad_scaler(d.device, self.amp)
        self.peak_lr = a.peak_lr()
        self.opt = torch.optim.AdamW(param_groups(self.net, a.weight_decay), lr=self.peak_lr)
        if a.ema and self.mae:
            raise ConfigError("--ema applies to classification training; MAE pre-training keeps its last encoder")
        self.ema = ModelEma(run.model, a.ema) if a.ema else None
        self.num_classes = len(run.labels)
        self.spe = len(run.splits.train.targets) // a.batch_size
        if self.spe < 1:
            raise DataError(f"the training split has {len(run.splits.train.targets)} images, fewer than one batch "
                            f"of {a.batch_size}: lower --batch-size")
        self.total_steps = a.epochs * self.spe
        self.warmup = warmup_steps(a.warmup_epochs, self.spe, self.total_steps)
        self.augment = augment_config(a, run.splits.name, run.model.config.img_size)
        self.budget_s = a.budget_minutes * 60 if a.budget_minutes else None
        self.elapsed0, self.clock0, self.val_s, self.time_up = 0.0, time.perf_counter(), 0.0, False
        self.train_rate = 0.0  # images per second of the epoch so far (sets the first validation's reserve)
        self.superclass_of = (torch.tensor(run.superclasses[0], device=d.device)
                              if run.superclasses else None)
        self.start_epoch, self.step, self.best, self.best_epoch = 0, 0, -math.inf, -1
        self.records: list[dict[str, Any]] = []
        self.stopped_early: int | None = None  # the epoch --patience stopped at
        if run.state is not None:
            self._restore(run.state)

    # ------------------------------------------------------------------ state
    def _restore(self, st: dict[str, Any]) -> None:
        """Load train_state.pt; one written for another model (or damaged) is a CheckpointError, not a traceback."""
        where = self.run.out / LAST / TRAIN_STATE_FILE
        try:
            self.opt.load_state_dict(st["optimizer"])
            for group in self.opt.param_groups:  # same group sizes but other shapes load fine, then fail in step()
                for p in group["params"]:
                    for v in self.opt.state.get(p, {}).values():
                        if torch.is_tensor(v) and v.ndim and tuple(v.shape) != tuple(p.shape):
                            raise ValueError(f"optimizer state of shape {tuple(v.shape)} for a parameter of "
                                             f"shape {tuple(p.shape)}")
            self.start_epoch, self.step = int(st["epoch"]), int(st["step"])
            self.best, self.best_epoch = float(st["best"]), int(st["best_epoch"])
            if self.mae:
                self.net.load_state_dict(st["decoder"], strict=False)
            if self.ema is not None:
                self.ema.load_state_dict(st["ema"])
            if "scaler" in st:
                self.scaler.load_state_dict(st["scaler"])
            self.elapsed0 = float(st.get("elapsed_s", 0.0))
            self.time_up = bool(st.get("time_up", False))
            set_rng_states(st["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, SyntaxError) as e:
            raise CheckpointError(f"{where} does not belong to this model or is damaged "
                                  f"({one_line(e, 200)}); it cannot be resumed") from None
        path = self.run.out / METRICS_FILE
        if path.is_file():
            lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            self.records = [r for r in lines if r.get("epoch", 0) <= self.start_epoch]

    def _train_state(self, epoch: int) -> dict[str, Any]:
        st = {"optimizer": self.opt.state_dict(), "epoch": epoch, "step": self.step, "best": self.best,
              "best_epoch": self.best_epoch, "elapsed_s": self.elapsed(), "time_up": self.time_up,
              "scaler": self.scaler.state_dict()}
        if self.mae:
            st["decoder"] = self.net.decoder_state()
        if self.ema is not None:
            st["ema"] = self.ema.state_dict()
        return st

    def elapsed(self) -> float:
        """Seconds of training this run has spent, across resumes (the budget's clock)."""
        return self.elapsed0 + time.perf_counter() - self.clock0

    def eval_model(self) -> torch.nn.Module:
        """What validation, `best/` and the final test use: the EMA when it is on, else the trained weights."""
        return self.ema.module if self.ema is not None else self.run.model

    def meta(self, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        r, a = self.run, self.run.args
        s = r.splits
        return {
            "task": a.task, "epoch": epoch, "seed": a.seed, "metrics": metrics, "args": a.to_dict(),
            "data": {"spec": a.data, "name": s.name, "val_fraction": a.val_fraction, "seed": a.seed, "limit": a.limit,
                     "train": len(s.train.targets), "val": len(s.val.targets)},
            "superclasses": ({"assignment": r.superclasses[0], "names": r.superclasses[1]} if r.superclasses else None),
            "init": r.init_info or None, "world_size": self.d.world_size, "augment": self.augment.to_dict(),
            "weights": "ema" if self.ema is not None else "trained", "threads": torch.get_num_threads(),
            "steps": self.step, "epochs_done": round(self.step / self.spe, 3),
        }

    def _save(self, name: str, epoch: int, metrics: dict[str, Any], with_state: bool) -> Path:
        """`last/` holds the trained weights (and train_state.pt, EMA included); `best/` the eval model's."""
        model = self.run.model if with_state else self.eval_model()

        def write(tmp: Path) -> None:
            save_checkpoint(tmp, model, self.run.labels, self.run.preprocess, self.meta(epoch, metrics))
            if with_state:
                save_train_state(tmp, self._train_state(epoch))

        return write_dir_atomically(self.run.out / name, write)

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int, view: ProgressView) -> dict[str, float] | None:
        """One epoch (cut short when a --budget-minutes run's time is up); None when no step ran."""
        from edgevit.data import BatchTransform, iterate_batches
        from edgevit.data.augment import mix_batch

        a, d = self.run.args, self.d
        seed_all(epoch_seed(a.seed, epoch, d.rank))
        transform = BatchTransform(self.run.preprocess, train=True, augment=self.augment, seed=a.seed + 7919 * d.rank)
        transform.set_epoch(epoch)
        batches = iterate_batches(self.run.splits.train, a.batch_size // d.world_size, shuffle=True, seed=a.seed,
                                  epoch=epoch, drop_last=True, rank=d.rank, world_size=d.world_size)
        self.wrapped.train()
        sums = torch.zeros(3, dtype=torch.float64, device=d.device)  # loss*n, correct, n
        t0 = time.perf_counter()
        mixing = not self.mae and (a.mixup > 0 or a.cutmix > 0)
        for i, (images, y) in zip(range(self.spe), batches, strict=False):
            lr = self._lr()
            if lr is None:
                break
            x = transform(images.to(d.device, non_blocking=True))  # augment where the model runs
            y = y.to(d.device, non_blocking=True)
            soft = None
            if mixing:
                x, soft = mix_batch(x, y, self.num_classes, a.mixup, a.cutmix, a.mix_prob, transform.generator)
            try:
                with hardware.autocast(d.device, self.amp):
                    if self.mae:
                        loss, _ = self.forward(x)
                        loss = loss + self.net.aux_loss().to(loss.device)
                        correct = 0.0
                    else:
                        logits = self.forward(x)
                        loss, _ = training_loss(self.net, logits, y, a.label_smoothing, self.superclass_of, soft)
                        correct = float((logits.argmax(-1) == y).sum())
            except (RuntimeError, ValueError) as e:  # a router fed NaN fails (its noise sampler, multinomial, ...)
                named = re.search(r"\b(nan|inf)\b", str(e).lower())  # before the loss check below
                if not named and all(bool(torch.isfinite(p).all()) for p in self.trainable):
                    raise
                raise TrainError(f"the model diverged (NaN or Inf inside the network) at epoch {epoch + 1} "
                                 f"step {i + 1}: lower --lr ({one_line(str(e).splitlines()[0], 120)})") from None
            if d.enabled:
                loss = ddp.touch_all(loss, self.trainable)
            if not torch.isfinite(loss):
                raise TrainError(f"loss is {float(loss)} at epoch {epoch + 1} step {i + 1}: lower --lr")
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if a.clip_grad > 0:
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.trainable, a.clip_grad)
            set_lr(self.opt, lr)
            self.scaler.step(self.opt)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.run.model, self.step)
            self.step += 1
            n = len(y)
            sums += torch.tensor([float(loss.detach()) * n, correct, n], dtype=torch.float64, device=d.device)
            done = (i + 1) * n * d.world_size
            self.train_rate = done / (time.perf_counter() - t0)
            view.step(epoch, i, float(sums[0] / sums[2]), float(sums[1] / sums[2]), self.train_rate)
        if d.device.type == "cuda":
            torch.cuda.synchronize()
        if not sums[2]:  # the budget ran out before this epoch's first step
            return None
        dt = time.perf_counter() - t0
        sums = ddp.all_sum(sums, d)
        out = {"train_loss": float(sums[0] / sums[2]), "img_s": float(sums[2]) / dt, "time_s": dt,
               "lr": self.opt.param_groups[0]["lr"], "epochs_done": round(self.step / self.spe, 3)}
        if not self.mae:
            out["train_acc"] = float(sums[1] / sums[2])
        return out

    def _lr(self) -> float | None:
        """The lr of the next step, or None when the wall-clock budget is spent (room kept for a validation)."""
        a = self.run.args
        if self.budget_s is None:
            return lr_at(self.step, self.total_steps, self.peak_lr, self.warmup, a.min_lr)
        # the last validation must fit in the budget too; every rank must stop at the same step and use the
        # same lr, so rank 0's clock rules
        clock = torch.tensor([self.elapsed(), self.budget_s - 1.2 * self.validation_estimate()], dtype=torch.float64)
        spent, end = ddp.broadcast_from_main(clock.to(self.d.device), self.d).tolist()
        if self.time_up or spent >= end:
            self.time_up = True
            return None
        return lr_at_time(spent / max(end, 1e-9), self.peak_lr, a.budget_warmup, a.min_lr)

    def validation_estimate(self) -> float:
        """Seconds the next validation will take: the last one's, or before any, the val images at three times
        the training speed so far (a forward pass costs about a third of a training step)."""
        if self.val_s or self.train_rate <= 0:
            return self.val_s
        return len(self.run.splits.val.targets) / (3.0 * self.train_rate)

    def validate(self, epoch: int) -> dict[str, Any]:
        """Classification: accuracy/loss on the val split. MAE: masked-patch loss with fixed masks."""
        r, a = self.run, self.run.args
        if not self.mae:
            res = evaluate(self.eval_model(), r.splits.val, r.preprocess, len(r.labels), a.eval_batch_size, self.d.device,
                           self.d, usage=bool(r.model.moe_modules()))
            out = {"val_acc": res["accuracy"], "val_loss": res["loss"], "score": res["accuracy"]}
            if "expert_usage" in res:
                out["expert_usage"] = res["expert_usage"]
            return out
        from edgevit.data import BatchTransform

        seed_all(a.seed + 7)  # the same masks every epoch, so val losses compare
        tf, ds = BatchTransform(r.preprocess, train=False), r.splits.val
        idx = np.arange(self.d.rank, len(ds.targets), self.d.world_size)
        sums = torch.zeros(2, dtype=torch.float64, device=self.d.device)
        self.net.eval()
        with torch.no_grad():
            for s in range(0, len(idx), a.eval_batch_size):
                x = tf(torch.as_tensor(ds.images[idx[s : s + a.eval_batch_size]])).to(self.d.device)
                sums += torch.tensor([self.net(x)[1]["masked"] * len(x), len(x)], dtype=torch.float64,
                                     device=self.d.device)
        sums = ddp.all_sum(sums, self.d)
        loss = float(sums[0] / sums[1].clamp(min=1))
        return {"val_loss": loss, "score": -loss}

    # ------------------------------------------------------------------ the run
    def fit(self) -> dict[str, Any]:
        was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
        if self.d.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            return self._fit()
        finally:
            torch.use_deterministic_algorithms(was[0], warn_only=was[1])

    def _fit(self) -> dict[str, Any]:
        a, d, r = self.run.args, self.d, self.run
        log = None
        if d.is_main:
            r.out.mkdir(parents=True, exist_ok=True)
            log = MetricsLog(r.out, tensorboard=a.tensorboard)
        view = ProgressView(self.console, d.is_main, self.total_steps, self.step,
                            a.epochs if self.budget_s is None else None, self.spe, a.budget_minutes)
        self.clock0 = time.perf_counter()
        try:
            self._epochs(view, log)
        finally:
            if log is not None:
                log.close()
        if self.time_up and d.is_main and self.records:  # the budget ran out between epochs: mark last/ done
            metrics = {k: v for k, v in self.records[-1].items() if k != "expert_usage"}
            self._save(LAST, self.records[-1]["epoch"], metrics, with_state=True)
        return {"best_epoch": self.best_epoch, "best_score": self.best, "records": self.records,
                "stopped_early": self.stopped_early, "train_seconds": self.elapsed(),
                "epochs_done": self.step / self.spe}

    def _epochs(self, view: ProgressView, log: MetricsLog | None) -> None:
        """The epochs; with --patience, stop once the validation score has not improved for that many."""
        a, d = self.run.args, self.d
        last_epoch = a.epochs if self.budget_s is None else 10**9  # a budget run ends when its time is up
        with view:
            for epoch in range(self.start_epoch, last_epoch):
                trained = None if self.time_up else self.train_epoch(epoch, view)
                if trained is None:
                    break
                rec: dict[str, Any] = {"epoch": epoch + 1, **trained}
                t_val = time.perf_counter()
                rec.update(self.validate(epoch))
                self.val_s = time.perf_counter() - t_val
                rec["elapsed_s"] = round(self.elapsed(), 1)
                score = rec.pop("score")
                improved = score > self.best
                if improved:
                    self.best, self.best_epoch = score, epoch + 1
                if log is not None:
                    self.records.append(rec)
                    log.write(self.records)
                    metrics = {k: v for k, v in rec.items() if k != "expert_usage"}
                    if improved:
                        self._save(BEST, epoch + 1, metrics, with_state=False)
                    self._save(LAST, epoch + 1, metrics, with_state=True)
                    view.epoch_line(rec, improved)
                ddp.barrier(d)
                if a.patience and epoch + 1 - self.best_epoch >= a.patience and epoch + 1 < last_epoch:
                    self.stopped_early = epoch + 1
                    if d.is_main:
                        self.console.print(f"early stop: no better validation score for {a.patience} epochs "
                                           f"(best epoch {self.best_epoch})", highlight=False)
                    break
