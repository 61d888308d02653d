"""Rewrite a dynamically quantized (int8/uint8) ONNX graph back into a float32 graph.

Why: ``models/kokoro-v1.0.int8.onnx`` (Kokoro-82M, quantized with
``onnxruntime.quantization.quantize_dynamic``) runs its MatMulInteger /
ConvInteger kernels slowly on CPUs without VNNI. The float32 variant made here
runs plain MatMul / Conv / LSTM instead. This is a graph rewrite of the existing
model, not a re-export: every other node (including ``/encoder/Round_output_0``,
the duration predictor tensor the app taps at load time) is kept with its name.

What is rewritten (all weights must be constant: an initializer or a Constant node)
----------------------------------------------------------------------------------
1. ``DynamicQuantizeLinear(x) -> (x_q, x_scale, x_zp)``;
   ``MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(to=FLOAT) -> Mul(., x_scale * W_scale)``
   becomes ``MatMul(x, W_f)``. ``W_q`` is [K, N] (uint8 or int8); ``W_zp`` and
   ``W_scale`` are scalars (per-tensor) or [N] (per output column, axis 1).
2. ``ConvInteger(x_q, W_q, x_zp, W_zp) -> Cast(to=FLOAT) -> Mul(., x_scale * W_scale)``
   becomes ``Conv(x, W_f)`` with ConvInteger's attributes (auto_pad, dilations,
   group, kernel_shape, pads, strides). ``W_q`` is [M, C/group, k...];
   ``W_zp`` / ``W_scale`` are scalars or [M] (per output channel, axis 0).
   The variant with a quantized bias,
   ``ConvInteger -> Add(., Reshape(Cast(Floor(Div(B, x_scale * W_scale)), INT32)))
   -> Cast -> Mul``, becomes ``Conv(x, W_f, B)`` with the original float bias B [M].
3. ``com.microsoft.DynamicQuantizeLSTM(X, W, R, B, sequence_lens, initial_h,
   initial_c, P, W_scale, W_zero_point, R_scale, R_zero_point)`` becomes the
   standard ONNX ``LSTM(X, W_f, R_f, B, sequence_lens, initial_h, initial_c, P)``
   with the same attributes (direction, hidden_size, activations, clip,
   input_forget). The contrib op stores W as [num_directions, input_size,
   4*hidden_size] and R as [num_directions, hidden_size, 4*hidden_size]; ONNX
   LSTM wants [num_directions, 4*hidden_size, input_size] and
   [num_directions, 4*hidden_size, hidden_size], so the dequantized tensors are
   transposed (0, 2, 1). Scales / zero points are [num_directions] (per
   direction) or [num_directions, 4*hidden_size] (per channel).

Dequantization (units: W_q in integer steps, W_scale in float units per step):
``W_f = (W_q.astype(float32) - W_zp) * W_scale`` -> a new float32 initializer.
``DequantizeLinear`` nodes (on gathered embeddings in Kokoro) are left as they are.
Nodes and initializers that become unused are removed, as are value_info
entries for tensors that no longer exist.

Sources: ONNX operator spec (MatMulInteger, ConvInteger, DynamicQuantizeLinear,
MatMul, Conv, LSTM; https://onnx.ai/onnx/operators/), onnxruntime contrib op docs
for DynamicQuantizeLSTM
(https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.DynamicQuantizeLSTM),
and the node layout that ``onnxruntime.quantization.quantize_dynamic`` emits
(checked against the Kokoro graph and against small models quantized in the tests).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from core_engine.atomic_files import atomic_write_path

__all__ = ["dequantize_model", "dequantize_graph"]


class _Graph:
    """Producer / consumer / constant look-ups over a GraphProto (rebuilt on demand)."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.inits = {t.name: t for t in graph.initializer}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            for out in node.output:
                if out:
                    self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers[inp].append(node)
        self.graph_outputs = {o.name for o in graph.output}

    def const(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor (initializer or Constant node), else None."""
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
        return None

    def only_consumer(self, name: str, op_type: str, where: str) -> onnx.NodeProto:
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op_type or name in self.graph_outputs:
            found = [u.op_type for u in users]
            raise ValueError(
                f"{where}: expected {name!r} to feed exactly one {op_type}, found {found}"
            )
        return users[0]


def _node_label(node: onnx.NodeProto) -> str:
    return f"{node.op_type} node {node.name or '(unnamed)'!r} (outputs {list(node.output)})"


def _dequant(w_q: np.ndarray, zp: np.ndarray, scale: np.ndarray, axis: int, where: str) -> np.ndarray:
    """(w_q - zp) * scale in float32; zp/scale scalar or 1-D along ``axis`` of w_q."""
    w = w_q.astype(np.float32)
    zp = np.asarray(zp).astype(np.float32)
    scale = np.asarray(scale).astype(np.float32)
    shape = [1] * w.ndim
    for name, arr in (("zero point", zp), ("scale", scale)):
        if arr.size not in (1, w.shape[axis]) or arr.ndim > 1:
            raise ValueError(f"{where}: {name} of shape {arr.shape} does not fit weight {w.shape} on axis {axis}")
    shape[axis] = -1
    zp = zp.reshape(shape) if zp.size > 1 else zp.reshape(())
    scale = scale.reshape(shape) if scale.size > 1 else scale.reshape(())
    return ((w - zp) * scale).astype(np.float32)


def _weight_scale(g: _Graph, scales_mul: onnx.NodeProto, x_scale: str, where: str) -> np.ndarray:
    """From Mul(x_scale, W_scale) (either operand order) return W_scale's value."""
    if scales_mul.op_type != "Mul" or len(scales_mul.input) != 2:
        raise ValueError(f"{where}: scale product is {scales_mul.op_type}, not Mul(x_scale, W_scale)")
    a, b = scales_mul.input
    if a == x_scale:
        other = b
    elif b == x_scale:
        other = a
    else:
        raise ValueError(f"{where}: scale product {list(scales_mul.input)} does not use x_scale {x_scale!r}")
    value = g.const(other)
    if value is None:
        raise ValueError(f"{where}: weight scale {other!r} is not a constant")
    return value


class _Rewriter:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.g = _Graph(self.graph)
        self.counts: Counter[str] = Counter()
        self.new_inits: dict[str, onnx.TensorProto] = {}
        self.cache: dict[tuple, str] = {}
        # node (by id) -> replacement node (or None = delete)
        self.replace: dict[int, onnx.NodeProto | None] = {}
        self.names = {n.name for n in self.graph.node if n.name}

    def _name(self, node: onnx.NodeProto) -> str:
        """A unique name for the float replacement of ``node``."""
        base = (node.name or f"{node.op_type}_{node.output[0]}") + "_float"
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def _float_init(self, key: tuple, base: str, value: np.ndarray) -> str:
        if key in self.cache:
            return self.cache[key]
        name = base
        i = 1
        taken = set(self.g.inits) | set(self.new_inits) | set(self.g.producer)
        while name in taken:
            name = f"{base}_{i}"
            i += 1
        self.new_inits[name] = numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)
        self.cache[key] = name
        return name

    # -- MatMulInteger / ConvInteger ------------------------------------------------
    def _integer_op(self, node: onnx.NodeProto) -> None:
        where = _node_label(node)
        g = self.g
        if len(node.input) != 4 or not all(node.input):
            raise ValueError(f"{where}: expected 4 inputs (x_q, W_q, x_zp, W_zp), got {list(node.input)}")
        x_q, w_name, x_zp, w_zp_name = node.input
        dql = g.producer.get(x_q)
        if dql is None or dql.op_type != "DynamicQuantizeLinear" or dql.output[0] != x_q:
            raise ValueError(f"{where}: input {x_q!r} does not come from DynamicQuantizeLinear output 0")
        if len(dql.output) < 3 or dql.output[2] != x_zp:
            raise ValueError(f"{where}: zero point {x_zp!r} is not the same DynamicQuantizeLinear's output 2")
        x_float, x_scale = dql.input[0], dql.output[1]
        w_q = g.const(w_name)
        w_zp = g.const(w_zp_name)
        if w_q is None or w_zp is None:
            raise ValueError(f"{where}: weight {w_name!r} / zero point {w_zp_name!r} are not constants")

        chain: list[onnx.NodeProto] = []
        bias_name: str | None = None
        bias_div: onnx.NodeProto | None = None
        users = g.consumers.get(node.output[0], [])
        if len(users) != 1 or node.output[0] in g.graph_outputs:
            raise ValueError(f"{where}: integer output feeds {[u.op_type for u in users]}, expected one Cast or Add")
        nxt = users[0]
        if node.op_type == "ConvInteger" and nxt.op_type == "Add":
            add = nxt
            chain.append(add)
            other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
            bias_name, bias_div = self._quantized_bias(other, where)
            nxt = g.only_consumer(add.output[0], "Cast", where)
        if nxt.op_type != "Cast":
            raise ValueError(f"{where}: integer output feeds {nxt.op_type}, expected Cast")
        cast = nxt
        to = next((a.i for a in cast.attribute if a.name == "to"), None)
        if to != TensorProto.FLOAT:
            raise ValueError(f"{where}: Cast {cast.name!r} casts to type {to}, expected FLOAT")
        chain.append(cast)
        mul = g.only_consumer(cast.output[0], "Mul", where)
        chain.append(mul)
        scale_in = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        scales_mul = g.producer.get(scale_in)
        if scales_mul is None:
            raise ValueError(f"{where}: output scale {scale_in!r} has no producer")
        w_scale = _weight_scale(g, scales_mul, x_scale, where)
        if bias_div is not None and bias_div.input[1] != scale_in:
            raise ValueError(f"{where}: bias is divided by {bias_div.input[1]!r}, not the output scale {scale_in!r}")

        if node.op_type == "MatMulInteger":
            if w_q.ndim != 2:
                raise ValueError(f"{where}: weight of shape {w_q.shape} is not 2-D")
            w_f = _dequant(w_q, w_zp, w_scale, axis=1, where=where)
            key = ("MatMul", w_name, w_zp_name, w_scale.tobytes())
            w_f_name = self._float_init(key, w_name.removesuffix("_quantized") + "_dequantized", w_f)
            new = helper.make_node("MatMul", [x_float, w_f_name], [mul.output[0]], name=self._name(node))
        else:
            w_f = _dequant(w_q, w_zp, w_scale, axis=0, where=where)
            key = ("Conv", w_name, w_zp_name, w_scale.tobytes())
            w_f_name = self._float_init(key, w_name.removesuffix("_quantized") + "_dequantized", w_f)
            inputs = [x_float, w_f_name] + ([bias_name] if bias_name else [])
            new = helper.make_node("Conv", inputs, [mul.output[0]], name=self._name(node))
            new.attribute.extend(node.attribute)
        self.replace[id(node)] = new
        for n in chain:
            self.replace[id(n)] = None
        self.counts[node.op_type] += 1

    def _quantized_bias(self, name: str, where: str) -> tuple[str, onnx.NodeProto]:
        """Follow Reshape(Cast(Floor(Div(B, scale)))) back to B; return B's float name (1-D) and the Div."""
        g = self.g
        ops = ["Reshape", "Cast", "Floor", "Div"]
        cur = name
        node = None
        for op in ops:
            node = g.producer.get(cur)
            if node is None or node.op_type != op:
                raise ValueError(
                    f"{where}: quantized bias {name!r} is not Reshape(Cast(Floor(Div(B, scale)))) "
                    f"(found {node.op_type if node else 'no producer'} where {op} was expected)"
                )
            cur = node.input[0]
        bias = g.const(cur)
        if bias is None or bias.dtype != np.float32:
            raise ValueError(f"{where}: bias {cur!r} is not a float32 constant")
        if bias.ndim != 1:
            return self._float_init(("bias", cur), cur + "_flat", bias.reshape(-1)), node
        return cur, node

    # -- DynamicQuantizeLSTM --------------------------------------------------------
    def _lstm(self, node: onnx.NodeProto) -> None:
        where = _node_label(node)
        g = self.g
        if len(node.input) != 12:
            raise ValueError(f"{where}: expected 12 inputs, got {len(node.input)}")
        ins = list(node.input)
        x, w, r, b, seq, h0, c0, p, w_s, w_zp, r_s, r_zp = ins
        vals = {k: g.const(v) for k, v in (("W", w), ("R", r), ("W_scale", w_s), ("W_zero_point", w_zp),
                                            ("R_scale", r_s), ("R_zero_point", r_zp))}
        missing = [k for k, v in vals.items() if v is None]
        if missing:
            raise ValueError(f"{where}: {missing} are not constants")
        hidden = next((a.i for a in node.attribute if a.name == "hidden_size"), None)

        def deq(wq: np.ndarray, zp: np.ndarray, sc: np.ndarray, label: str) -> np.ndarray:
            if wq.ndim != 3 or (hidden and wq.shape[2] != 4 * hidden):
                raise ValueError(f"{where}: {label} of shape {wq.shape} is not [dirs, in, 4*hidden]")
            dirs = wq.shape[0]
            out = np.empty((dirs, wq.shape[2], wq.shape[1]), dtype=np.float32)
            zp = np.asarray(zp).reshape(dirs, -1) if np.asarray(zp).size > 1 else np.full((dirs, 1), zp)
            sc = np.asarray(sc).reshape(dirs, -1) if np.asarray(sc).size > 1 else np.full((dirs, 1), sc)
            for d in range(dirs):
                # per-direction: zp/sc [1]; per-channel: [4*hidden] along the last axis
                zd = zp[d] if zp.shape[0] == dirs else zp[0]
                sd = sc[d] if sc.shape[0] == dirs else sc[0]
                out[d] = _dequant(wq[d], zd, sd, axis=1, where=f"{where} {label}[{d}]").T
            return out

        w_f = deq(vals["W"], vals["W_zero_point"], vals["W_scale"], "W")
        r_f = deq(vals["R"], vals["R_zero_point"], vals["R_scale"], "R")
        w_name = self._float_init(("LSTM_W", w, w_zp, w_s), w.removesuffix("_quantized") + "_dequantized", w_f)
        r_name = self._float_init(("LSTM_R", r, r_zp, r_s), r.removesuffix("_quantized") + "_dequantized", r_f)
        inputs = [x, w_name, r_name, b, seq, h0, c0, p]
        while inputs and not inputs[-1]:
            inputs.pop()
        new = helper.make_node("LSTM", inputs, list(node.output), name=self._name(node))
        new.attribute.extend(node.attribute)
        self.replace[id(node)] = new
        self.counts[node.op_type] += 1

    # -- driver ---------------------------------------------------------------------
    def run(self) -> Counter[str]:
        for node in list(self.graph.node):
            if node.op_type in ("MatMulInteger", "ConvInteger") and node.domain in ("", "ai.onnx"):
                self._integer_op(node)
            elif node.op_type == "DynamicQuantizeLSTM" and node.domain == "com.microsoft":
                self._lstm(node)
        nodes = []
        for node in self.graph.node:
            if id(node) in self.replace:
                new = self.replace[id(node)]
                if new is not None:
                    nodes.append(new)
            else:
                nodes.append(node)
        del self.graph.node[:]
        self.graph.node.extend(nodes)
        self.graph.initializer.extend(self.new_inits.values())
        self.counts["removed_nodes"] = _prune(self.graph)
        self.counts["new_float_initializers"] = len(self.new_inits)
        return self.counts


def _prune(graph: onnx.GraphProto) -> int:
    """Remove nodes whose outputs nobody uses, then unused initializers and stale value_info."""
    removed = 0
    outputs = {o.name for o in graph.output}
    while True:
        used = set(outputs)
        for node in graph.node:
            used.update(i for i in node.input if i)
        keep = [n for n in graph.node if any(o in used for o in n.output if o)]
        if len(keep) == len(graph.node):
            break
        removed += len(graph.node) - len(keep)
        del graph.node[:]
        graph.node.extend(keep)
    used = set(outputs)
    for node in graph.node:
        used.update(i for i in node.input if i)
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    existing = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    for node in graph.node:
        existing.update(o for o in node.output if o)
    vi = [v for v in graph.value_info if v.name in existing]
    del graph.value_info[:]
    graph.value_info.extend(vi)
    return removed


def dequantize_graph(model: onnx.ModelProto) -> dict:
    """Rewrite ``model`` in place (see the module docstring); return counts of rewritten ops."""
    counts = _Rewriter(model).run()
    left = Counter(n.op_type for n in model.graph.node
                   if n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeLSTM"))
    if left:
        node = next(n for n in model.graph.node if n.op_type in left)
        raise ValueError(f"integer ops remain after the rewrite: {dict(left)} (e.g. {_node_label(node)})")
    return dict(counts)


def dequantize_model(
    src_path: str | os.PathLike,
    dst_path: str | os.PathLike,
    transform: Callable[[onnx.ModelProto], object] | None = None,
) -> dict:
    """Write a float32 copy of the dynamically quantized model ``src_path`` to ``dst_path``.

    Rewrites MatMulInteger -> MatMul, ConvInteger -> Conv (with the float bias where the
    quantizer folded one in) and com.microsoft.DynamicQuantizeLSTM -> LSTM, with weights
    dequantized to float32 initializers as ``(W_q - zero_point) * scale`` (see the module
    docstring for shapes and layouts). The result is checked with
    ``onnx.checker.check_model`` (path form) and written atomically: a temporary file in
    dst's folder, then ``os.replace``.

    Returns the counts of rewritten ops (e.g. ``{"MatMulInteger": 148, "ConvInteger": 87,
    "DynamicQuantizeLSTM": 6, ...}``) plus ``"sha256"`` (hex of the written file) and
    ``"size_bytes"``. ``transform(model)``, if given, runs on the float32 graph before it
    is checked and saved (``install_model`` adds the duration output with it).
    Raises ValueError naming the node for a pattern it cannot rewrite.
    """
    src = Path(src_path)
    dst = Path(dst_path)
    model = onnx.load(str(src))
    counts = dequantize_graph(model)
    if transform is not None:
        transform(model)
    with atomic_write_path(dst) as tmp:  # temp file beside dst, then os.replace; removed on error
        onnx.save_model(model, str(tmp))
        del model
        onnx.checker.check_model(str(tmp))
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        size = os.path.getsize(tmp)
    counts["sha256"] = digest.hexdigest()
    counts["size_bytes"] = size
    return counts
