"""ExecuTorch's own export form: every op of the block in ops its XNNPACK partitioner takes.

`to_executorch_form(static)` takes `to_static`'s result and returns a copy in which nothing between the patch
embedding and the head falls back to ExecuTorch's portable kernels (reference loops, each one a break between
XNNPACK partitions). The partitioner (executorch 1.5) has no LayerNorm, sum, amax, argmax, comparison or
split, and a 4-D matmul reaches it as expand copies around a 3-D bmm. Mobile V-MoE's per-image expert gathers
(`index_select`), its router's argmax and the class token's copy stay on portable kernels.

- `nn.LayerNorm` -> `MatmulLayerNorm`: the two means as products with a constant (D, 1) column of 1/D, then
  subtract, multiply, add, rsqrt; its affine folded into the linear that reads it, as in LiteRT's form.
- `GroupedAttention` -> `BmmAttention`: the same heads as 3-D `bmm`s, softmax kept (XNNPACK has it).
- `StaticTokenMoE` -> `ExecuTorchTokenMoE`: slices of `w_in`'s output instead of a split, the top-k mask
  from each expert's rank (`rank_topk_mask`, its count written as a product with a column of ones), the
  gates as softmax times mask over its sum (the same numbers: the softmax's denominator cancels), and the
  experts mixed by one `bmm` instead of a multiply and sum.
- `SwiGLU` -> `SlicedSwiGLU`: w1 and v in one linear (`FusedSwiGLU`, as in LiteRT's form), halves as slices.
- `GatherImageExperts` (Mobile V-MoE) -> `BmmImageExperts`: the k chosen experts of each image as 3-D bmms
  over (batch x k), biases gathered as (B*k, 1, out) views. With `int8_stacks` (int8 exports) ->
  `Int8BmmImageExperts`: the stacks stored in int8 (`Int8GatherImageExperts`' rounding), the gathered int8
  weights turned into floats by a `dequantize_per_tensor` at scale 1, which the partitioner hands to XNNPACK
  (a dtype cast would run on a portable kernel, slower than the fp32 gather it replaces), and each expert's
  per-channel scale applied to the product's output instead of the weights (the same numbers up to rounding).
"""

from __future__ import annotations

import copy

import torch
import torch.ao.quantization.fx._decomposed  # noqa: F401  (registers torch.ops.quantized_decomposed)
import torch.nn.functional as F
from torch import nn

from edgevit.export.routing import (
    GatherImageExperts,
    GroupedAttention,
    Int8GatherImageExperts,
    StaticTokenMoE,
    as_form,
    replace_modules,
)
from edgevit.export.tflite_form import FusedSwiGLU, fold_norm_affines, rank_topk_mask
from edgevit.models.layers.mlp import SwiGLU


class MatmulLayerNorm(nn.Module):
    """`nn.LayerNorm` over the last dim with its means as products with a (D, 1) column of 1/D."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        (dim,) = norm.normalized_shape
        self.eps = norm.eps
        self.register_buffer("mean_col", torch.full((dim, 1), 1.0 / dim), persistent=False)
        self.weight = norm.weight if norm.elementwise_affine else None
        self.bias = norm.bias if norm.elementwise_affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x @ self.mean_col
        y = centred * torch.rsqrt(centred * centred @ self.mean_col + self.eps)
        if self.weight is not None:
            y = y * self.weight
        return y if self.bias is None else y + self.bias


class BmmAttention(GroupedAttention):
    """`GroupedAttention` with its two products as 3-D `bmm`s over (batch x kv heads)."""

    @staticmethod
    def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        lead = a.shape[:-2]
        out = torch.bmm(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]))
        return out.reshape(*lead, a.shape[-2], b.shape[-1])


class ExecuTorchTokenMoE(StaticTokenMoE):
    """`StaticTokenMoE` in ops ExecuTorch's XNNPACK partitioner takes (slices, softmax, products); its sums over
    the experts are products with `ones`, a constant (E, 1) column (XNNPACK has no sum)."""

    ones: torch.Tensor

    def _sum_experts(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.ones).reshape(x.shape[:-1])

    def expert_mask(self, logits: torch.Tensor) -> torch.Tensor:
        return rank_topk_mask(logits, self.top_k, total=self._sum_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        T, E, hidden = B * N, self.num_experts, self.hidden
        y = self.w_in(x.reshape(T, D))
        logits, u, vx = y[:, :E], y[:, E:E + E * hidden], y[:, E + E * hidden:]
        chosen = logits.softmax(dim=-1) * self.expert_mask(logits)
        gates = chosen / (chosen @ self.ones)  # (T, E): softmax over the k chosen logits
        h = F.silu(u).view(T, E, hidden)
        mixed = torch.bmm(gates.view(T, 1, E), h).view(T, hidden)
        return self.w2(mixed * vx).view(B, N, D)


class SlicedSwiGLU(FusedSwiGLU):
    """`FusedSwiGLU` taking its two halves as slices (ExecuTorch's `split` copy is a portable kernel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.w_in(x)
        return self.w2(F.silu(y[..., :self.hidden]) * y[..., self.hidden:])


class BmmImageExperts(GatherImageExperts):
    """`GatherImageExperts` as 3-D bmms over (batch x k): x (B, N, D) -> (B, N, D)."""

    def expert_product(self, x: torch.Tensor, name: str, flat: torch.Tensor) -> torch.Tensor:
        """x (B*k, N, in) times the chosen experts' weight `name` ("w1" or "w2"): (B*k, N, out)."""
        return torch.bmm(x, getattr(self, name).index_select(0, flat))

    def forward(self, x: torch.Tensor, idx: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        B, k = idx.shape
        N, D = x.shape[1:]
        flat = idx.reshape(-1)
        xk = x if k == 1 else x.repeat_interleave(k, dim=0)  # (B*k, N, D)
        b1 = self.b1.index_select(0, flat).view(B * k, 1, -1)
        h = F.gelu(self.expert_product(xk, "w1", flat) + b1)  # (B*k, N, H)
        y = self.expert_product(h, "w2", flat) + self.b2.index_select(0, flat).view(B * k, 1, D)
        if k == 1:
            return gates.view(B, 1, 1) * y
        return torch.bmm(gates.view(B, 1, k), y.view(B, k, N * D)).view(B, N, D)  # the gated sum over k


class Int8BmmImageExperts(BmmImageExperts, Int8GatherImageExperts):
    """`BmmImageExperts` with `Int8GatherImageExperts`' int8 stacks: the gathered int8 weights become floats in
    XNNPACK, and each expert's per-output-channel scale multiplies the product (x @ (q * s) = (x @ q) * s)."""

    def expert_product(self, x: torch.Tensor, name: str, flat: torch.Tensor) -> torch.Tensor:
        q = getattr(self, f"{name}_q").index_select(0, flat)
        w = torch.ops.quantized_decomposed.dequantize_per_tensor(q, 1.0, 0, -127, 127, torch.int8)
        return torch.bmm(x, w) * getattr(self, f"{name}_scale").index_select(0, flat)


def _token_moe(moe: StaticTokenMoE) -> ExecuTorchTokenMoE:
    form = as_form(moe, ExecuTorchTokenMoE)
    form.register_buffer("ones", torch.ones(moe.num_experts, 1, device=moe.w_in.weight.device), persistent=False)
    return form


def to_executorch_form(static: nn.Module, int8_stacks: bool = False) -> nn.Module:
    """A copy of `static` (a `to_static` result) in ExecuTorch's form, Mobile V-MoE's gathered expert stacks in
    int8 if `int8_stacks`; `static` is left as it is."""

    def replacement(child: nn.Module) -> nn.Module | None:
        if type(child) is GroupedAttention:
            return as_form(child, BmmAttention)
        if type(child) is StaticTokenMoE:
            return _token_moe(child)
        if isinstance(child, SwiGLU):
            return as_form(FusedSwiGLU(child), SlicedSwiGLU)
        if type(child) is GatherImageExperts:
            return Int8BmmImageExperts(child) if int8_stacks else as_form(child, BmmImageExperts)
        return None

    form = copy.deepcopy(static)
    replace_modules(form, replacement)
    fold_norm_affines(form)
    replace_modules(form, lambda m: MatmulLayerNorm(m) if isinstance(m, nn.LayerNorm) else None)
    return form
