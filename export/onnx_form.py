"""onnxruntime's own export form: one ONNX op wherever onnxruntime has a kernel for a block's whole job.

`to_onnx_form(static, opset)` takes `to_static`'s result and returns a copy with two swaps. Batch-1 latency of
these ~75 MFLOP models depends on how many kernels run as much as on FLOPs, so each swap removes nodes:

- `GroupedAttention` -> `OnnxAttention` (opset 23-25): q, k, v are split from the fused qkv projection and
  handed as (B, N, heads * d) to ONNX's `Attention` op, which does grouped-query heads natively (`q_num_heads`,
  `kv_num_heads`; query head h reads kv head h // rep, as the model's `repeat_interleave`). One kernel instead of
  the per-head Reshape / Transpose / MatMul / Softmax chain. In PyTorch the op is the custom op
  `edgevit::attention`, whose implementation is `GroupedAttention`'s arithmetic, so the module runs (and is
  equivalence-tested) in eager PyTorch too; `onnx_translations()` tells the exporter which ONNX op it becomes.
  With RoPE the rotation sits between the head split and the product, so that form stays portable.
- `StaticTokenMoE` -> `TopKTokenMoE` (any opset): `TopK`, `Softmax` over the k values and `ScatterElements` of
  them into dense gates, instead of k argmax rounds with comparison one-hots; the feed-forward kept on
  (B, N, D): the MoE's projections have no bias, so they export as MatMuls with no reshape around a Gemm;
  and the experts mixed by one batched MatMul instead of Mul + ReduceSum.
  ONNX's TopK puts equal values in index order, as eval-mode `ordered_topk` does.

This form is onnxruntime's alone: TFLite's interpreter rejects the sort TopK lowers to, and no other converter
knows `edgevit::attention` (LiteRT and ExecuTorch have their own forms, `tflite_form` and `executorch_form`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgevit.export.routing import GroupedAttention, StaticTokenMoE, as_form, replace_modules

# Opsets whose `Attention` schema takes the 3-D q/k/v this form emits: 23 is the first with the op; opset 26's
# onnxruntime rejects the node (exports there keep the portable attention).
ATTENTION_OPSETS = range(23, 26)


@torch.library.custom_op("edgevit::attention", mutates_args=())
def grouped_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int,
                      num_kv_heads: int) -> torch.Tensor:
    """softmax(q k^T) v with heads packed in the last dim: q (B, N, H*d), k and v (B, N, Hkv*d) -> (B, N, H*d).

    The scale is already folded into q (as in `GroupedAttention`); the ONNX op gets `scale=1`.
    """
    B, N, C = q.shape
    Hkv, rep, d = num_kv_heads, num_heads // num_kv_heads, C // num_heads
    qh = q.reshape(B, N, Hkv, rep, d).permute(0, 2, 3, 1, 4).reshape(B, Hkv, rep * N, d)
    kt = k.reshape(B, N, Hkv, d).permute(0, 2, 3, 1)  # (B, Hkv, d, N)
    vh = v.reshape(B, N, Hkv, d).permute(0, 2, 1, 3)  # (B, Hkv, N, d)
    out = (qh @ kt).softmax(dim=-1) @ vh  # (B, Hkv, rep*N, d)
    return out.reshape(B, Hkv, rep, N, d).permute(0, 3, 1, 2, 4).reshape(B, N, C)


@grouped_attention.register_fake
def _(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int, num_kv_heads: int) -> torch.Tensor:
    return q.new_empty(q.shape)


class OnnxAttention(GroupedAttention):
    """`GroupedAttention` whose core is one `edgevit::attention` call (ONNX `Attention`, 3-D inputs)."""

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if rope is not None:
            return super().forward(x, rope)
        C, kv = x.shape[-1], self.num_kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([C, kv, kv], dim=-1)
        return self.proj(grouped_attention(q, k, v, self.num_heads, self.num_kv_heads))


class TopKTokenMoE(StaticTokenMoE):
    """`StaticTokenMoE` with a TopK router and no flattening: gates (B, N, E) with k non-zeros per token."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        logits, u, vx = self.w_in(x).split(self.splits, dim=-1)  # (B, N, E), (B, N, E*hidden), (B, N, hidden)
        vals, idx = logits.topk(self.top_k, dim=-1)
        # `logits * 0`: zeros in one Mul where zeros_like exports as Shape + Expand (router logits are finite)
        gates = (logits * 0).scatter(-1, idx, vals.softmax(dim=-1))
        h = F.silu(u).view(B * N, self.num_experts, self.hidden)
        # one batched MatMul (T, 1, E) @ (T, E, hidden) mixes the experts: 3% faster than Mul + ReduceSum
        mixed = torch.bmm(gates.view(B * N, 1, self.num_experts), h).view(B, N, self.hidden)
        return self.w2(mixed * vx)


def to_onnx_form(static: nn.Module, opset: int) -> nn.Module:
    """A copy of `static` (a `to_static` result) in onnxruntime's form for `opset`; `static` is left as it is."""
    fused_attention = opset in ATTENTION_OPSETS

    def replacement(child: nn.Module) -> nn.Module | None:
        if type(child) is StaticTokenMoE:
            return as_form(child, TopKTokenMoE)
        if fused_attention and type(child) is GroupedAttention:
            return as_form(child, OnnxAttention)
        return None

    onnx_form = copy.deepcopy(static)
    replace_modules(onnx_form, replacement)
    return onnx_form


def onnx_translations() -> dict[Any, Any]:
    """The exporter's `custom_translation_table` for the ops this form adds (imports onnxscript)."""
    from onnxscript import opset23 as op

    def attention(q: Any, k: Any, v: Any, num_heads: int, num_kv_heads: int) -> Any:
        y, _, _, _ = op.Attention(q, k, v, q_num_heads=num_heads, kv_num_heads=num_kv_heads, scale=1.0)
        return y

    return {torch.ops.edgevit.attention.default: attention}
