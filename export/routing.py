"""Static routing: swap every MoE layer (and attention) for its export form, like re-parameterisation.

`to_static(model, routing)` returns a copy of `model` in eval mode whose forward has fixed shapes and no
data-dependent control flow, computing the function the eval-mode PyTorch model computes:

- `SharedSwiGLUMoE` (token-level top-k, mMoE-ViT) -> `StaticTokenMoE`: the router's clean logits, a top-k mask
  by k rounds of argmax with comparison one-hots (no `torch.topk`: TFLite's interpreter rejects the STABLEHLO_SORT
  it can lower to; no `F.one_hot`), a dense gate vector (softmax restricted to the mask), then the shared-V/W2
  identity (`xV`, `W2` once per token, all `W_e` in one matmul). Token-level gathers cost far more than the one stacked matmul on every runtime
  measured (TOOLCHAIN.md), so this one form serves both `static` and `dense` routing.
- `PerImageRouter` (Mobile V-MoE) -> `StaticImageRouter`: softmax, then argmax-top-k on the class (or mean) token.
- `PerImageExperts` -> `GatherImageExperts` (`static`: the k chosen experts' stacked weights gathered with
  `index_select`, batched matmul, so only k experts' FLOPs run) or `DenseImageExperts` (`dense`: every expert for
  every image, combined with a dense gate vector that is zero off the chosen experts; for converters that reject
  gather, and for comparison).
  `int8_expert_stacks` turns a `GatherImageExperts` into `Int8GatherImageExperts` (int8 stacks, dequantized
  after the gather) for int8 exports whose quantizer leaves gathered weights in float (LiteRT; ExecuTorch's
  form stores them the same way, `executorch_form.Int8BmmImageExperts`).
- `Attention` (softmax) -> `GroupedAttention`: q/k/v from one fused linear (the 1/sqrt(d) scale folded into
  the q rows), explicit matmul-softmax, and grouped-query heads computed *without repeating* k/v: the query heads
  that share a kv head are stacked as extra rows of one matmul, `(B, Hkv, rep*N, d) @ (B, Hkv, d, N)`. Fewer ops
  than repeat + matmul-softmax in ONNX and LiteRT, no extra FLOPs, and no `BROADCAST_TO` for litert-torch to mis-fold: its
  converter rewrote the k transpose after a multi-query (`num_kv_heads=1`) repeat into a RESHAPE, a different
  function (max logit diff 0.15-0.55 on a trained mmoe_vit_xxs; see tests/export/test_config_grid.py).
- Other attention kinds keep the model's own code with `exportable = True`, their kv heads repeated in the
  kv projection's weights (exact, static, no repeat op) for the same reason.

Ties: argmax rounds pick the lowest expert index among equal scores. `torch.topk` breaks exact ties
arbitrarily, so a router with exactly tied logits (a zero-initialised, untrained router) is ill-defined in
eager PyTorch; trained routers have no exact ties.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from edgevit.export.formats import ROUTINGS
from edgevit.models.layers.attention import Attention
from edgevit.models.layers.embeddings import apply_rope
from edgevit.models.layers.moe import PerImageExperts, PerImageRouter, SharedSwiGLUMoE

M = TypeVar("M", bound=nn.Module)


def argmax_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-k over the last dim by k argmax rounds -> values (..., k), indices (..., k), one-hots (..., k, E).

    Masked scores are pushed below the row minimum (no large constants: safe in fp16). Ties go to the lowest index.
    """
    num = scores.shape[-1]
    ar = torch.arange(num, device=scores.device)
    floor = scores.amin(dim=-1, keepdim=True) - 1.0
    cur = scores
    vals, idxs, hots = [], [], []
    for _ in range(k):
        i = cur.argmax(dim=-1)  # (...)
        hot = i.unsqueeze(-1) == ar  # (..., E) bool, comparison one-hot
        vals.append((scores * hot.to(scores.dtype)).sum(-1))
        idxs.append(i)
        hots.append(hot)
        cur = torch.where(hot, floor, cur)
    return torch.stack(vals, -1), torch.stack(idxs, -1), torch.stack(hots, -2).to(scores.dtype)


def topk_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean (..., E) mask of the k largest scores by k argmax rounds (ties to the lowest index, as eval)."""
    ar = torch.arange(scores.shape[-1], device=scores.device)
    floor = scores.amin(dim=-1, keepdim=True) - 1.0
    cur, mask = scores, None
    for r in range(k):
        hot = cur.argmax(dim=-1, keepdim=True) == ar  # (..., E) comparison one-hot
        mask = hot if mask is None else torch.logical_or(mask, hot)  # Core ML has no `|` (aten __or__)
        if r + 1 < k:
            cur = torch.where(hot, floor, cur)
    assert mask is not None
    return mask


class StaticTokenMoE(nn.Module):
    """Export form of `SharedSwiGLUMoE`: dense gates from an argmax-top-k mask, one matmul for router, W_e and V.

    Gates are the softmax over the k chosen logits, written densely: exp(l - max l) on the mask, normalised.
    The top-1 logit is the row max, so this equals eval's softmax of the top-k values scattered to (T, E),
    in about half the graph nodes of stacking per-round values and one-hots. The router, all W_e and V read the
    same tokens and have no bias, so their weights are stacked into `w_in`: one matrix product (and, in dynamic
    int8, one activation quantization) instead of three.
    """

    def __init__(self, moe: SharedSwiGLUMoE) -> None:
        super().__init__()
        self.num_experts, self.hidden, self.top_k = moe.num_experts, moe.hidden, moe.router.top_k
        weights = [moe.router.w_gate.weight, moe.w_experts.weight, moe.v.weight]  # (E | E*hidden | hidden, D)
        self.splits = [w.shape[0] for w in weights]
        self.w_in = nn.Linear(weights[0].shape[1], sum(self.splits), bias=False)
        self.w_in.weight.data.copy_(torch.cat(weights))
        self.w2 = moe.w2

    def expert_mask(self, logits: torch.Tensor) -> torch.Tensor:
        """(T, E) 1.0 on each token's top-k experts (ties to the lowest index), 0.0 elsewhere."""
        return topk_mask(logits, self.top_k).to(logits.dtype)

    def expert_weights(self) -> torch.Tensor:
        """All W_e as (E, hidden, D), sliced out of `w_in`."""
        E = self.splits[0]
        return self.w_in.weight[E:E + self.splits[1]].view(self.num_experts, self.hidden, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        flat = x.reshape(B * N, D)
        logits, u, vx = self.w_in(flat).split(self.splits, dim=-1)  # (T, E), (T, E*hidden), (T, hidden)
        e = torch.exp(logits - logits.amax(dim=-1, keepdim=True)) * self.expert_mask(logits)
        gates = e / e.sum(dim=-1, keepdim=True)  # (T, E) dense, k non-zeros
        h = F.silu(u).view(B * N, self.num_experts, self.hidden)
        mixed = (gates.unsqueeze(-1) * h).sum(1)
        return self.w2(mixed * vx).view(B, N, D)


class StaticImageRouter(nn.Module):
    """Export form of `PerImageRouter`: same (indices, gates) as eval, top-k by argmax rounds, no bookkeeping."""

    def __init__(self, router: PerImageRouter) -> None:
        super().__init__()
        self.num_experts, self.top_k, self.source = router.num_experts, router.top_k, router.source
        self.norm, self.proj = router.norm, router.proj

    def forward(self, tokens: torch.Tensor, has_cls: bool) -> tuple[torch.Tensor, torch.Tensor]:
        feat = tokens[:, 0] if (self.source == "cls" and has_cls) else tokens[:, int(has_cls):].mean(1)
        probs = self.proj(self.norm(feat)).softmax(-1)  # (B, E)
        gates, idx, _ = argmax_topk(probs, self.top_k)
        return idx, gates


class GatherImageExperts(nn.Module):
    """Per-image experts, static: gather the k chosen experts' stacked weights, batched matmul (k experts' FLOPs)."""

    def __init__(self, experts: PerImageExperts) -> None:
        super().__init__()
        self.num_experts = experts.num_experts
        self.w1, self.b1, self.w2, self.b2 = experts.w1, experts.b1, experts.w2, experts.b2

    def gathered_weights(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The chosen experts' W1 (B*k, D, H) and W2 (B*k, H, D), for expert indices `flat` (B*k,)."""
        return self.w1.index_select(0, flat), self.w2.index_select(0, flat)

    def forward(self, x: torch.Tensor, idx: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        B, k = idx.shape
        flat = idx.reshape(-1)
        w1, w2 = self.gathered_weights(flat)
        D, H = w1.shape[-2:]
        b1 = self.b1.index_select(0, flat).view(B, k, 1, H)
        b2 = self.b2.index_select(0, flat).view(B, k, 1, D)
        h = F.gelu(x.unsqueeze(1) @ w1.view(B, k, D, H) + b1)  # (B, k, N, H)
        y = h @ w2.view(B, k, H, D) + b2  # (B, k, N, D)
        return (gates.view(B, k, 1, 1) * y).sum(1)


class Int8GatherImageExperts(GatherImageExperts):
    """`GatherImageExperts` with the expert stacks stored in int8: each expert's weight matrix quantized
    symmetrically per output channel, dequantized after the gather (only the k chosen experts' weights).

    For int8 quantizers that take only linear/conv weights (ai-edge-quantizer's dynamic and weight-only recipes;
    ExecuTorch's form builds on it): the gathered stacks are most of a Mobile V-MoE's bytes and would stay fp32.
    """

    def __init__(self, experts: GatherImageExperts) -> None:
        nn.Module.__init__(self)
        self.num_experts, self.b1, self.b2 = experts.num_experts, experts.b1, experts.b2
        for name in ("w1", "w2"):  # (E, in, out): one scale per expert and output channel
            w = getattr(experts, name).detach()
            scale = (w.abs().amax(dim=1, keepdim=True) / 127).clamp_min(torch.finfo(w.dtype).tiny)
            self.register_buffer(f"{name}_q", torch.round(w / scale).clamp(-127, 127).to(torch.int8))
            self.register_buffer(f"{name}_scale", scale)

    def gathered_weights(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        def dequantized(name: str) -> torch.Tensor:
            q, scale = getattr(self, f"{name}_q"), getattr(self, f"{name}_scale")
            return q.index_select(0, flat).to(scale.dtype) * scale.index_select(0, flat)

        return dequantized("w1"), dequantized("w2")


def int8_expert_stacks(static: nn.Module) -> nn.Module:
    """A copy of `static` (a `to_static` result) whose gathered expert stacks are int8 (`Int8GatherImageExperts`)."""
    out = copy.deepcopy(static)
    for module in list(out.modules()):
        for name, child in list(module.named_children()):
            if type(child) is GatherImageExperts:
                setattr(module, name, Int8GatherImageExperts(child))
    return out


class DenseImageExperts(nn.Module):
    """Per-image experts, dense fallback: every expert for every image, masked by a dense gate vector."""

    def __init__(self, experts: PerImageExperts) -> None:
        super().__init__()
        self.num_experts = experts.num_experts
        self.w1, self.b1, self.w2, self.b2 = experts.w1, experts.b1, experts.w2, experts.b2

    def forward(self, x: torch.Tensor, idx: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        E = self.num_experts
        hot = (idx.unsqueeze(-1) == torch.arange(E, device=idx.device)).to(gates.dtype)  # (B, k, E)
        dense = (gates.unsqueeze(-1) * hot).sum(1)  # (B, E)
        h = F.gelu(x.unsqueeze(1) @ self.w1 + self.b1.unsqueeze(1))  # (B, E, N, H)
        y = h @ self.w2 + self.b2.unsqueeze(1)  # (B, E, N, D)
        return (dense[:, :, None, None] * y).sum(1)


class GroupedAttention(nn.Module):
    """Export form of softmax `Attention`: one fused qkv matmul, grouped-query heads as stacked rows, no repeat.

    Query head h uses kv head h // rep (as `repeat_interleave` in the model), so viewing the q heads as
    (Hkv, rep) and stacking `rep` next to the tokens gives each kv head one (rep*N, d) @ (d, N) matmul.
    """

    def __init__(self, attn: Attention) -> None:
        super().__init__()
        H, Hkv, d = attn.num_heads, attn.num_kv_heads, attn.head_dim
        self.num_heads, self.num_kv_heads, self.head_dim, self.rep = H, Hkv, d, H // Hkv
        scale = d**-0.5
        w = torch.cat([attn.q.weight * scale, attn.kv.weight])
        self.qkv = nn.Linear(w.shape[1], w.shape[0], bias=attn.q.bias is not None)
        self.qkv.weight.data.copy_(w)
        if attn.q.bias is not None:
            self.qkv.bias.data.copy_(torch.cat([attn.q.bias * scale, attn.kv.bias]))
        self.proj = attn.proj

    @staticmethod
    def normalize(scores: torch.Tensor) -> torch.Tensor:
        """Attention weights from scores, over the keys (the last dim); a target's form may spell it out."""
        return scores.softmax(dim=-1)

    @staticmethod
    def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The scores' and the output's batched products; a target's form may write them as 3-D bmm."""
        return a @ b

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        B, N, C = x.shape
        Hkv, rep, d = self.num_kv_heads, self.rep, self.head_dim
        qkv = self.qkv(x)  # (B, N, C + 2*Hkv*d): q heads, then k heads, then v heads
        q = qkv[..., :C].reshape(B, N, Hkv, rep, d).permute(0, 2, 3, 1, 4)  # (B, Hkv, rep, N, d)
        k = qkv[..., C:C + Hkv * d].reshape(B, N, Hkv, d)
        v = qkv[..., C + Hkv * d:].reshape(B, N, Hkv, d).permute(0, 2, 1, 3)  # (B, Hkv, N, d)
        if rope is None:
            kt = k.permute(0, 2, 3, 1)  # (B, Hkv, d, N) in one transpose
        else:  # q was scaled before rotation: rotation is linear, so the scale commutes
            q = apply_rope(q, rope)
            kt = apply_rope(k.permute(0, 2, 1, 3), rope).transpose(-2, -1)
        attn = self.normalize(self.matmul(q.reshape(B, Hkv, rep * N, d), kt))  # (B, Hkv, rep*N, N)
        out = self.matmul(attn, v).reshape(B, Hkv, rep, N, d).permute(0, 3, 1, 2, 4)  # (B, N, Hkv, rep, d)
        return self.proj(out.reshape(B, N, C))


def _repeat_kv_weights(attn: Attention) -> None:
    """Give `attn` one kv head per query head by repeating the kv projection's rows (exact, no repeat op)."""
    if attn.num_kv_heads == attn.num_heads:
        return
    rep, d, Hkv = attn.num_heads // attn.num_kv_heads, attn.head_dim, attn.num_kv_heads
    old = attn.kv
    idx = torch.arange(2 * Hkv * d).view(2, Hkv, 1, d).expand(2, Hkv, rep, d).reshape(-1)
    new = nn.Linear(old.in_features, idx.numel(), bias=old.bias is not None)
    new.weight.data.copy_(old.weight[idx])
    if old.bias is not None:
        new.bias.data.copy_(old.bias[idx])
    attn.kv, attn.num_kv_heads = new, attn.num_heads


def _swap(model: nn.Module, routing: str) -> int:
    """Replace MoE submodules in place; returns how many were swapped."""
    swapped = 0
    for name, child in list(model.named_children()):
        if isinstance(child, SharedSwiGLUMoE):
            new: nn.Module | None = StaticTokenMoE(child)
        elif isinstance(child, PerImageRouter):
            new = StaticImageRouter(child)
        elif isinstance(child, PerImageExperts):
            new = GatherImageExperts(child) if routing == "static" else DenseImageExperts(child)
        elif isinstance(child, Attention):
            if child.kind == "softmax":
                setattr(model, name, GroupedAttention(child))
            else:
                _repeat_kv_weights(child)
                child.exportable = True
            continue
        else:
            new = None
        if new is not None:
            setattr(model, name, new)
            swapped += 1
        else:
            swapped += _swap(child, routing)
    return swapped


def replace_modules(module: nn.Module, replacement: Callable[[nn.Module], nn.Module | None]) -> None:
    """Swap, in place, each submodule for `replacement(child)` where that is a module; look inside the others."""
    for name, child in list(module.named_children()):
        new = replacement(child)
        if new is None:
            replace_modules(child, replacement)
        else:
            setattr(module, name, new)


def as_form(module: M, form: type[M]) -> M:
    """`module` as a target form's subclass of its type: the same submodules, parameters and settings, the
    subclass's forward (a runtime's own way of computing the same function)."""
    if not issubclass(form, type(module)):
        raise TypeError(f"{form.__name__} is not a form of {type(module).__name__}")
    new = form.__new__(form)
    new.__dict__.update(module.__dict__)
    new._parameters, new._buffers, new._modules = (
        dict(module._parameters), dict(module._buffers), dict(module._modules))
    return new


def to_static(model: nn.Module, routing: str = "static") -> nn.Module:
    """A copy of `model` in its export form (eval mode, static MoE routing, explicit attention).

    The copy shares no state with `model` (the original keeps training). `routing` is recorded on the result as
    `edgevit_routing`: `static` / `dense` for MoE models, `none` for dense ones.
    """
    if routing not in ROUTINGS:
        raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
    static = copy.deepcopy(model).eval()
    n = _swap(static, routing)
    for p in static.parameters():
        p.requires_grad_(False)
    for m in static.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    static.edgevit_routing = routing if n else "none"
    return static


def routing_of(model: nn.Module) -> str:
    return str(getattr(model, "edgevit_routing", "none"))


def expert_tensors(model: nn.Module) -> dict[str, list[torch.Tensor]]:
    """Each MoE layer's per-expert weight tensors (from the eager model or its static form), for graph checks."""
    out: dict[str, list[torch.Tensor]] = {}
    for name, m in model.named_modules():
        if isinstance(m, SharedSwiGLUMoE | StaticTokenMoE):
            w = (m.expert_weights() if isinstance(m, StaticTokenMoE) else
                 m.w_experts.weight.view(m.num_experts, m.hidden, -1)).detach()
            out[name] = [w[e] for e in range(m.num_experts)]
        elif isinstance(m, PerImageExperts | GatherImageExperts | DenseImageExperts):
            out[name] = [torch.cat([m.w1[e].flatten(), m.w2[e].flatten()]).detach() for e in range(m.num_experts)]
    return out


class NHWCInput(nn.Module):
    """Take NHWC input (mobile camera buffers) and permute it to NCHW; converters fold this into the stem."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x.permute(0, 3, 1, 2))
