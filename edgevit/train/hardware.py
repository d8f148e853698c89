"""How a run uses the machine: torch threads, mixed precision on CUDA, torch.compile.

Why these defaults (measured on a shared 2-core CPU, issue 11): two intra-op threads on a machine other
processes also load collapse to 23-28 img/s where one thread gives 240-390, so the default is the cores this
process may use divided by the processes of the run, and a loaded machine gets a warning. bf16 autocast halves
CPU training speed and torch.compile adds only ~7% there, so autocast is on by default only on CUDA and
compile is an option.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import torch

from edgevit.errors import ConfigError


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads(processes_per_machine: int = 1) -> int:
    """OMP_NUM_THREADS when set (the user's or a launcher's choice), else the cores split between processes."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, usable_cores() // max(1, processes_per_machine))


def oversubscription(threads: int, processes_per_machine: int = 1) -> str | None:
    """A warning when the machine already runs more than it has cores (load average), else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = usable_cores()
    if load > cores:
        hint = "try --threads 1" if threads > 1 else "expect a fraction of the usual speed"
        return (f"the machine is oversubscribed (load average {load:.1f} on {cores} cores) and this run adds "
                f"{threads * processes_per_machine} thread(s): throughput collapses when threads wait for "
                f"cores; {hint}")
    return None


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for --amp on this device (None = full fp32)."""
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if mode == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if mode == "fp16" and device.type != "cuda":
        raise ConfigError("--amp fp16 needs a CUDA device (CPU autocast supports bf16 only)")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A loss scaler, enabled only for fp16 (bf16 has fp32's range and needs none)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def maybe_compile(fn: torch.nn.Module, enabled: bool) -> torch.nn.Module | Callable:
    return torch.compile(fn) if enabled else fn
