"""KokoroModelLoader: file resolution, voices listing, singleton/thread safety (pure: loading is faked)."""
import os
import threading
import time

import numpy as np
import pytest

from core_engine.model_loader import KokoroModelLoader, ModelFiles, ModelNotAvailableError


def make_voices(path, names):
    np.savez(path, **{name: np.zeros((510, 1, 256), np.float32) for name in names})


def test_no_model(tmp_models_dir):
    assert KokoroModelLoader.resolve_model_files() is None
    assert KokoroModelLoader.is_model_available() is False
    assert KokoroModelLoader.get_voices() == []
    with pytest.raises(ModelNotAvailableError, match="python manage.py install_model"):
        KokoroModelLoader.get_session()
    assert issubclass(ModelNotAvailableError, RuntimeError)


def test_incomplete_pair_is_not_a_model(tmp_models_dir):
    (tmp_models_dir / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    assert KokoroModelLoader.resolve_model_files() is None
    (tmp_models_dir / "voices-v1.0.bin").write_bytes(b"x")  # official voices without official model
    assert KokoroModelLoader.resolve_model_files() is None


def test_bundled_then_official_preference(tmp_models_dir):
    (tmp_models_dir / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    make_voices(tmp_models_dir / "voices_ja.npz", ["jf_b", "jf_a"])
    assert KokoroModelLoader.resolve_model_files() == ModelFiles(
        tmp_models_dir / "kokoro-v1.0.int8.onnx", tmp_models_dir / "voices_ja.npz", "bundled-int8"
    )
    assert KokoroModelLoader.get_voices() == ["jf_a", "jf_b"]

    (tmp_models_dir / "kokoro-v1.0.onnx").write_bytes(b"x")
    with open(tmp_models_dir / "voices-v1.0.bin", "wb") as fh:  # the official .bin is an npz archive
        np.savez(fh, af_heart=np.zeros((510, 1, 256), np.float32), am_adam=np.zeros((510, 1, 256), np.float32))
    files = KokoroModelLoader.resolve_model_files()
    assert files.variant == "official" and files.voices_path.name == "voices-v1.0.bin"
    assert KokoroModelLoader.get_voices() == ["af_heart", "am_adam"]


def test_voices_cache_follows_file_changes(tmp_models_dir):
    (tmp_models_dir / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    voices = tmp_models_dir / "voices_ja.npz"
    make_voices(voices, ["one"])
    assert KokoroModelLoader.get_voices() == ["one"]
    make_voices(voices, ["one", "two"])
    os.utime(voices, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    assert KokoroModelLoader.get_voices() == ["one", "two"]


def test_corrupt_voices_file_gives_no_voices(tmp_models_dir):
    (tmp_models_dir / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    (tmp_models_dir / "voices_ja.npz").write_bytes(b"not a zip")
    assert KokoroModelLoader.get_voices() == []


def test_settings_are_read_at_call_time(settings, tmp_path):
    first, second = tmp_path / "m1", tmp_path / "m2"
    for folder in (first, second):
        folder.mkdir()
    (second / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    make_voices(second / "voices_ja.npz", ["v"])
    settings.TTS_MODELS_DIR = first
    assert not KokoroModelLoader.is_model_available()
    settings.TTS_MODELS_DIR = second
    assert KokoroModelLoader.is_model_available()


def test_concurrent_first_use_loads_once_and_reloads_on_change(tmp_models_dir, monkeypatch):
    model = tmp_models_dir / "kokoro-v1.0.int8.onnx"
    model.write_bytes(b"x")
    make_voices(tmp_models_dir / "voices_ja.npz", ["v"])
    loads = []

    def slow_fake_load(files):
        loads.append(files)
        time.sleep(0.2)  # long enough for every thread to arrive while loading
        return object()

    monkeypatch.setattr(KokoroModelLoader, "_load", staticmethod(slow_fake_load))
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(KokoroModelLoader.get_session())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert KokoroModelLoader.get_session() is results[0]

    # the model file changes (e.g. install_model rebuilt it): the next call reloads
    model.write_bytes(b"xy")
    reloaded = KokoroModelLoader.get_session()
    assert len(loads) == 2 and reloaded is not results[0]

    # reset() drops the session
    KokoroModelLoader.reset()
    assert KokoroModelLoader.get_session() is not reloaded
    assert len(loads) == 3


# ------------------------------------------------------- the duration output
def write_tiny_kokoro(path, with_duration_tensor=True):
    """A tiny ONNX graph with Kokoro's inputs and its single "audio" output (and, like the real
    graph, a /encoder/Round_output_0 tensor that is not an output)."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["tokens"], ["tokens_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["style", "speed"], ["audio"]),
    ]
    if with_duration_tensor:
        nodes.insert(1, helper.make_node("Round", ["tokens_float"], ["/encoder/Round_output_0"], name="/encoder/Round"))
        nodes.append(helper.make_node("Identity", ["/encoder/Round_output_0"], ["unused"]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 256]),
            helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture
def tiny_model(tmp_models_dir):
    write_tiny_kokoro(tmp_models_dir / "kokoro-v1.0.int8.onnx")
    make_voices(tmp_models_dir / "voices_ja.npz", ["v"])
    return tmp_models_dir


def test_loader_adds_a_duration_output_that_reports_the_tensor(tiny_model):
    kokoro = KokoroModelLoader.get_session()
    assert kokoro.has_timings is True and KokoroModelLoader.has_timings() is True
    assert [o.name for o in kokoro.sess.get_outputs()] == ["audio", "duration"]
    audio, duration = kokoro.sess.run(
        None,
        {
            "tokens": np.array([[0, 5, 7, 0]], np.int64),
            "style": np.ones((1, 256), np.float32),
            "speed": np.array([2.0], np.float32),
        },
    )
    assert duration.tolist() == [[0.0, 5.0, 7.0, 0.0]]
    assert np.all(audio == 2.0)
    # nothing left behind, the model file untouched
    assert sorted(p.name for p in tiny_model.iterdir()) == ["kokoro-v1.0.int8.onnx", "voices_ja.npz"]
    import onnx

    assert [o.name for o in onnx.load(str(tiny_model / "kokoro-v1.0.int8.onnx")).graph.output] == ["audio"]


def test_loader_can_be_told_not_to_add_it(tiny_model, monkeypatch):
    monkeypatch.setattr(KokoroModelLoader, "expose_durations", False)
    kokoro = KokoroModelLoader.get_session()
    assert kokoro.has_timings is False and KokoroModelLoader.has_timings() is False
    assert [o.name for o in kokoro.sess.get_outputs()] == ["audio"]


def test_model_without_the_tensor_loads_without_timings(tmp_models_dir, caplog):
    write_tiny_kokoro(tmp_models_dir / "kokoro-v1.0.int8.onnx", with_duration_tensor=False)
    make_voices(tmp_models_dir / "voices_ja.npz", ["v"])
    assert KokoroModelLoader.has_timings() is None  # nothing loaded yet
    kokoro = KokoroModelLoader.get_session()
    assert kokoro.has_timings is False
    assert "/encoder/Round_output_0" in caplog.text and "estimated" in caplog.text


def test_onnx_failure_falls_back_to_the_graph_as_it_is(tiny_model, monkeypatch, caplog):
    import onnx

    def broken_load(*args, **kwargs):
        raise OSError("cannot read the graph")

    monkeypatch.setattr(onnx, "load", broken_load)
    kokoro = KokoroModelLoader.get_session()
    assert kokoro.has_timings is False
    assert "Cannot rewrite" in caplog.text and "loading it as it is" in caplog.text


@pytest.mark.parametrize("value, vnni, expected", [
    ("1", False, True), ("0", True, False), ("auto", True, True), ("auto", False, False), ("", True, True),
])
def test_conv_as_gemm_follows_the_setting_and_the_cpu(settings, monkeypatch, value, vnni, expected):
    from core_engine import cpu_info as cpu_info_module
    from core_engine.model_loader import conv_as_gemm_enabled

    info = cpu_info_module.CpuInfo(model_name="Test CPU", flags=("avx2", "avx512_vnni") if vnni else ("avx2",), cores=2)
    monkeypatch.setattr(cpu_info_module, "cpu_info", lambda: info)
    settings.STORYFLOW_INT8_CONV_GEMM = value
    assert conv_as_gemm_enabled() is expected


def test_add_duration_output_is_idempotent_and_needs_the_tensor(tmp_path):
    import onnx

    from core_engine.model_loader import add_duration_output

    write_tiny_kokoro(tmp_path / "with.onnx")
    write_tiny_kokoro(tmp_path / "without.onnx", with_duration_tensor=False)
    model = onnx.load(str(tmp_path / "with.onnx"))
    assert add_duration_output(model) is True
    assert add_duration_output(model) is False
    assert [o.name for o in model.graph.output] == ["audio", "duration"]
    assert list(model.graph.output[1].type.tensor_type.shape.dim)  # onnx.checker wants a shape (install_model checks)
    assert add_duration_output(onnx.load(str(tmp_path / "without.onnx"))) is False


def test_execution_providers_put_an_available_one_first_and_keep_the_cpu(settings, caplog):
    import onnxruntime

    from core_engine.model_loader import execution_providers

    settings.STORYFLOW_ONNX_PROVIDER = ""
    assert execution_providers() == ["CPUExecutionProvider"]
    settings.STORYFLOW_ONNX_PROVIDER = "NoSuchExecutionProvider"
    assert execution_providers() == ["CPUExecutionProvider"]
    assert "NoSuchExecutionProvider is not in this onnxruntime" in caplog.text
    available = [p for p in onnxruntime.get_available_providers() if p != "CPUExecutionProvider"]
    if available:  # e.g. onnxruntime-gpu: the GPU first, the CPU as the fallback
        settings.STORYFLOW_ONNX_PROVIDER = available[0]
        assert execution_providers() == [available[0], "CPUExecutionProvider"]
