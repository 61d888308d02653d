"""Engine calibration: the fastest model variant and session layout per CPU (issue 10, item 1).

The choice is tested with stand-in sessions whose speed is injected (one variant
deliberately slow), through the real timing code (``time_chunks``) and the real
loader; one test calibrates the real int8 model.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from core_engine import engine_calibration
from core_engine.cpu_info import cpu_info, cpu_key
from core_engine.engine_calibration import (
    CALIBRATION_TEXT,
    DEFAULT_LAYOUT,
    Calibration,
    EngineLayout,
    calibrate,
    choose_fastest,
    read_calibration,
    write_calibration,
)
from core_engine.model_loader import KokoroModelLoader


class _Tokenizer:
    def phonemize(self, text, lang):
        return text.lower()


class _TimedSession:
    """A ``kokoro_onnx.Kokoro`` stand-in that takes ``seconds_per_char`` per character of text;
    with ``threads`` 1 it releases the GIL while "computing" (sleep), as onnxruntime does."""

    def __init__(self, seconds_per_char: float):
        self.seconds_per_char = seconds_per_char
        self.tokenizer = _Tokenizer()
        self.calls = 0

    def get_voices(self):
        return ["v"]

    def create(self, text, voice, speed, is_phonemes, trim):
        self.calls += 1
        time.sleep(self.seconds_per_char * len(text))
        return np.zeros(10, np.float32), 24000


def _loader(speeds: dict[str, float], loads: list):
    def load(files, layout):
        loads.append((files, layout))
        return [_TimedSession(speeds[files]) for _ in range(layout.sessions)]

    return load


def test_choose_fastest():
    assert choose_fastest({"a": 2.0, "b": 1.0, "c": 3.0}) == "b"
    assert choose_fastest({"a": 1.0, "b": 1.0}) == "a"  # a tie keeps the preferred one
    with pytest.raises(ValueError):
        choose_fastest({})


@pytest.mark.parametrize("slow", ["bundled-int8", "bundled-float32"])
def test_calibration_keeps_the_faster_variant(slow):
    speeds = {"bundled-int8": 0.0002, "bundled-float32": 0.0002}
    speeds[slow] = 0.0008  # 4x slower
    loads: list = []
    result = calibrate({"bundled-int8": "bundled-int8", "bundled-float32": "bundled-float32"}, _loader(speeds, loads), cores=2)
    fast = "bundled-float32" if slow == "bundled-int8" else "bundled-int8"
    assert result.variant == fast
    assert result.variant_chars_per_second[fast] > 2 * result.variant_chars_per_second[slow]
    assert result.cpu_key == cpu_key() and result.text_chars == len(CALIBRATION_TEXT)
    # each variant timed on one session and on two one-thread sessions
    assert loads == [("bundled-int8", DEFAULT_LAYOUT), ("bundled-int8", EngineLayout(2, 1)),
                     ("bundled-float32", DEFAULT_LAYOUT), ("bundled-float32", EngineLayout(2, 1))]
    assert set(result.grid_chars_per_second) == {"bundled-int8", "bundled-float32"}
    assert result.layout_chars_per_second == result.grid_chars_per_second[fast]


def test_the_fastest_pair_wins_even_when_its_variant_is_slower_in_one_session():
    """As on the AVX2 path (module docstring): float32 ahead in one session, int8 ahead in two."""
    seconds = {("f32", 1): 1.0, ("f32", 2): 0.8, ("i8", 1): 1.1, ("i8", 2): 0.6}

    def timer(kokoros, chunks, voice):
        return seconds[kokoros[0].name, len(kokoros)] if len(chunks) > 1 else 0.0  # warm-ups cost nothing

    def load(files, layout):
        sessions = [_TimedSession(0.0) for _ in range(layout.sessions)]
        for session in sessions:
            session.name = files
        return sessions

    result = calibrate({"bundled-float32": "f32", "bundled-int8": "i8"}, load, cores=2, timer=timer)

    assert (result.variant, result.layout) == ("bundled-int8", EngineLayout(2, 1))
    assert result.variant_chars_per_second["bundled-float32"] > result.variant_chars_per_second["bundled-int8"]
    n = len(CALIBRATION_TEXT)
    assert result.grid_chars_per_second == {
        "bundled-float32": {"1 session x all cores": round(n / 1.0, 1), "2 sessions x 1 thread": round(n / 0.8, 1)},
        "bundled-int8": {"1 session x all cores": round(n / 1.1, 1), "2 sessions x 1 thread": round(n / 0.6, 1)},
    }
    assert Calibration.from_dict(json.loads(json.dumps(result.as_dict()))) == result


def test_two_sessions_are_kept_when_they_are_faster():
    # the stand-in sleeps, so two sessions run two chunks at once: about twice as fast
    result = calibrate({"bundled-int8": "x"}, _loader({"x": 0.0005}, []), cores=2)
    assert result.layout == EngineLayout(2, 1)
    assert set(result.layout_chars_per_second) == {"1 session x all cores", "2 sessions x 1 thread"}


def test_one_session_is_kept_when_parallel_is_slower():
    def timer(kokoros, chunks, voice):
        return 1.0 if len(kokoros) > 1 else 0.5

    result = calibrate({"bundled-int8": "x"}, _loader({"x": 0.0}, []), cores=4, timer=timer)
    assert result.layout == DEFAULT_LAYOUT


def test_one_core_tries_no_parallel_layout():
    loads: list = []
    result = calibrate({"bundled-int8": "x"}, _loader({"x": 0.0}, loads), cores=1)
    assert result.layout == DEFAULT_LAYOUT and len(loads) == 1


def test_stored_calibration_is_for_this_cpu_only(tmp_path):
    result = calibrate({"bundled-int8": "x"}, _loader({"x": 0.0}, []), cores=1)
    write_calibration(tmp_path, result)
    assert read_calibration(tmp_path) == result
    assert read_calibration(tmp_path, key="AMD EPYC | avx2 | 2 cores") is None  # another CPU calibrates again
    (tmp_path / engine_calibration.CALIBRATION_FILE).write_text("{broken", encoding="utf-8")
    assert read_calibration(tmp_path) is None


def _install_fake_variants(models):
    for name in ("kokoro-v1.0.int8.onnx", "kokoro-v1.0.float32.onnx"):
        (models / name).write_bytes(b"x")
    np.savez(models / "voices_ja.npz", v=np.zeros((510, 1, 256), np.float32))


def _store(models, variant, layout=DEFAULT_LAYOUT, key=None):
    info = cpu_info()
    calibration = Calibration(
        cpu_key=key or cpu_key(info), cpu=info.as_dict(), variant=variant, layout=layout,
        grid_chars_per_second={"bundled-int8": {DEFAULT_LAYOUT.label: 40.0}, "bundled-float32": {DEFAULT_LAYOUT.label: 50.0}},
    )
    write_calibration(models, calibration)


def test_the_loader_uses_the_calibrated_variant_and_layout(tmp_models_dir, settings):
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    _install_fake_variants(tmp_models_dir)
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"  # not calibrated yet
    _store(tmp_models_dir, "bundled-float32", EngineLayout(2, 1))
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-float32"
    assert KokoroModelLoader.layout() == EngineLayout(2, 1)

    settings.STORYFLOW_MODEL_VARIANT = "bundled-int8"  # forced
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"
    settings.STORYFLOW_MODEL_VARIANT = "official"  # forced but missing: logged, ignored
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-float32"
    settings.STORYFLOW_MODEL_VARIANT = ""
    settings.STORYFLOW_TTS_SESSIONS = 3
    assert KokoroModelLoader.layout() == EngineLayout(3, 1)
    settings.STORYFLOW_TTS_SESSIONS = 0

    (tmp_models_dir / "kokoro-v1.0.onnx").write_bytes(b"x")
    (tmp_models_dir / "voices-v1.0.bin").write_bytes((tmp_models_dir / "voices_ja.npz").read_bytes())
    assert KokoroModelLoader.resolve_model_files().variant == "official"  # used when present

    settings.STORYFLOW_ENGINE_CALIBRATION = False
    (tmp_models_dir / "kokoro-v1.0.onnx").unlink()
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"
    assert KokoroModelLoader.layout() == DEFAULT_LAYOUT


def test_a_calibration_from_another_cpu_is_ignored(tmp_models_dir, settings):
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    _install_fake_variants(tmp_models_dir)
    _store(tmp_models_dir, "bundled-float32", key="Some Other CPU | avx2 | 8 cores")
    assert KokoroModelLoader.stored_calibration() is None
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"


def test_first_use_calibrates_once_and_stores_the_choice(tmp_models_dir, settings, monkeypatch):
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    _install_fake_variants(tmp_models_dir)
    speeds = {"bundled-int8": 0.0008, "bundled-float32": 0.0002}  # int8 slow, as on a CPU without VNNI
    loads: list = []
    monkeypatch.setattr(
        KokoroModelLoader, "_build_sessions",
        classmethod(lambda cls, files, layout=DEFAULT_LAYOUT: _loader(speeds, loads)(files.variant, layout)),
    )
    calibration = KokoroModelLoader.ensure_calibrated()
    assert calibration.variant == "bundled-float32"
    stored = json.loads((tmp_models_dir / "engine-calibration.json").read_text())
    assert stored["variant"] == "bundled-float32" and stored["cpu_key"] == cpu_key()
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-float32"
    count = len(loads)
    assert KokoroModelLoader.ensure_calibrated() == calibration
    assert len(loads) == count  # not measured again
    sessions = KokoroModelLoader.get_sessions()
    assert len(sessions) == calibration.layout.sessions


def test_a_new_variant_means_calibrating_again(tmp_models_dir, settings):
    """A calibration that timed only int8 does not decide once the float32 variant is installed."""
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    (tmp_models_dir / "kokoro-v1.0.int8.onnx").write_bytes(b"x")
    np.savez(tmp_models_dir / "voices_ja.npz", v=np.zeros((510, 1, 256), np.float32))
    info = cpu_info()
    write_calibration(tmp_models_dir, Calibration(
        cpu_key=cpu_key(info), cpu=info.as_dict(), variant="bundled-int8", layout=EngineLayout(2, 1),
        grid_chars_per_second={"bundled-int8": {DEFAULT_LAYOUT.label: 40.0}},
    ))
    assert KokoroModelLoader.stored_calibration() is not None and not KokoroModelLoader.needs_calibration()
    (tmp_models_dir / "kokoro-v1.0.float32.onnx").write_bytes(b"x")
    assert KokoroModelLoader.stored_calibration() is None
    assert KokoroModelLoader.needs_calibration()


def test_calibration_off_does_nothing(tmp_models_dir, settings):
    settings.STORYFLOW_ENGINE_CALIBRATION = False
    _install_fake_variants(tmp_models_dir)
    assert KokoroModelLoader.ensure_calibrated() is None
    assert not (tmp_models_dir / "engine-calibration.json").exists()


@pytest.mark.real_model
def test_real_calibration_of_the_int8_model(installed_model):
    files = KokoroModelLoader.available_variants()["bundled-int8"]
    result = calibrate({"bundled-int8": files}, KokoroModelLoader._build_sessions, cores=2)
    assert result.variant == "bundled-int8"
    assert set(result.layout_chars_per_second) == {"1 session x all cores", "2 sessions x 1 thread"}
    # a real speed: a few to a few hundred characters of text per second on any CPU
    assert 2 < result.variant_chars_per_second["bundled-int8"] < 2000


def test_a_file_from_before_the_grid_is_read_from_its_two_views():
    old = {
        "cpu_key": "k", "cpu": {}, "variant": "bundled-float32", "layout": {"sessions": 2, "threads_per_session": 1},
        "variant_chars_per_second": {"bundled-int8": 40.0, "bundled-float32": 50.0},
        "layout_chars_per_second": {"1 session x all cores": 50.0, "2 sessions x 1 thread": 70.0},
    }
    calibration = Calibration.from_dict(old)
    assert calibration.variant_chars_per_second == old["variant_chars_per_second"]
    assert calibration.layout_chars_per_second == old["layout_chars_per_second"]
    assert Calibration.from_dict(calibration.as_dict()) == calibration
    assert not calibration.is_complete  # int8 was never timed in two sessions


def test_a_file_from_before_the_grid_means_calibrating_again(tmp_models_dir, settings):
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    _install_fake_variants(tmp_models_dir)
    info = cpu_info()
    old = {
        "cpu_key": cpu_key(info), "cpu": info.as_dict(), "variant": "bundled-int8",
        "layout": {"sessions": 1, "threads_per_session": 0},
        "variant_chars_per_second": {"bundled-int8": 64.2, "bundled-float32": 34.6},
        "layout_chars_per_second": {"1 session x all cores": 64.2, "2 sessions x 1 thread": 63.5},
    }
    (tmp_models_dir / engine_calibration.CALIBRATION_FILE).write_text(json.dumps(old), encoding="utf-8")
    assert read_calibration(tmp_models_dir) is not None
    assert KokoroModelLoader.stored_calibration() is None
    assert KokoroModelLoader.needs_calibration()
