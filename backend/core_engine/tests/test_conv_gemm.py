"""Tests for core_engine.conv_gemm: int8 ConvInteger -> im2col + u8 x s8 MatMulInteger.

(a) Small ConvInteger graphs (the node layout ``quantize_dynamic`` emits: uint8
    weights, scalar zero points, pads/dilations/strides as in Kokoro) run through
    onnxruntime before and after the rewrite; their int32 outputs must be equal.
    Activations stay below 128 so that MLAS's non-VNNI u8 x s8 kernels (int16 pair
    sums) cannot saturate: the equality then holds on every CPU, and any
    layout / padding / zero-point mistake breaks it. One test uses the full uint8
    range and runs on VNNI CPUs only (where the product is exact by construction).
(b) The real Kokoro-82M int8 graph: the rewrite changes no sample of a real chunk.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from core_engine.conv_gemm import rewrite_conv_integer_as_gemm
from core_engine.cpu_info import cpu_info

ONNX_OPSET = 17
IR_VERSION = 8  # onnxruntime 1.2x reads IR <= 10; onnx's default is newer


def _conv_integer_model(weights: np.ndarray, w_zero: int, **attrs) -> onnx.ModelProto:
    """x_q uint8 [N, C, L] and x_zp uint8 scalar -> ConvInteger(W uint8 [M, C, K]) -> int32."""
    graph = helper.make_graph(
        [helper.make_node("ConvInteger", ["x", "w", "x_zp", "w_zp"], ["y"], name="conv", **attrs)],
        "conv_integer",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [None, weights.shape[1], None]),
         helper.make_tensor_value_info("x_zp", TensorProto.UINT8, [])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array(w_zero, np.uint8), "w_zp")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], ir_version=IR_VERSION)


def _run(model: onnx.ModelProto, x: np.ndarray, x_zero: int) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x, "x_zp": np.array(x_zero, np.uint8)})[0]


def _rewritten(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy, rewrite_conv_integer_as_gemm(copy)


@pytest.mark.parametrize(
    "in_ch, out_ch, taps, attrs, length",
    [
        (16, 24, 3, {"pads": [1, 1]}, 50),
        (16, 16, 11, {"pads": [5, 5]}, 97),
        (16, 16, 7, {"pads": [9, 9], "dilations": [3]}, 64),
        (16, 16, 11, {"pads": [25, 25], "dilations": [5]}, 80),
        (22, 32, 12, {"pads": [3, 3], "strides": [6]}, 120),  # Kokoro's noise_convs: stride 6, K 12
        (32, 16, 1, {}, 40),  # 1x1: no im2col, one GEMM
        (16, 16, 3, {"pads": [0, 2]}, 33),  # asymmetric pads
        (16, 16, 4, {"strides": [2]}, 31),  # no pads, odd length with stride
    ],
)
def test_rewrite_gives_the_same_int32_output(in_ch, out_ch, taps, attrs, length):
    rng = np.random.default_rng(in_ch * 1000 + taps)
    weights = rng.integers(0, 256, (out_ch, in_ch, taps), dtype=np.uint8)
    model = _conv_integer_model(weights, w_zero=131, **attrs)
    x = rng.integers(0, 128, (1, in_ch, length), dtype=np.uint8)
    rewritten, count = _rewritten(model)

    assert count == 1
    assert "ConvInteger" not in {node.op_type for node in rewritten.graph.node}
    expected, got = _run(model, x, 77), _run(rewritten, x, 77)
    assert got.dtype == np.int32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_padding_uses_the_activation_zero_point():
    """ConvInteger pads with x_zp, so padded taps add (x_zp - x_zp) * w = 0: the edges show a wrong pad value."""
    rng = np.random.default_rng(7)
    weights = rng.integers(0, 256, (16, 16, 5), dtype=np.uint8)
    model = _conv_integer_model(weights, w_zero=128, pads=[2, 2])
    x = np.full((1, 16, 12), 100, np.uint8)
    rewritten, _ = _rewritten(model)
    np.testing.assert_array_equal(_run(rewritten, x, 100), np.zeros((1, 16, 12), np.int32))
    np.testing.assert_array_equal(_run(rewritten, x, 90), _run(model, x, 90))


def test_batch_of_two_is_rewritten_per_item():
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 256, (16, 8, 3), dtype=np.uint8)
    model = _conv_integer_model(weights, w_zero=120, pads=[1, 1])
    x = rng.integers(0, 128, (2, 8, 30), dtype=np.uint8)
    rewritten, _ = _rewritten(model)
    np.testing.assert_array_equal(_run(rewritten, x, 64), _run(model, x, 64))


@pytest.mark.skipif(not cpu_info().has_vnni, reason="u8 x s8 is exact over the full uint8 range only with VNNI")
def test_full_uint8_range_is_exact_with_vnni():
    rng = np.random.default_rng(11)
    weights = rng.integers(0, 256, (64, 64, 7), dtype=np.uint8)
    weights[:, :, 0] = 255  # large |w - w_zp| with large x: where vpmaddubsw would saturate
    model = _conv_integer_model(weights, w_zero=0, pads=[3, 3])
    x = rng.integers(200, 256, (1, 64, 200), dtype=np.uint8)
    rewritten, _ = _rewritten(model)
    np.testing.assert_array_equal(_run(rewritten, x, 0), _run(model, x, 0))


@pytest.mark.parametrize(
    "why, weights, w_zero, attrs",
    [
        ("grouped", np.zeros((16, 8, 3), np.uint8), np.array(128, np.uint8), {"group": 2, "pads": [1, 1]}),
        ("per-channel zero point", np.zeros((16, 16, 3), np.uint8), np.full(16, 128, np.uint8), {"pads": [1, 1]}),
        ("too few outputs", np.zeros((2, 16, 3), np.uint8), np.array(128, np.uint8), {"pads": [1, 1]}),
        ("auto_pad", np.zeros((16, 16, 3), np.uint8), np.array(128, np.uint8), {"auto_pad": "SAME_UPPER"}),
    ],
)
def test_nodes_it_cannot_rewrite_exactly_are_left_alone(why, weights, w_zero, attrs):
    model = _conv_integer_model(weights, w_zero=0, **attrs)
    model.graph.initializer[1].CopyFrom(numpy_helper.from_array(w_zero, "w_zp"))
    before = model.SerializeToString()
    assert rewrite_conv_integer_as_gemm(model) == 0, why
    assert model.SerializeToString() == before


def test_shared_weights_stay_while_another_node_uses_them():
    rng = np.random.default_rng(5)
    weights = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    model = _conv_integer_model(weights, w_zero=128, pads=[1, 1])
    # A second reader of "w" that is not rewritable (grouped); the graph is only inspected, not run.
    model.graph.node.append(helper.make_node("ConvInteger", ["x", "w", "x_zp", "w_zp"], ["y2"], name="conv2", group=2))
    assert rewrite_conv_integer_as_gemm(model) == 1
    assert {"w", "w_zp"} <= {init.name for init in model.graph.initializer}
    only_rewritable = _conv_integer_model(weights, w_zero=128, pads=[1, 1])
    rewrite_conv_integer_as_gemm(only_rewritable)
    assert not {"w", "w_zp"} & {init.name for init in only_rewritable.graph.initializer}


# ------------------------------------------------------------- real model
@pytest.mark.real_model
@pytest.mark.skipif(not cpu_info().has_vnni, reason="the loader applies the rewrite on VNNI CPUs only")
def test_real_int8_graph_gives_the_same_samples(installed_model):
    """One real chunk (Andersen's first sentence) through the int8 graph as shipped and rewritten."""
    from kokoro_onnx import Kokoro

    model_path = installed_model / "kokoro-v1.0.int8.onnx"
    voices_path = installed_model / "voices_ja.npz"
    model = onnx.load(str(model_path))
    count = rewrite_conv_integer_as_gemm(model)
    assert count == 83  # every ConvInteger of Kokoro v1.0 int8 with >= 16 output channels
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    rewritten = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    del model
    original = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    kokoro = Kokoro.from_session(original, str(voices_path))
    phonemes = kokoro.tokenizer.phonemize("Many years ago, there was an Emperor, who was so excessively fond of new clothes.", "en-us")
    tokens = kokoro.tokenizer.tokenize(phonemes)
    voice = sorted(kokoro.get_voices())[0]
    feed = {"tokens": np.array([[0, *tokens, 0]], np.int64),
            "style": kokoro.get_voice_style(voice)[len(tokens)], "speed": np.ones(1, np.float32)}
    expected = original.run(None, feed)[0]
    got = rewritten.run(None, feed)[0]
    assert expected.size > 24000  # over a second of audio
    np.testing.assert_array_equal(got, expected)
