"""What the TTS engine runs with on this machine (``GET /api/engine/``)."""
from __future__ import annotations

from typing import Any

from django.conf import settings

from api.services import remote_synthesis
from core_engine import audio_cache, tts_wrapper
from core_engine.cpu_info import cpu_info
from core_engine.model_loader import KokoroModelLoader, conv_gemm_applies, forced_variant


def describe_engine() -> dict[str, Any]:
    """The engine's model variant, CPU, measured speeds, thread settings and synthesis workers. Loads nothing.

    Returns:
        ``{"model_available": bool, "variant": str | null, "model_file": str | null,
        "variants_available": [str], "forced_variant": str | null, "loaded": bool,
        "exact_cues": bool | null, "engine_version": int,
        "cpu": {"model_name": str, "flags": [str], "cores": int, "vnni": bool},
        "calibration": {"variant", "layout", "variant_chars_per_second", "layout_chars_per_second",
        "grid_chars_per_second", "text_chars", "calibrated_at"} | null,
        "chars_per_second": {variant: float},   # characters of text per second of wall time, measured
        "threads": {"sessions": int, "threads_per_session": int (0 = onnxruntime's default, one per core),
        "forced_sessions": int | null, "source": "forced" | "calibrated" | "default"},
        "int8_conv_gemm": bool,   # the int8 graph's convolutions run as u8 x s8 GEMMs (core_engine.conv_gemm)
        "audio_cache": {"max_bytes": int},
        "synthesis": {"mode": "local"} | {"mode": "celery", "broker", "error", "workers": [...]}}``
        (``remote_synthesis.describe_workers``; in celery mode this asks the live workers,
        waiting at most about 2 s).
    """
    files = KokoroModelLoader.resolve_model_files()
    calibration = KokoroModelLoader.stored_calibration()
    layout = KokoroModelLoader.layout()
    forced_sessions = int(getattr(settings, "STORYFLOW_TTS_SESSIONS", 0) or 0)
    loaded = KokoroModelLoader.loaded_files()
    return {
        "model_available": files is not None,
        "variant": files.variant if files else None,
        "model_file": files.model_path.name if files else None,
        "variants_available": list(KokoroModelLoader.available_variants()),
        "forced_variant": forced_variant() or None,
        "loaded": loaded is not None,
        "exact_cues": KokoroModelLoader.has_timings(),
        "engine_version": tts_wrapper.ENGINE_VERSION,
        "cpu": cpu_info().as_dict(),
        "calibration": None if calibration is None else {
            key: value for key, value in calibration.as_dict().items() if key not in ("cpu_key", "cpu")
        },
        "chars_per_second": dict(calibration.variant_chars_per_second) if calibration else {},
        "threads": {
            "sessions": layout.sessions,
            "threads_per_session": layout.threads_per_session,
            "forced_sessions": forced_sessions or None,
            "source": "forced" if forced_sessions > 0 else ("calibrated" if calibration else "default"),
        },
        "int8_conv_gemm": bool(files and conv_gemm_applies(files)),
        "audio_cache": {"max_bytes": audio_cache.max_bytes()},
        "synthesis": remote_synthesis.describe_workers(),
    }
