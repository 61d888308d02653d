"""Short voice samples for the voice picker (``POST /api/voices/preview/``), cached on disk.

A sample is synthesized on the request's thread (a few seconds of speech: about
1–2 s of CPU at the real-time factors StoryFlow measures), not through the task
runner: the editor waits for it, and espeak-ng stays serialized by kokoro-onnx's
own lock while onnxruntime runs concurrently with the worker. Samples are cached
under ``<MEDIA_ROOT>/cache/voice-samples/<sha256>.wav``, keyed by what makes the
sound (canonical voice, speed, text, model variant, engine version), written
atomically, and the folder is capped at ``MAX_CACHED_SAMPLES`` files (oldest used
first out).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from django.conf import settings

from api.services.errors import ModelDamaged, ModelUnavailable, UnknownVoice
from api.services.narration import canonical_voice, current_model_variant
from core_engine import tts_wrapper
from core_engine.audio_utils import write_wav_atomic
from core_engine.model_loader import ModelLoadError, ModelNotAvailableError

logger = logging.getLogger(__name__)

#: What a sample reads when no text is given: one sentence with a question and a
#: number, so a listener hears the voice's pitch, pace and intonation (about 5 s).
DEFAULT_SAMPLE_TEXT = "Hello! This is how I will read your story. Shall we begin chapter one?"
#: Most samples kept in the cache folder (each is ~100–300 KB).
MAX_CACHED_SAMPLES = 200


def samples_dir() -> Path:
    """``<MEDIA_ROOT>/cache/voice-samples`` (read at call time)."""
    return Path(settings.MEDIA_ROOT) / "cache" / "voice-samples"


def sample_key(voice: str, speed: float, text: str, model_variant: str) -> str:
    """SHA-256 hex of what makes a sample's sound."""
    payload = {
        "voice": voice, "speed": round(float(speed), 4), "text": text,
        "model_variant": model_variant, "engine_version": tts_wrapper.ENGINE_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def voice_sample(voice: str, speed: float = 1.0, text: str | None = None) -> Path:
    """The WAV of ``voice`` (an id or a blend) reading ``text`` (default ``DEFAULT_SAMPLE_TEXT``) at ``speed``.

    Returns the cached file when there is one (its mtime is touched, for the LRU
    cap), else synthesizes it (text normalization applies; no lexicon).

    Returns:
        Path of a 24 kHz mono 16-bit WAV normalized to -18 LUFS.

    Raises:
        UnknownVoice: the voice or a voice of the blend is not installed, or the blend is malformed.
        ModelUnavailable: no model is installed (``ModelDamaged`` when it cannot be loaded).
        tts_wrapper.InvalidSynthesisRequest: the text has nothing to speak.
    """
    canonical = canonical_voice(voice)
    variant = current_model_variant()
    if not variant:
        raise ModelUnavailable()
    text = (text or "").strip() or DEFAULT_SAMPLE_TEXT
    path = samples_dir() / f"{sample_key(canonical, speed, text, variant)}.wav"
    if path.is_file():
        try:
            os.utime(path)
        except OSError:  # a read-only media folder still serves the cached sample
            pass
        return path
    try:
        synthesis = tts_wrapper.synthesize(text, canonical, float(speed))
    except ModelLoadError as exc:  # installed but truncated or corrupt: say so, and how to reinstall
        raise ModelDamaged(str(exc)) from exc
    except ModelNotAvailableError as exc:
        raise ModelUnavailable() from exc
    except tts_wrapper.InvalidSynthesisRequest as exc:
        if "voice" in str(exc).lower():
            raise UnknownVoice(voice, [], message=str(exc)) from exc
        raise
    write_wav_atomic(path, synthesis.audio, synthesis.sample_rate)
    evict_old_samples()
    return path


def evict_old_samples(limit: int = MAX_CACHED_SAMPLES) -> int:
    """Remove the least recently used samples beyond ``limit``; returns how many were removed."""
    folder = samples_dir()
    try:
        files = sorted(folder.glob("*.wav"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return 0
    removed = 0
    for path in files[: max(0, len(files) - limit)]:
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed
