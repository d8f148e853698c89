"""Multi-process data parallel: `torchrun --nproc-per-node N -m edgevit train ...`.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; we join a process group (gloo on CPU,
nccl on GPU), wrap the model in DistributedDataParallel, shard batches by rank, sum metrics across ranks, and let
only rank 0 print and write files. Without those variables everything here is a no-op (world size 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        from edgevit.errors import ConfigError

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no CUDA GPU is available")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def setup(device: str = "auto") -> Dist:
    """Join the process group when launched by torchrun; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=pick_device(device))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend(dev))
    return Dist(rank, world, local, dev)


def wrap(model: torch.nn.Module, d: Dist) -> torch.nn.Module:
    """DDP around the model. Parameters a step may not use (an expert no image chose) are handled by
    `touch_all`, which keeps every trainable parameter in the graph at zero cost to the gradient."""
    if not d.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [d.device.index] if d.device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def touch_all(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    """loss + 0 * (one element of every parameter): each parameter then gets a (zero) gradient every step.

    With per-image top-k routing an expert can receive no image in a batch; DDP's all-reduce waits for a
    gradient from every parameter and would stall or fail. This zero-weighted term is cheaper than
    `find_unused_parameters=True` (no graph walk each step) and leaves the gradients unchanged.
    """
    if not params:
        return loss
    return loss + 0.0 * torch.stack([p.reshape(-1)[0] for p in params]).sum()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum a tensor across ranks (counts, loss sums, confusion matrices)."""
    if d.enabled:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_from_main(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Rank 0's value of `t` on every rank (a decision all ranks must share, e.g. a wall-clock stop)."""
    if d.enabled:
        t = t.clone()
        dist.broadcast(t, src=0)
    return t


def backend(device: torch.device) -> str:
    """nccl for CUDA devices, gloo for CPU (the CPU tests run this choice; CI has no GPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def teardown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()
