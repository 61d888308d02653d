"""GET /api/engine/: variant, CPU, measured speeds and thread settings."""
from __future__ import annotations

import pytest

from core_engine.cpu_info import cpu_info, cpu_key
from core_engine.engine_calibration import Calibration, EngineLayout, write_calibration
from core_engine.model_loader import KokoroModelLoader

pytestmark = pytest.mark.django_db


def test_engine_shape_with_the_bundled_model(api_client, installed_model):
    body = api_client.get("/api/engine/").json()
    assert set(body) == {
        "model_available", "variant", "model_file", "variants_available", "forced_variant", "loaded",
        "exact_cues", "engine_version", "cpu", "calibration", "chars_per_second", "threads", "audio_cache",
        "int8_conv_gemm", "synthesis",
    }
    assert body["synthesis"] == {"mode": "local"}
    assert body["model_available"] is True
    assert body["variant"] in body["variants_available"]
    assert body["cpu"] == cpu_info().as_dict() and body["cpu"]["cores"] >= 1
    assert body["int8_conv_gemm"] is (body["variant"] == "bundled-int8" and cpu_info().has_vnni)
    assert set(body["threads"]) == {"sessions", "threads_per_session", "forced_sessions", "source"}
    # calibration is off in tests: the defaults
    assert body["calibration"] is None and body["chars_per_second"] == {}
    assert body["threads"] == {"sessions": 1, "threads_per_session": 0, "forced_sessions": None, "source": "default"}


def test_engine_reports_the_stored_calibration(api_client, settings, tmp_path):
    import numpy as np

    models = tmp_path / "models"
    models.mkdir()
    for name in ("kokoro-v1.0.int8.onnx", "kokoro-v1.0.float32.onnx"):
        (models / name).write_bytes(b"x")
    np.savez(models / "voices_ja.npz", v=np.zeros((510, 1, 256), np.float32))
    settings.TTS_MODELS_DIR = models
    settings.STORYFLOW_ENGINE_CALIBRATION = True
    KokoroModelLoader.reset()
    info = cpu_info()
    write_calibration(models, Calibration(
        cpu_key=cpu_key(info), cpu=info.as_dict(), variant="bundled-float32", layout=EngineLayout(2, 1),
        grid_chars_per_second={"bundled-int8": {"1 session x all cores": 40.5, "2 sessions x 1 thread": 55.0},
                               "bundled-float32": {"1 session x all cores": 61.0, "2 sessions x 1 thread": 70.2}},
        calibrated_at="2026-12-03T08:00:00+00:00",
    ))
    try:
        body = api_client.get("/api/engine/").json()
    finally:
        KokoroModelLoader.reset()
    assert body["variant"] == "bundled-float32" and body["model_file"] == "kokoro-v1.0.float32.onnx"
    assert body["variants_available"] == ["bundled-int8", "bundled-float32"]
    assert body["chars_per_second"] == {"bundled-int8": 40.5, "bundled-float32": 61.0}
    assert body["threads"] == {"sessions": 2, "threads_per_session": 1, "forced_sessions": None, "source": "calibrated"}
    assert body["calibration"]["layout"] == {"sessions": 2, "threads_per_session": 1}
    assert body["loaded"] is False

    settings.STORYFLOW_TTS_SESSIONS = 1
    settings.STORYFLOW_MODEL_VARIANT = "bundled-int8"
    body = api_client.get("/api/engine/").json()
    KokoroModelLoader.reset()
    assert body["variant"] == "bundled-int8" and body["forced_variant"] == "bundled-int8"
    assert body["threads"]["source"] == "forced" and body["threads"]["sessions"] == 1
