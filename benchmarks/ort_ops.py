"""What single onnxruntime kernels cost at the flagship's shapes: the price of each node an export form keeps.

The flagship (mmoe_vit_xxs at 24 px) runs 65 tokens of width 108, 6 query heads on 3 kv heads of 18. Each
case here is a small graph of one block's job, built with `onnx.helper`, run single-threaded at batch 1 (and
64), timed interleaved with the others: the median over `--rounds` rounds of each round's p50. The cases:

- dispatch: a chain of 100 no-copy Reshapes, per node: what any node costs before it computes anything;
- elementwise and normalisation kernels at (65, 108): Add, LayerNormalization, the residual-add + LayerNorm
  pair against com.microsoft `SkipLayerNormalization` (the fusion onnxruntime's transformer optimizer makes);
- attention: the ONNX form's qkv MatMul + Add + Split + ONNX `Attention` (grouped-query heads native)
  against com.microsoft `Attention` (the projection inside, K/V heads repeated to 6) and com.microsoft
  `MultiHeadAttention`, and the ONNX Attention alone against a MatMul / Softmax / MatMul chain on heads
  already laid out (the transposes its inputs need are not counted).

Every alternative is checked to give the same output as the form's own graph before it is timed.

    python benchmarks/ort_ops.py            # writes benchmarks/results/ort-ops.{json,md}
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import RESULTS, machine_line, md_table, write_json

N, C, HEADS, KV_HEADS = 65, 108, 6, 3
D = C // HEADS
KV = KV_HEADS * D


def session(nodes: list, inputs: list[str], inits: dict[str, np.ndarray], ms: bool = False):
    """A single-threaded session of a graph of `nodes` reading float `inputs` and writing `y`."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    graph = helper.make_graph(nodes, "case", [helper.make_tensor_value_info(i, 1, None) for i in inputs],
                              [helper.make_tensor_value_info("y", 1, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", 23)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def repeat_kv(w: np.ndarray) -> np.ndarray:
    """(..., KV_HEADS * D) -> (..., HEADS * D): query head h reads kv head h // (HEADS // KV_HEADS)."""
    lead = w.shape[:-1]
    rep = HEADS // KV_HEADS
    return np.broadcast_to(w.reshape(*lead, KV_HEADS, 1, D), (*lead, KV_HEADS, rep, D)).reshape(*lead, C)


def cases(rng: np.random.Generator) -> dict[str, tuple]:
    """name -> (session, feeds by batch size function, reference case or None)."""
    from onnx import helper as h

    def rand(*shape: int) -> np.ndarray:
        return (0.3 * rng.standard_normal(shape)).astype(np.float32)

    w, b, gamma, beta, bias = rand(C, C + 2 * KV), rand(C + 2 * KV), rand(C), rand(C), rand(C)
    x, r = rand(1, N, C), rand(1, N, C)
    out: dict[str, tuple] = {}

    def add(name, nodes, feeds, inits, ref=None, ms=False):
        out[name] = (session(nodes, list(feeds), inits, ms), feeds, ref)

    chain = [h.make_node("Reshape", ["x" if i == 0 else f"t{i - 1}", "shape"], [f"t{i}" if i < 99 else "y"])
             for i in range(100)]
    add("100 Reshapes (no copy)", chain, {"x": x}, {"shape": np.array([-1, N, C])})
    add("Add (65 x 108)", [h.make_node("Add", ["x", "r"], ["y"])], {"x": x, "r": r}, {})
    add("LayerNormalization (65 x 108)", [h.make_node("LayerNormalization", ["x", "g", "b"], ["y"])], {"x": x},
        {"g": gamma, "b": beta})
    add("bias Add + residual Add + LayerNormalization",
        [h.make_node("Add", ["x", "bias"], ["xb"]), h.make_node("Add", ["r", "xb"], ["s"]),
         h.make_node("LayerNormalization", ["s", "g", "b"], ["y"])],
        {"x": x, "r": r}, {"g": gamma, "b": beta, "bias": bias})
    add("com.microsoft SkipLayerNormalization (with bias)",
        [h.make_node("SkipLayerNormalization", ["x", "r", "g", "b", "bias"], ["y"], domain="com.microsoft")],
        {"x": x, "r": r}, {"g": gamma, "b": beta, "bias": bias}, ref="bias Add + residual Add + LayerNormalization",
        ms=True)

    form = "qkv MatMul + Add + Split + ONNX Attention (the ONNX form)"
    add(form, [h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["m", "b"], ["qkv"]),
               h.make_node("Split", ["qkv", "sizes"], ["q", "k", "v"], axis=-1),
               h.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=HEADS, kv_num_heads=KV_HEADS, scale=1.0)],
        {"x": x}, {"w": w, "b": b, "sizes": np.array([C, KV, KV])})
    wq, wk, wv = w[:, :C], w[:, C:C + KV], w[:, C + KV:]
    bq, bk, bv = b[:C], b[C:C + KV], b[C + KV:]
    w_mha = np.concatenate([wq, repeat_kv(wk), repeat_kv(wv)], 1)
    b_mha = np.concatenate([bq, repeat_kv(bk), repeat_kv(bv)])
    add("com.microsoft Attention (projection inside, K/V heads repeated)",
        [h.make_node("Attention", ["x", "w", "b"], ["y"], domain="com.microsoft", num_heads=HEADS, scale=1.0)],
        {"x": x}, {"w": w_mha, "b": b_mha}, ref=form, ms=True)
    add("qkv MatMul + Add + Split + com.microsoft MultiHeadAttention",
        [h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["m", "b"], ["qkv"]),
         h.make_node("Split", ["qkv", "sizes"], ["q", "k", "v"], axis=-1),
         h.make_node("MultiHeadAttention", ["q", "k", "v"], ["y"], domain="com.microsoft", num_heads=HEADS,
                     scale=1.0)],
        {"x": x}, {"w": w_mha, "b": b_mha, "sizes": np.array([C, C, C])}, ref=form, ms=True)

    q, k, v = rand(1, N, C), rand(1, N, KV), rand(1, N, KV)
    alone = "ONNX Attention alone (q, k, v given)"
    add(alone, [h.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=HEADS, kv_num_heads=KV_HEADS,
                            scale=1.0)], {"q": q, "k": k, "v": v}, {})
    rep = HEADS // KV_HEADS
    q_rows = q.reshape(1, N, KV_HEADS, rep, D).transpose(0, 2, 3, 1, 4).reshape(1, KV_HEADS, rep * N, D)
    k_t = np.ascontiguousarray(k.reshape(1, N, KV_HEADS, D).transpose(0, 2, 3, 1))
    v_h = np.ascontiguousarray(v.reshape(1, N, KV_HEADS, D).transpose(0, 2, 1, 3))
    add("MatMul + Softmax + MatMul on laid-out heads (input transposes not counted)",
        [h.make_node("MatMul", ["q", "kt"], ["s"]), h.make_node("Softmax", ["s"], ["p"], axis=-1),
         h.make_node("MatMul", ["p", "v"], ["rows"]), h.make_node("Reshape", ["rows", "grid"], ["g"]),
         h.make_node("Transpose", ["g"], ["y_"], perm=[0, 3, 1, 2, 4]), h.make_node("Reshape", ["y_", "flat"], ["y"])],
        {"q": q_rows, "kt": k_t, "v": v_h},
        {"grid": np.array([-1, KV_HEADS, rep, N, D]), "flat": np.array([-1, N, C])}, ref=alone)
    return out


def check(out: dict[str, tuple]) -> dict[str, float]:
    """Each alternative's max abs difference from its reference case (the same job done the form's way)."""
    diffs = {}
    for name, (sess, feeds, ref) in out.items():
        if ref is not None:
            want = out[ref][0].run(None, out[ref][1])[0]
            diffs[name] = float(np.abs(sess.run(None, feeds)[0] - want).max())
            if diffs[name] > 1e-4 * max(1.0, float(np.abs(want).max())):
                raise SystemExit(f"error: {name} differs from {ref} by {diffs[name]:.3g}")
    return diffs


def time_cases(out: dict[str, tuple], batch: int, rounds: int, runs: int) -> dict[str, float]:
    """Median over rounds of each round's p50, in microseconds, cases interleaved within a round."""
    feeds = {k: {n: np.repeat(v, batch, 0) for n, v in f.items()} for k, (_, f, _) in out.items()}
    per: dict[str, list[float]] = {k: [] for k in out}
    for k, (sess, _, _) in out.items():
        for _ in range(20):
            sess.run(None, feeds[k])
    for _ in range(rounds):
        for k, (sess, _, _) in out.items():
            t = []
            for _ in range(runs):
                t0 = time.perf_counter()
                sess.run(None, feeds[k])
                t.append(time.perf_counter() - t0)
            per[k].append(1e6 * float(np.median(t)))
    return {k: float(np.median(v)) for k, v in per.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=300, help="timed runs per case per round at batch 1")
    a = ap.parse_args()
    import onnxruntime as ort

    out = cases(np.random.default_rng(0))
    diffs = check(out)
    b1 = time_cases(out, 1, a.rounds, a.runs)
    b64 = time_cases(out, 64, max(3, a.rounds // 2), max(10, a.runs // 30))
    empty = session([], ["y"], {})  # a run with no node: the Python call and session overhead
    base = time_cases({"empty": (empty, {"y": np.zeros((1, 1), np.float32)}, None)}, 1, a.rounds, a.runs)["empty"]
    rows = []
    for k in out:
        net = b1[k] - base
        per_node = f"{net / 100:.2f} us per node" if k.startswith("100 ") else ""
        rows.append([k, f"{b1[k]:.1f}", f"{net:.1f}", f"{b64[k]:.0f}", per_node or (
            f"same output (max diff {diffs[k]:.1e})" if k in diffs else "")])
    text = (f"### onnxruntime {ort.__version__} kernels at the flagship's shapes (1 thread)\n\n"
            + md_table(["case", "batch 1 us", "batch 1 us, less an empty run", "batch 64 us", "note"], rows)
            + f"\nAn empty session run costs {base:.1f} us (subtracted in the third column). Median over "
            f"{a.rounds} interleaved rounds of each round's p50. {machine_line()}; {time.strftime('%Y-%m-%d')}. "
            "`python benchmarks/ort_ops.py`\n")
    write_json(RESULTS / "ort-ops.json", {"onnxruntime": ort.__version__, "batch1_us": b1, "batch64_us": b64,
                                          "empty_run_us": base, "max_diff": diffs, "machine": machine_line(),
                                          "date": time.strftime("%Y-%m-%d")})
    (RESULTS / "ort-ops.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
