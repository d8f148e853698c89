"""The linear layers of a model's LiteRT form, alone: what LiteRT's dynamic int8 can speed up.

`replica(checkpoint, x, out_dir)` runs the model's LiteRT export form (`to_tflite_form(to_static(model))`) once
on `x`, keeps what each `nn.Linear` reads, and converts a module of only those layers, each reading its captured
input as a graph input of its own (inputs the converter cannot fold into constants), as `edgevit export` converts
the model; its dynamic-int8 form is quantized by the export's own `tflite.quantize`. The linear layers are what
the dynamic recipe quantizes (weights int8, activations quantized at run time); attention's products, softmax,
norms and adds stay float. Timed next to the model in `targets.py`, the replica gives the layers' share of the
fp32 run and their own int8 speed-up: the bound on what dynamic int8 can do while the rest stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class LiteRTReplicaRun:
    """A harness-like runner (`run(x)`) for a replica: its captured inputs set once, `x` ignored."""

    def __init__(self, path: Path, feeds: list[np.ndarray]) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        details = self.interpreter.get_input_details()
        if len(details) != len(feeds):
            raise ValueError(f"{path.name} takes {len(details)} inputs, {len(feeds)} captured")
        for d in details:  # the converter names inputs args_0, args_1, ... in the forward's order
            self.interpreter.set_tensor(d["index"], feeds[_arg_index(d["name"])])

    def run(self, _x: np.ndarray | None = None) -> None:
        self.interpreter.invoke()

    def outputs(self) -> list[np.ndarray]:
        """The layers' outputs, in the order of their inputs."""
        details = sorted(self.interpreter.get_output_details(), key=lambda d: _index(d["name"], "output_"))
        return [self.interpreter.get_tensor(d["index"]) for d in details]


def _arg_index(name: str) -> int:
    """`serving_default_args_3` -> 3."""
    return _index(name, "args_")


def _index(name: str, prefix: str) -> int:
    return int(name.split(prefix)[-1].split("_")[0].split(":")[0])


def replica(checkpoint: Path, x: np.ndarray, out_dir: Path) -> tuple[Path, Path, list[np.ndarray]]:
    """Write the fp32 replica and its dynamic-int8 form into `out_dir`; return both paths and the feeds."""
    import litert_torch
    import torch
    from torch import nn

    from edgevit.checkpoint import load_checkpoint
    from edgevit.export.common import quiet
    from edgevit.export.routing import to_static
    from edgevit.export.tflite import quantize
    from edgevit.export.tflite_form import to_tflite_form

    model = load_checkpoint(checkpoint)[0].eval()
    form = to_tflite_form(to_static(model)).eval()
    captured: list[tuple[nn.Linear, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda m, i, _o: captured.append((m, i[0].detach().clone())))
             for m in form.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        form(torch.from_numpy(x))
    for h in hooks:
        h.remove()

    class Linears(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(m for m, _ in captured)

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(layer(t) for layer, t in zip(self.layers, inputs, strict=True))

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "replica-fp32.tflite", out_dir / "replica-int8-dynamic.tflite"
    feeds = [t for _, t in captured]
    with quiet():
        litert_torch.convert(Linears().eval(), tuple(feeds)).export(str(fp32))
    quantize(fp32, int8, "dynamic", None)
    return fp32, int8, [f.numpy() for f in feeds]
