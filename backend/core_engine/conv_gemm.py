"""Rewrite the int8 graph's ``ConvInteger`` nodes as im2col + ``MatMulInteger`` (u8 x s8).

Why: in ``models/kokoro-v1.0.int8.onnx`` (``quantize_dynamic`` output) every
convolution is ``ConvInteger`` with **uint8** weights. onnxruntime runs it as
im2col + an MLAS u8 x u8 GEMM, which cannot use the VNNI instructions
(``vpdpbusd`` multiplies unsigned by *signed* bytes). ``ConvInteger`` with int8
weights is no way out: onnxruntime 1.2x falls back to a slow kernel for it (5x
slower on the Kokoro graph, measured). ``MatMulInteger`` with a constant int8 B
does take the u8 x s8 VNNI path. Profiled on one 175-token chunk (11.1 s of
audio), one session with one intra-op thread, 2-core AMD EPYC with avx512_vnni, the
shipped graph and the rewritten one in the same run (``onnxruntime`` profiling):

* ``ConvInteger`` nodes: 4.58 s of 6.5 s per run (68 %);
* after this rewrite: ``MatMulInteger`` 2.1 s + Transpose/Concat/Slice 1.2 s, and
  the whole run 5.5 s (1.17x).

Per layer (``core_engine/tests`` has the exactness check; timings from a
one-thread micro-benchmark on the same CPU, each layer both ways in one run): 128 ch x 11 taps over 53,281 frames 174 -> 166 ms;
512 ch x 3 taps over 2,000 frames 23 -> 11 ms; 1024 -> 1090 ch x 3 taps over 600
frames 30 -> 11 ms.

Exact, not approximate, where VNNI is present: ``ConvInteger`` computes
``sum (x_q - x_zp) * (w_q - w_zp)`` in int32; the rewrite shifts the weights and
their zero point by 128 (``w_s8 = w_u8 - 128``, ``w_zp_s8 = w_zp_u8 - 128``), which
leaves every ``(w_q - w_zp)`` and so every int32 sum unchanged. **Without VNNI**
MLAS's AVX2 / AVX-512BW u8 x s8 kernels use ``vpmaddubsw``, whose int16 pair sums
can saturate (onnxruntime's quantization docs, "When and why do I need to try
U8U8?": https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html),
so ``model_loader`` applies this rewrite only on CPUs with ``avx512_vnni`` /
``avx_vnni`` (``cpu_info().has_vnni``): the audio is then sample-identical to
the unrewritten graph, and its identity (cache key, stale check) stays the same.
On the AVX2 code path nothing else pays either (one 300-character chunk, 23.8 s of
audio, one thread, 2-core AMD EPYC with AVX-512/VNNI hidden by ``bench/cpuid_mask``,
one session of runs): shipped graph RTF 0.596; this rewrite 0.555 (7 % faster, but
inexact there); the same rewrite keeping the uint8 weights, a u8 x u8
``MatMulInteger`` (exact), 0.649, slower than ``ConvInteger``'s own u8 x u8 GEMM.

The rewrite of one ``ConvInteger(x_q [N, C, L], W [M, C, K], x_zp, w_zp)`` with
``pads=[p0, p1]``, ``dilations=[d]``, ``strides=[s]``, ``group=1`` and scalar zero
points (all 83 of the Kokoro graph's ``ConvInteger`` with M >= 16 are such)::

    Pad(x_q, [0, 0, p0, 0, 0, p1], constant=x_zp)      # ConvInteger pads with x_zp
    Transpose(perm=[0, 2, 1])                              # [N, L + p0 + p1, C]
    Slice(axis 1, start j*d, step s) for j in 0..K-1       # K x [N, L_out, C]
    Concat(axis 2)                                         # [N, L_out, K*C]
    MatMulInteger(., W2 [K*C, M] int8, x_zp, w_zp - 128)   # [N, L_out, M] int32
    Transpose(perm=[0, 2, 1])                              # [N, M, L_out], ConvInteger's output

with ``W2[j*C + c, m] = W[m, c, j] - 128``. ``K == 1`` with ``s == 1`` skips the
slices. Nodes it cannot rewrite exactly (grouped, ``auto_pad``, non-constant or
per-channel weight zero points, not 1-D, fewer than ``min_out_channels`` outputs)
stay as they are.

Sources: ONNX operator spec for ConvInteger / MatMulInteger / Pad / Slice
(https://onnx.ai/onnx/operators/); the int8 node layout checked against the
Kokoro graph.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["rewrite_conv_integer_as_gemm"]

_NO_END = 2**62  # Slice end "to the end of the axis"


def rewrite_conv_integer_as_gemm(model: onnx.ModelProto, min_out_channels: int = 16) -> int:
    """Rewrite ``model``'s rewritable ``ConvInteger`` nodes in place; returns how many were.

    Args:
        model: an ONNX model whose ``ConvInteger`` weights are uint8 initializers
            (``quantize_dynamic`` output). Changed in place: the node list, and the
            initializers (uint8 weights no other node uses are removed).
        min_out_channels: nodes with fewer output channels are left alone (the
            Kokoro graph's 1- and 2-channel convolutions gain nothing).

    Returns:
        The number of ``ConvInteger`` nodes rewritten (83 for kokoro-v1.0.int8.onnx).
        The graph's outputs, and every tensor name outside the rewritten nodes, are
        unchanged.
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    rewritten = 0

    def constant(name: str, value: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(value, name))
        return name

    for node in graph.node:
        plan = _plan(node, initializers, min_out_channels)
        if plan is None:
            new_nodes.append(node)
            continue
        weights, w_zero, pads, dilation, stride = plan
        out_channels, in_channels, taps = weights.shape
        base = f"{node.name or node.output[0]}/gemm"
        x_q, x_zero = node.input[0], node.input[2]
        current = x_q
        if any(pads):
            current = f"{base}/padded"
            new_nodes.append(helper.make_node(
                "Pad", [x_q, constant(f"{base}/pads", np.array([0, 0, pads[0], 0, 0, pads[1]], np.int64)), x_zero],
                [current], name=f"{base}/pad",
            ))
        time_major = f"{base}/time_major"
        new_nodes.append(helper.make_node("Transpose", [current], [time_major], perm=[0, 2, 1], name=f"{base}/transpose_in"))
        if taps == 1 and stride == 1:
            columns = time_major
        else:
            axis = constant(f"{base}/axis", np.array([1], np.int64))
            step = constant(f"{base}/step", np.array([stride], np.int64))
            span = dilation * (taps - 1)
            taps_out = []
            for tap in range(taps):
                start, tail = tap * dilation, span - tap * dilation
                out = f"{base}/tap{tap}"
                new_nodes.append(helper.make_node(
                    "Slice",
                    [time_major, constant(f"{base}/start{tap}", np.array([start], np.int64)),
                     constant(f"{base}/end{tap}", np.array([-tail if tail else _NO_END], np.int64)), axis, step],
                    [out], name=f"{base}/slice{tap}",
                ))
                taps_out.append(out)
            columns = f"{base}/columns"
            new_nodes.append(helper.make_node("Concat", taps_out, [columns], axis=2, name=f"{base}/im2col"))
        signed = (weights.astype(np.int16) - 128).astype(np.int8)  # [M, C, K]
        gemm_weights = np.ascontiguousarray(signed.transpose(2, 1, 0).reshape(taps * in_channels, out_channels))
        product = f"{base}/product"
        new_nodes.append(helper.make_node(
            "MatMulInteger",
            [columns, constant(f"{base}/weights", gemm_weights), x_zero,
             constant(f"{base}/weight_zero", np.array(np.int16(w_zero) - 128, np.int8))],
            [product], name=f"{base}/matmul",
        ))
        new_nodes.append(helper.make_node("Transpose", [product], [node.output[0]], perm=[0, 2, 1], name=f"{base}/transpose_out"))
        for name in (node.input[1], node.input[3]):
            uses[name] -= 1
        rewritten += 1

    del graph.node[:]
    graph.node.extend(new_nodes)
    kept = [init for init in graph.initializer if uses.get(init.name, 1) > 0]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return rewritten


def _plan(node: onnx.NodeProto, initializers: dict, min_out_channels: int):
    """``(W uint8 [M, C, K], w_zp, (p0, p1), d, s)`` if ``node`` can be rewritten exactly, else None."""
    if node.op_type != "ConvInteger" or len(node.input) < 4:
        return None
    if node.input[1] not in initializers or node.input[3] not in initializers or not node.input[2]:
        return None
    attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
    weights = numpy_helper.to_array(initializers[node.input[1]])
    w_zero = numpy_helper.to_array(initializers[node.input[3]])
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    if weights.ndim != 3 or weights.dtype != np.uint8 or w_zero.size != 1 or w_zero.dtype != np.uint8:
        return None
    if attrs.get("group", 1) != 1 or auto_pad not in (b"NOTSET", "NOTSET") or weights.shape[0] < min_out_channels:
        return None
    pads = tuple(attrs.get("pads", [0, 0]))
    return weights, w_zero.reshape(()), pads, attrs.get("dilations", [1])[0], attrs.get("strides", [1])[0]
