"""The matrix products of an ONNX model, alone: how much of an onnxruntime run int8 kernels can speed up.

`replica(model, x)` runs the model once on `x`, keeps what each MatMul / Gemm / Conv with constant weights reads
(the real activations, so dynamic quantization sees the real ranges) and writes a graph holding only those
nodes, each with its bias Add when the model adds one right after, each fed its captured input. Timed next to
the model, unprofiled and in the same process, it gives the share of the fp32 run spent in matrix products; its
int8 form (quantized as `edgevit export` quantizes the model) says how fast onnxruntime's int8 kernels are at the
model's own shapes, isolated from every other op. While int8 leaves the other ops as they are, the whole
model cannot speed up more than its matrix products do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PRODUCTS = ("MatMul", "Gemm", "Conv")


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


def replica(model_path: Path, x: np.ndarray, out_dir: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """Write the fp32 replica and its dynamic-int8 form into `out_dir`; return both paths and the feeds."""
    import onnx
    from onnx import helper

    from edgevit.export.onnx import quantize

    model = onnx.load(str(model_path))
    g = model.graph
    consts = {i.name: i for i in g.initializer}
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    picked = [n for n in g.node if n.op_type in PRODUCTS and n.input[0] not in consts
              and all(i in consts for i in n.input[1:] if i)]
    feeds = _captured(model, x, [n.input[0] for n in picked])
    nodes, inputs, outputs, used = [], [], [], set()
    for k, n in enumerate(picked):
        src = f"in{k}"
        inputs.append(helper.make_tensor_value_info(src, onnx.TensorProto.FLOAT, list(feeds[n.input[0]].shape)))
        node = helper.make_node(n.op_type, [src, *n.input[1:]], [f"p{k}"], domain=n.domain)
        node.attribute.extend(n.attribute)
        nodes.append(node)
        used.update(i for i in n.input[1:] if i)
        out = f"p{k}"
        after = readers.get(n.output[0], [])
        if len(after) == 1 and after[0].op_type == "Add":  # the bias add the int8 kernels fuse
            bias = [i for i in after[0].input if i in consts]
            if bias:
                nodes.append(helper.make_node("Add", [out, bias[0]], [f"b{k}"]))
                used.add(bias[0])
                out = f"b{k}"
        outputs.append(helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "matmul_replica", inputs, outputs, [consts[u] for u in sorted(used)])
    rep = helper.make_model(graph, opset_imports=list(model.opset_import))
    rep.ir_version = model.ir_version
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "replica-fp32.onnx", out_dir / "replica-int8-dynamic.onnx"
    onnx.save(rep, str(fp32))
    quantize(fp32, int8, "dynamic", None)
    return fp32, int8, {f"in{k}": feeds[n.input[0]] for k, n in enumerate(picked)}
