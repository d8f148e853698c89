"""Run under torchrun by test_ddp.py: train with the real Trainer, then every rank saves its own weights."""

from __future__ import annotations

import sys
from pathlib import Path

from safetensors.torch import save_file

from edgevit.train import ddp
from edgevit.train.loop import Trainer
from edgevit.train.recipe import TrainArgs
from edgevit.train.run import prepare


def main(out: str, model: str) -> None:
    from rich.console import Console

    d = ddp.setup("cpu")
    args = TrainArgs(model=model, data="digits", limit=256, epochs=2, batch_size=32, out=out,
                     overrides={"top_k": 1} if model.startswith("mobile") else {})
    run = prepare(args, d=d)
    Trainer(run, d, Console(quiet=not d.is_main)).fit()
    state = {k: v.contiguous() for k, v in run.model.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{d.rank}.safetensors"))
    ddp.barrier(d)
    ddp.teardown(d)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
