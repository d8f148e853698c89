"""Terminal output of a run: a rich progress bar (epoch, step, loss, acc, images/s, ETA) and one line per epoch.

The live bar only draws on an interactive terminal of rank 0; logs and pipes get the per-epoch lines only.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressView:
    def __init__(self, console: Console, enabled: bool, total_steps: int, done_steps: int, epochs: int | None,
                 steps_per_epoch: int, budget_minutes: float | None = None) -> None:
        """`epochs` None: a --budget-minutes run, whose lines show the time spent instead."""
        self.console, self.epochs, self.spe, self.budget = console, epochs, steps_per_epoch, budget_minutes
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=24),
            TextColumn("step {task.fields[step]}/{task.fields[spe]}"),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TextColumn("acc {task.fields[acc]:.3f}"),
            TextColumn("{task.fields[img_s]:.0f} img/s"),
            TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=True, disable=not self.enabled,
        )
        self.task = self.progress.add_task("train", total=total_steps, completed=done_steps, epoch=0, epochs=epochs or "?",
                                           step=0, spe=steps_per_epoch, loss=0.0, acc=0.0, img_s=0.0)

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def step(self, epoch: int, step: int, loss: float, acc: float, img_s: float) -> None:
        if self.enabled:
            self.progress.update(self.task, advance=1, epoch=epoch + 1, step=step + 1, loss=loss, acc=acc, img_s=img_s)

    def epoch_line(self, rec: dict[str, Any], best: bool) -> None:
        if self.epochs is None:
            parts = [f"epoch {rec['epoch']:>3} ({rec.get('elapsed_s', 0) / 60:.1f}/{self.budget:g} min)"]
        else:
            parts = [f"epoch {rec['epoch']:>3}/{self.epochs}"]
        parts.append(f"loss {rec['train_loss']:.4f}")
        if "train_acc" in rec:
            parts.append(f"acc {rec['train_acc']:.3f}")
        if "val_acc" in rec:
            parts.append(f"val_acc {rec['val_acc']:.4f}")
        parts += [f"val_loss {rec['val_loss']:.4f}", f"{rec['img_s']:.0f} img/s", f"{rec['time_s']:.1f}s"]
        self.console.print("  ".join(parts) + ("  [green]* best[/]" if best else ""), highlight=False)
