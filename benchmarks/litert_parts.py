"""Where LiteRT's float time goes in the flagship: each block's non-linear parts converted alone and timed.

LiteRT's dynamic int8 quantizes only the linear layers (`litert_replica.py` times them alone); everything else
stays float in both files, so it bounds what dynamic int8 can gain. This script converts, from a checkpoint's
(or an untrained registered model's) LiteRT export form (`to_tflite_form(to_static(model))`), the parts of a block that are not linear layers, each
on its own with its linear layers replaced by a cheap stand-in (repeating or cutting the feature dim), and
times them interleaved at batch 1 on 1 thread, 9 copies per file (over the per-call cost):

- the attention core as exported (heads laid out, the two batched products, the softmax, heads back);
- the same core with the attention weights left unnormalised (what the products and layout cost), with the
  SOFTMAX op and with the softmax spelled out (the form takes the faster of the two for its row length:
  `tflite_form.SOFTMAX_OP_FROM_KEYS`);
- the same core normalising the product's output instead of the weights (exp(s) @ v / sum exp(s)): exact
  too, and fewer elements to scale;
- the MoE between `w_in` and `w2` (router softmax, top-k mask from ranks, SiLU, expert mix);
- a LayerNorm whose affine is folded into its reader, and one whose affine stays.

    python benchmarks/litert_parts.py --checkpoint runs/targets/mmoe_vit_xxs/best   # results/litert-parts.*
    python benchmarks/litert_parts.py --model mmoe_vit_xxs --img-size 36 --out /tmp   # 145 tokens, untrained
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
from common import RESULTS, machine_line, md_table, write_json

COPIES = 9  # copies of a part per converted file


def _stand_in(out_features: int):
    """A linear layer's stand-in: the input's last dim repeated or cut to `out_features` (no product)."""
    import torch
    from torch import nn

    class Resize(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            reps = -(-out_features // x.shape[-1])
            return torch.cat([x] * reps, -1)[..., :out_features] if reps > 1 else x[..., :out_features]

    return Resize()


def _copies(part):
    """`COPIES` runs of `part` on shifted inputs, summed: one file whose time is COPIES parts plus adds."""
    from torch import nn

    class Copies(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.part = part

        def forward(self, x):
            acc = 0
            for i in range(COPIES):
                acc = acc + self.part(x + float(i))
            return acc

    return Copies()


def parts(block, dim: int) -> dict:
    """name -> module of one block's non-linear parts (linear layers replaced by stand-ins)."""
    import torch

    from edgevit.export.routing import GroupedAttention
    from edgevit.export.tflite_form import spelled_out_softmax

    def core(normalize=None, after=False):
        attn = copy.deepcopy(block.attn)
        attn.qkv, attn.proj = _stand_in(attn.qkv.out_features), _stand_in(dim)
        if normalize is not None:
            attn.normalize = normalize
        if after:
            attn.normalize = lambda s: torch.exp(s - s.amax(dim=-1, keepdim=True))
            attn.matmul = _normalising_matmul(attn.head_dim)
        return attn

    out = {"attention core (as exported)": core(),
           "attention core, weights unnormalised": core(normalize=lambda s: s),
           "attention core, SOFTMAX op": core(normalize=GroupedAttention.normalize),
           "attention core, softmax spelled out": core(normalize=spelled_out_softmax),
           "attention core, output normalised": core(after=True),
           "LayerNorm, affine folded": block.norm1,
           "LayerNorm, affine kept": _kept_affine(dim)}
    if hasattr(block.ffn, "w_in") and hasattr(block.ffn, "w2"):  # SwiGLU / MoE forms (a plain MLP has none)
        ffn = copy.deepcopy(block.ffn)
        ffn.w_in, ffn.w2 = _stand_in(ffn.w_in.out_features), _stand_in(dim)
        out["feed-forward between w_in and w2 (MoE: router, top-k mask, SiLU, mix)"] = ffn
    return {k: _copies(v) for k, v in out.items()}


def _kept_affine(dim: int):
    """A LayerNorm with a non-trivial affine (a trivial one is folded away by the converter)."""
    import torch
    from torch import nn

    norm = nn.LayerNorm(dim)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        norm.weight.copy_(1.0 + 0.1 * torch.randn(dim, generator=g))
        norm.bias.copy_(0.1 * torch.randn(dim, generator=g))
    return norm


def _normalising_matmul(head_dim: int):
    """The output product written as (e @ v) / sum(e); the scores' product (q @ k^T: its result is
    (rows, tokens), the output's is (rows, head_dim)) as usual."""

    def matmul(a, b):
        if b.shape[-1] != head_dim or a.shape[-1] == head_dim:  # q @ k^T
            return a @ b
        return (a @ b) * (1.0 / a.sum(dim=-1, keepdim=True))

    return matmul


def time_files(files: dict[str, tuple[Path, np.ndarray]], rounds: int, runs: int) -> dict[str, float]:
    """Median over rounds of each round's p50 (us), files interleaved within a round."""
    from ai_edge_litert.interpreter import Interpreter

    its = {}
    for k, (path, x) in files.items():
        it = Interpreter(model_path=str(path), num_threads=1)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        its[k] = it
    per: dict[str, list[float]] = {k: [] for k in its}
    for _ in range(rounds):
        for k, it in its.items():
            t = []
            for _ in range(runs):
                t0 = time.perf_counter()
                it.invoke()
                t.append(time.perf_counter() - t0)
            per[k].append(1e6 * float(np.median(t)))
    return {k: float(np.median(v)) for k, v in per.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path)
    src.add_argument("--model", help="a registered model, untrained (times do not depend on the weights)")
    ap.add_argument("--img-size", type=int, help="with --model: the input side (more tokens, longer rows)")
    ap.add_argument("--block", type=int, action="append", help="block index (repeatable; default first and last)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for litert-parts.{json,md}")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    import litert_torch
    import torch

    from edgevit.checkpoint import load_checkpoint
    from edgevit.export.common import quiet
    from edgevit.export.routing import to_static
    from edgevit.export.tflite_form import to_tflite_form

    if a.checkpoint:
        model, info = load_checkpoint(a.checkpoint)
        name = info.model_name
    else:
        from edgevit.registry import create_model

        model, name = create_model(a.model, **({"img_size": a.img_size} if a.img_size else {})).eval(), a.model
    form = to_tflite_form(to_static(model)).eval()
    blocks = a.block or [0, len(form.blocks) - 1]
    tokens = model.config.num_tokens  # patches (+ the class token)
    dim = model.config.dim
    x = np.random.default_rng(0).standard_normal((1, tokens, dim)).astype(np.float32)
    files: dict[str, tuple[Path, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for b in blocks:
            for name, mod in parts(form.blocks[b], dim).items():
                path = Path(tmp) / f"b{b}-{len(files)}.tflite"
                with quiet():
                    litert_torch.convert(mod.eval(), (torch.from_numpy(x),)).export(str(path))
                files[f"block {b}: {name}"] = (path, x)
        us = time_files(files, a.rounds, a.runs)
    rows = [[k, f"{v / COPIES:.1f}"] for k, v in us.items()]
    source = f"--checkpoint {a.checkpoint}" if a.checkpoint else f"--model {a.model}" + (
        f" --img-size {a.img_size}" if a.img_size else "")
    text = (f"### Where LiteRT's float time goes: {name}'s block parts alone (1 thread, fp32)\n\n"
            + md_table(["part (linear layers replaced by stand-ins)", "us per block"], rows)
            + f"\n{tokens} tokens of width {dim}; each file holds {COPIES} copies of the part (the time per block is "
            f"its time / {COPIES}, the adds that chain the copies included). Median over {a.rounds} interleaved "
            f"rounds of each round's p50. {machine_line()}; {time.strftime('%Y-%m-%d')}. "
            f"`python benchmarks/litert_parts.py {source}`\n")
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "litert-parts.json", {"model": name, "machine": machine_line(),
                                               "us_per_block": {k: v / COPIES for k, v in us.items()},
                                               "date": time.strftime("%Y-%m-%d")})
    (a.out / "litert-parts.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
