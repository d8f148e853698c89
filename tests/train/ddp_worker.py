"""Run under torchrun by test_ddp.py: train with the real Trainer, then every rank saves its own weights."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from edgevit.train import ddp
from edgevit.train.loop import Trainer
from edgevit.train.recipe import TrainArgs
from edgevit.train.run import prepare


class TwoExperts(torch.nn.Module):
    """Each call runs one of two experts: the other gets no gradient in that step."""

    def __init__(self) -> None:
        super().__init__()
        self.experts = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(2))

    def forward(self, x: torch.Tensor, choice: int) -> torch.Tensor:
        return self.experts[choice](x)


def toy_unused_expert(d: ddp.Dist) -> dict[str, torch.Tensor]:
    """Rank r always routes to expert r, so every step leaves an expert unused on each rank; without
    ddp.touch_all, DDP's reducer raises on the second step ("Expected to have finished reduction")."""
    torch.manual_seed(0)
    toy = TwoExperts()
    params = list(toy.parameters())
    net = ddp.wrap(toy, d)
    opt = torch.optim.SGD(params, lr=0.1)
    for step in range(3):
        x = torch.randn(8, 4, generator=torch.Generator().manual_seed(step * 10 + d.rank))
        loss = ddp.touch_all(net(x, d.rank).pow(2).mean(), params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().contiguous() for k, v in toy.state_dict().items()}


def main(out: str, model: str, variant: str = "plain") -> None:
    from rich.console import Console

    d = ddp.setup("cpu")
    args = TrainArgs(model=model, data="digits", limit=256, epochs=2, batch_size=32, out=out,
                     overrides={"top_k": 1} if model.startswith("mobile") else {})
    if variant == "budget":  # ranks must share rank 0's clock: same stop step, same lr, same EMA
        args.budget_minutes, args.ema, args.mixup, args.cutmix, args.randaugment = 0.1, 0.9, 0.8, 1.0, 9
    run = prepare(args, d=d)
    Trainer(run, d, Console(quiet=not d.is_main)).fit()
    state = {k: v.contiguous() for k, v in run.model.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{d.rank}.safetensors"))
    save_file(toy_unused_expert(d), str(Path(out) / f"toy{d.rank}.safetensors"))
    ddp.barrier(d)
    ddp.teardown(d)


if __name__ == "__main__":
    main(*sys.argv[1:])
