"""Training: `edgevit train` / `pretrain` (MAE) / `eval` / `superclasses`, resumable and multi-process.

`api` is what the commands call; `run` sets a run up (everything that can fail on bad input, before anything
is written); `loop` trains; `state` makes checkpoints crash-safe and resumable; `ddp` handles torchrun.
"""
