"""The matrix products of an ONNX model, alone: how much of an onnxruntime run int8 kernels can speed up.

`replica(model, x)` runs the model once on `x`, keeps what each MatMul / Gemm / Conv with constant weights reads
(the real activations, so dynamic quantization sees the real ranges) and writes a graph holding only those
nodes, each with its bias Add when the model adds one right after, each fed its captured input. Timed next to
the model, unprofiled and in the same process, it gives the share of the fp32 run spent in matrix products; its
int8 form (quantized as `edgevit export` quantizes the model) says how fast onnxruntime's int8 kernels are at the
model's own shapes, isolated from every other op. While int8 leaves the other ops as they are, the whole
model cannot speed up more than its matrix products do.

With `ops=PRODUCTS + ATTENTION` the replica holds the model's heaviest kernels, the ones no export form can
remove: its time is a floor under the fp32 run (what the model costs if every other node were free).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PRODUCTS = ("MatMul", "Gemm", "Conv")
ATTENTION = ("Attention",)  # ONNX's fused attention, one kernel per block in the ONNX form


class ReplicaRun:
    """A harness-like runner (`run(x)`) for a replica: runs on its captured inputs, ignores `x`.

    Inputs and outputs are bound once (`IOBinding`), so a run costs the kernels and not the copy of every
    product's output into numpy, which the model itself never pays."""

    def __init__(self, path: Path, feeds: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        self.binding = self.session.io_binding()
        for name, value in feeds.items():
            self.binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value))
        first = self.session.run(None, feeds)
        self._outputs = [ort.OrtValue.ortvalue_from_numpy(np.empty_like(o)) for o in first]
        for meta, value in zip(self.session.get_outputs(), self._outputs, strict=True):
            self.binding.bind_ortvalue_output(meta.name, value)

    def run(self, _x: np.ndarray | None = None) -> None:
        self.session.run_with_iobinding(self.binding)


def _captured(model, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """The values of `names` when the model runs on `x` (added as extra graph outputs)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in known)
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(names, {sess.get_inputs()[0].name: x})
    return dict(zip(names, out, strict=True))


def _picked(graph, consts: dict, ops: tuple[str, ...]) -> list:
    """The nodes of `ops` that read an activation: a product only with constant weights (what int8 quantizes),
    any other op (Attention) whatever it reads."""
    return [n for n in graph.node if n.op_type in ops and n.input[0] not in consts
            and (n.op_type not in PRODUCTS or all(i in consts for i in n.input[1:] if i))]


def replica(model_path: Path, x: np.ndarray, out_dir: Path, ops: tuple[str, ...] = PRODUCTS,
            name: str = "replica-fp32") -> tuple[Path, dict[str, np.ndarray]]:
    """Write the graph of the model's `ops` nodes alone to `out_dir/<name>.onnx`; return it and its feeds.

    Node k's activation input j becomes graph input `in{k}_{j}`, fed with what it reads when the model runs
    on `x`; a product keeps the bias Add that follows it (int8 kernels fuse it)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(model_path))
    g = model.graph
    consts = {i.name: i for i in g.initializer}
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    picked = _picked(g, consts, ops)
    captured = _captured(model, x, sorted({i for n in picked for i in n.input if i and i not in consts}))
    nodes, inputs, outputs, used, feeds = [], [], [], set(), {}
    for k, n in enumerate(picked):
        names = []
        for j, i in enumerate(n.input):
            if not i or i in consts:  # an absent optional input, or a weight
                names.append(i)
                if i:
                    used.add(i)
                continue
            feeds[f"in{k}_{j}"] = captured[i]
            inputs.append(helper.make_tensor_value_info(f"in{k}_{j}", onnx.TensorProto.FLOAT, list(captured[i].shape)))
            names.append(f"in{k}_{j}")
        node = helper.make_node(n.op_type, names, [f"p{k}"], domain=n.domain)
        node.attribute.extend(n.attribute)
        nodes.append(node)
        out = f"p{k}"
        after = readers.get(n.output[0], [])
        if n.op_type in PRODUCTS and len(after) == 1 and after[0].op_type == "Add":
            bias = [i for i in after[0].input if i in consts]
            if bias:
                nodes.append(helper.make_node("Add", [out, bias[0]], [f"b{k}"]))
                used.add(bias[0])
                out = f"b{k}"
        outputs.append(helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, name, inputs, outputs, [consts[u] for u in sorted(used)])
    rep = helper.make_model(graph, opset_imports=list(model.opset_import))
    rep.ir_version = model.ir_version
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.onnx"
    onnx.save(rep, str(path))
    return path, feeds


def int8_replica(fp32: Path) -> Path:
    """`fp32`'s dynamic-int8 form (quantized as `edgevit export` quantizes the model), written beside it."""
    from edgevit.export.onnx import quantize

    int8 = fp32.with_name(fp32.name.replace("fp32", "int8-dynamic"))
    quantize(fp32, int8, "dynamic", None)
    return int8
