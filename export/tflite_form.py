"""LiteRT's own export form: fewer, cheaper XNNPACK ops for the same function.

`to_tflite_form(static)` takes `to_static`'s result and returns a copy with four changes, found by ablation on
vit_mlit_xxs (LiteRT fp32, batch 1, 1 thread), where the attention core took 36% of the run and its SOFTMAX
alone 20%, and on mmoe_vit_xxs, whose argmax rounds split the graph into 10 XNNPACK partitions
(`benchmarks/results/findings.md` has the effect per model):

- LayerNorm affines move into the linear that reads the norm: W(g*n + b) + c = (W diag g) n + (W b + c). The
  converter does this itself only where one fully-connected op with a bias reads the norm; elsewhere each
  LayerNorm kept a MUL and an ADD over every token.
- `SwiGLU` -> `FusedSwiGLU`: w1 and v stacked into one linear (one GEMM instead of two, as `StaticTokenMoE`'s
  `w_in`), so the norm before it has a single reader to fold into.
- `GroupedAttention` -> `LiteRTAttention`: up to 127 keys per query, softmax written as
  exp(s - max s) * (1 / sum): XNNPACK's reduce-max / subtract / exp / sum / multiply ran faster than its
  SOFTMAX op on the (Hkv, rep*N, N) scores of 65 tokens; from 128 keys on, the SOFTMAX op is faster (1.76x at
  257 tokens) and is kept.
- `StaticTokenMoE` -> `LiteRTTokenMoE`: the top-k mask from each expert's rank, in subtractions, CEIL and
  sums (`rank_topk_mask`), where ARG_MAX / ONE_HOT / SELECT ran in TFLite's own kernels between partitions.

onnxruntime and ExecuTorch have their own forms (`onnx_form`, `executorch_form`, which borrows the folding,
`FusedSwiGLU` and `rank_topk_mask` from here); Core ML keeps the portable one. MoE weights are left as they
are (see `_ffn_input`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from edgevit.export.routing import GroupedAttention, StaticTokenMoE, as_form, replace_modules
from edgevit.models.layers.mlp import Mlp, SwiGLU
from edgevit.models.vit import Block, VisionTransformer

#: keys per query from which XNNPACK's SOFTMAX op beats the spelled-out softmax (the attention core alone, per
#: block, `benchmarks/litert_parts.py --model mmoe_vit_xxs --img-size S`: 65 keys 38.8 vs 42.9 us, 122 keys
#: 113 vs 113, 145 keys 158 vs 143, 257 keys 695 vs 396 us: the spelled-out form makes five passes over the
#: scores, the op fewer)
SOFTMAX_OP_FROM_KEYS = 128


class LiteRTAttention(GroupedAttention):
    """`GroupedAttention` whose softmax takes the faster of two forms in XNNPACK for its number of keys:
    spelled out (max, subtract, exp, sum, multiply) for short rows, the SOFTMAX op for long ones."""

    @staticmethod
    def normalize(scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[-1] >= SOFTMAX_OP_FROM_KEYS:  # shapes are static at export: one form per graph
            return scores.softmax(dim=-1)
        return spelled_out_softmax(scores)


def spelled_out_softmax(scores: torch.Tensor) -> torch.Tensor:
    """softmax over the last dim as reduce-max, subtract, exp, sum and multiply (five XNNPACK ops)."""
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return e * (1.0 / e.sum(dim=-1, keepdim=True))


def _positive(x: torch.Tensor) -> torch.Tensor:
    """1.0 where x > 0, else 0.0, exactly for finite x: ceil takes any positive float to >= 1 (RELU, CEIL and
    MINIMUM all run in XNNPACK; clamp(0, 1) would lower to RELU_0_TO_1, which does not)."""
    return torch.ceil(F.relu(x)).clamp(max=1.0)


def _sum_last_dim(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=-1)


def rank_topk_mask(scores: torch.Tensor, k: int,
                   total: Callable[[torch.Tensor], torch.Tensor] = _sum_last_dim) -> torch.Tensor:
    """(..., E) 1.0 on the k largest scores, ties to the lowest index (as eval's `ordered_topk`), 0.0 elsewhere,
    in arithmetic XNNPACK runs: no comparison, argmax or one-hot, which TFLite runs outside the delegate.

    Score e is chosen when fewer than k experts come before it: rank_e = #{j: s_j > s_e} + #{j < e: s_j == s_e}.
    Exact for finite scores (router logits are): the difference of two distinct floats is never 0, and one
    that overflows to inf still reads as greater. `total` sums over the last dim (a target without a sum op
    passes a product with ones).
    """
    *lead, E = scores.shape
    diff = scores.reshape(*lead, 1, E) - scores.reshape(*lead, E, 1)  # (..., e, j): s_j - s_e
    # [e, j] = 1 where j < e, written out as a constant (`tril` would lower to run-time SELECT_V2 ops)
    before = torch.tensor([[float(j < e) for j in range(E)] for e in range(E)], dtype=scores.dtype,
                          device=scores.device)
    rank = total(_positive(diff) + (1.0 - _positive(diff.abs())) * before)  # (..., E): whole numbers
    return _positive(float(k) - rank)  # a float k: an int one becomes a dtype-cast op in ExecuTorch


class LiteRTTokenMoE(StaticTokenMoE):
    """`StaticTokenMoE` whose top-k mask is `rank_topk_mask`: the whole router stays in one XNNPACK partition."""

    def expert_mask(self, logits: torch.Tensor) -> torch.Tensor:
        return rank_topk_mask(logits, self.top_k)


class FusedSwiGLU(nn.Module):
    """`SwiGLU` with w1 and v in one linear `w_in` (rows: w1, then v): w2(silu(x w1) * (x v))."""

    def __init__(self, ffn: SwiGLU) -> None:
        super().__init__()
        self.hidden = ffn.w1.out_features
        self.w_in = nn.Linear(ffn.w1.in_features, 2 * self.hidden, bias=False)
        self.w_in.weight.data.copy_(torch.cat([ffn.w1.weight, ffn.v.weight]))
        self.w2 = ffn.w2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.w_in(x).split([self.hidden, self.hidden], dim=-1)
        return self.w2(F.silu(gate) * value)


def fold_norm_affine(norm: nn.LayerNorm, linear: nn.Linear) -> None:
    """Move `norm`'s elementwise affine into `linear`, the only reader of its output (in place)."""
    if not norm.elementwise_affine:
        return
    gain = norm.weight.detach()
    shift = norm.bias.detach() if norm.bias is not None else torch.zeros_like(gain)
    weight = linear.weight.detach()
    bias = weight @ shift + (linear.bias.detach() if linear.bias is not None else 0.0)
    linear.weight = nn.Parameter(weight * gain, requires_grad=False)
    linear.bias = nn.Parameter(bias, requires_grad=False)
    norm.elementwise_affine, norm.weight, norm.bias = False, None, None


def _ffn_input(ffn: nn.Module) -> nn.Linear | None:
    """The single linear that reads a dense feed-forward's input, where it has one.

    Not `StaticTokenMoE.w_in`: folding changes the expert weights validation finds in the file by value, and
    gained nothing measurable on mmoe_vit_xxs (its w_in has no bias and the converter leaves the affine in
    place, but the two ops cost under 1%).
    """
    if isinstance(ffn, FusedSwiGLU):
        return ffn.w_in
    if isinstance(ffn, Mlp):
        return ffn.fc1
    return None


def _replacement(child: nn.Module) -> nn.Module | None:
    if type(child) is GroupedAttention:
        return as_form(child, LiteRTAttention)
    if type(child) is StaticTokenMoE:
        return as_form(child, LiteRTTokenMoE)
    if isinstance(child, SwiGLU):
        return FusedSwiGLU(child)
    return None


def to_tflite_form(static: nn.Module) -> nn.Module:
    """A copy of `static` (a `to_static` result) in LiteRT's form; `static` is left as it is."""
    form = copy.deepcopy(static)
    replace_modules(form, _replacement)
    fold_norm_affines(form)
    return form


def fold_norm_affines(form: nn.Module) -> None:
    """Fold every block's and the final LayerNorm's affine into the linear that reads it (in place)."""
    for m in form.modules():
        if isinstance(m, Block):
            if isinstance(m.attn, GroupedAttention):
                fold_norm_affine(m.norm1, m.attn.qkv)
            reader = _ffn_input(m.ffn)
            if reader is not None:
                fold_norm_affine(m.norm2, reader)
        elif isinstance(m, VisionTransformer):  # pooling (class token or mean) commutes with the affine
            fold_norm_affine(m.norm, m.head)
