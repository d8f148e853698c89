"""An exponential moving average of the model's weights (timm's ModelEmaV3 idea), validated and saved as best.

ema = decay * ema + (1 - decay) * weights after every optimizer step, with timm's warm-up of the decay
(min(decay, (1 + step) / (10 + step))) so the first steps do not drag the random init along for thousands
of steps. Buffers are copied, not averaged. Written here rather than taken from timm (not a dependency):
it is the two lines of `_foreach_lerp_` below, and its state is a plain state dict that train_state.pt holds.
"""

from __future__ import annotations

import copy

import torch


def warm_decay(decay: float, step: int) -> float:
    return min(decay, (1.0 + step) / (10.0 + step))


class ModelEma:
    """A frozen copy of `model` that follows its weights; `module` is what validation and `best/` use."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Blend in the weights after optimizer step `step` (0-based)."""
        d = warm_decay(self.decay, step)
        ema_p, p = [], []
        for (name, e), (_, w) in zip(self.module.state_dict().items(), model.state_dict().items(), strict=True):
            if e.dtype.is_floating_point and name in self._param_names:
                ema_p.append(e)
                p.append(w.detach())
            else:
                e.copy_(w)
        if ema_p:
            torch._foreach_lerp_(ema_p, p, 1.0 - d)

    @property
    def _param_names(self) -> set[str]:
        if not hasattr(self, "_names"):
            self._names = {n for n, _ in self.module.named_parameters()}
        return self._names

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
