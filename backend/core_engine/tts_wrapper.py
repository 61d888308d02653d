"""Text → narration WAV with Kokoro-82M (through kokoro-onnx).

Pipeline, pure until the last step::

    text ──chunk_text──▶ [TextChunk] ──phonemize──▶ [phonemes] ──Kokoro──▶ [float32 @ 24 kHz]
         ──apply_fades + join_with_pauses──▶ audio ──normalize_loudness──▶ write_wav_atomic

``generate_audio`` is the entry point used by the API's task manager: it never
raises for bad input or a missing model and reports progress per chunk.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np
from django.conf import settings

from core_engine.audio_utils import (
    TARGET_LUFS,
    apply_fades,
    join_with_pauses,
    normalize_loudness,
    write_wav_atomic,
)
from core_engine.model_loader import KokoroModelLoader, ModelNotAvailableError
from core_engine.text_chunking import (
    CLAUSE_PAUSE,
    DEFAULT_TARGET_TOKENS,
    SENTENCE_PAUSE,
    TextChunk,
    chunk_text,
    has_speakable_content,
)

logger = logging.getLogger(__name__)

#: Kokoro-82M output rate in Hz (kokoro_onnx.config.SAMPLE_RATE).
SAMPLE_RATE = 24000
#: Speed multiplier range accepted by kokoro-onnx (``Kokoro._prepare`` rejects others).
MIN_SPEED, MAX_SPEED = 0.5, 2.0
#: espeak-ng language for phonemization (American English).
LANG = "en-us"

ProgressCallback = Callable[[int, int, int, int], None]

# Abbreviations espeak-ng reads with a full stop inside ("Mr." → "mˈɪstɚ." + a pause):
# spelled out before phonemizing. Only applied to the phonemizer input, never to chunk text.
_SPOKEN_ABBREVIATIONS = (
    (re.compile(r"\bMr\.(?=\s)"), "Mister"),
    (re.compile(r"\bMrs\.(?=\s)"), "Missus"),
    (re.compile(r"\bMs\.(?=\s)"), "Miz"),
    (re.compile(r"\bDr\.(?=\s)"), "Doctor"),
    (re.compile(r"\bMessrs\.(?=\s)"), "Messieurs"),
    (re.compile(r"\bMme\.?(?=\s)"), "Madame"),
    (re.compile(r"\bMlle\.?(?=\s)"), "Mademoiselle"),
    # "M. Morrel", "M. de Villefort": French "Monsieur" before a capitalized or particle name.
    (re.compile(r"\bM\.(?=\s+(?:[A-Z]|de\b|d'))"), "Monsieur"),
)


def spoken_form(text: str) -> str:
    """Rewrite ``text`` for the phonemizer: expand honorifics (Mr. → Mister, M. → Monsieur…)."""
    for pattern, replacement in _SPOKEN_ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return text


class KokoroEngine:
    """Pure synthesis steps around one ``kokoro_onnx.Kokoro`` (the shared session).

    ``generate_audio`` makes one engine per request, so its phoneme memo is
    private to that request and needs no lock.

    Args:
        kokoro: a loaded ``kokoro_onnx.Kokoro`` (``KokoroModelLoader.get_session()``).
        target_tokens: chunk size in tokens (default 250; see text_chunking).
    """

    def __init__(self, kokoro, target_tokens: int = DEFAULT_TARGET_TOKENS):
        self.kokoro = kokoro
        self.target_tokens = target_tokens
        self._phoneme_cache: dict[str, str] = {}

    def phonemize(self, text: str) -> str:
        """Phoneme string for ``text`` (en-us, espeak-ng via kokoro-onnx; its own lock guards espeak).

        One phoneme symbol is one model token. Memoized per engine.
        """
        cached = self._phoneme_cache.get(text)
        if cached is None:
            cached = self.kokoro.tokenizer.phonemize(spoken_form(text), LANG)
            self._phoneme_cache[text] = cached
        return cached

    def count_tokens(self, text: str) -> int:
        """Number of model tokens (phonemes) ``text`` turns into."""
        return len(self.phonemize(text))

    def plan(self, text: str) -> list[TextChunk]:
        """Split ``text`` into chunks of ≤ ``target_tokens`` tokens (see ``chunk_text``)."""
        return chunk_text(text, self.count_tokens, self.target_tokens)

    def synthesize_chunk(self, phonemes: str, voice_id: str, speed: float) -> np.ndarray:
        """Audio for one chunk's phonemes: float32 mono at 24 kHz, leading/trailing silence trimmed.

        kokoro-onnx's own pauses inside the chunk are set to our sentence/clause
        pauses so packed sentences sound like separately synthesized ones.

        Raises:
            ValueError: unknown voice, speed out of range, phonemes over 510 tokens.
        """
        audio, sample_rate = self.kokoro.create(
            phonemes,
            voice=voice_id,
            speed=speed,
            lang=LANG,
            is_phonemes=True,
            trim=True,
            sentence_pause=SENTENCE_PAUSE,
            clause_pause=CLAUSE_PAUSE,
        )
        if sample_rate != SAMPLE_RATE:  # pragma: no cover - Kokoro is always 24 kHz
            raise RuntimeError(f"model produced {sample_rate} Hz audio, expected {SAMPLE_RATE}")
        return np.asarray(audio, dtype=np.float32).ravel()

    def render(
        self,
        chunks: list[TextChunk],
        voice_id: str,
        speed: float,
        on_progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Synthesize ``chunks`` and join them with their pauses, loudness-normalized.

        Chunks with nothing speakable (only punctuation) contribute only their pause.
        ``on_progress(chunks_done, chunks_total, chars_done, chars_total)`` is
        called with 0 done first, then after every chunk.

        Returns:
            float32 mono audio at ``SAMPLE_RATE`` normalized to ``TARGET_LUFS``.
        """
        total_chunks = len(chunks)
        total_chars = sum(len(c.text) for c in chunks)
        done_chars = 0
        _notify(on_progress, 0, total_chunks, 0, total_chars)
        parts: list[np.ndarray] = []
        pauses: list[float] = []
        for index, chunk in enumerate(chunks, start=1):
            phonemes = self.phonemize(chunk.text)
            if has_speakable_content(chunk.text) and any(ch.isalpha() for ch in phonemes):
                parts.append(apply_fades(self.synthesize_chunk(phonemes, voice_id, speed), SAMPLE_RATE))
                pauses.append(chunk.pause_after)
            elif pauses:
                pauses[-1] = max(pauses[-1], chunk.pause_after)
            done_chars += len(chunk.text)
            _notify(on_progress, index, total_chunks, done_chars, total_chars)
        if pauses:
            pauses[-1] = 0.0  # no trailing silence
        audio = join_with_pauses(parts, pauses, SAMPLE_RATE)
        return normalize_loudness(audio, SAMPLE_RATE, TARGET_LUFS)


def _notify(callback: ProgressCallback | None, *args: int) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # a broken progress reporter must not kill synthesis
        logger.exception("on_progress callback failed")


def _result(success: bool, audio_path=None, duration=None, error=None) -> dict:
    return {"success": success, "audio_path": audio_path, "duration": duration, "error": error}


def validate_request(text, voice_id, speed) -> str | None:
    """Check a synthesis request without loading the model. Returns an error message or None.

    Rules: text must be a non-blank string with at least one letter or digit;
    speed a finite number in [0.5, 2.0] (kokoro-onnx's accepted range); voice_id
    one of ``KokoroModelLoader.get_voices()``; a model must be installed.
    """
    if not isinstance(text, str) or not text.strip():
        return "Text is empty."
    if not has_speakable_content(text):
        return "Text has nothing to speak (no letters or digits)."
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        return f"Speed must be a number between {MIN_SPEED} and {MAX_SPEED}, got {speed!r}."
    if not MIN_SPEED <= float(speed) <= MAX_SPEED:
        return f"Speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}."
    if not KokoroModelLoader.is_model_available():
        return str(ModelNotAvailableError(settings.TTS_MODELS_DIR))
    voices = KokoroModelLoader.get_voices()
    if voice_id not in voices:
        return f"Unknown voice {voice_id!r}; available voices: {', '.join(voices) or 'none'}."
    return None


def generate_audio(
    text: str,
    voice_id: str,
    speed: float,
    output_path: str | Path,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Synthesize ``text`` into a WAV file at ``output_path``.

    Args:
        text: narration text, any length (chunked to ≤ 250 tokens internally).
        voice_id: one of ``KokoroModelLoader.get_voices()`` (e.g. "jf_alpha").
        speed: speaking-rate multiplier, 0.5–2.0 (1.0 = model default).
        output_path: target .wav path; parent folders are created.
        on_progress: optional ``(chunks_done, chunks_total, chars_done, chars_total)``
            callback, called once with ``chunks_done == 0`` before synthesis and
            after each chunk (from the calling thread). Exceptions it raises are logged and ignored.

    Returns:
        ``{"success": bool, "audio_path": str | None, "duration": float | None, "error": str | None}``;
        on success the file is a 24 kHz mono PCM_16 WAV normalized to -18 LUFS,
        written atomically, and ``duration`` is its length in seconds (2 decimals).

    Never raises: invalid input, a missing model or a synthesis failure give
    ``success=False`` with a message in ``error`` and no file written.
    """
    try:
        error = validate_request(text, voice_id, speed)
        if error:
            return _result(False, error=error)
        if output_path is None or str(output_path) == "":
            return _result(False, error="No output path given.")
        engine = KokoroEngine(KokoroModelLoader.get_session())
        chunks = engine.plan(text)
        if not any(has_speakable_content(c.text) for c in chunks):
            return _result(False, error="Text has nothing to speak (no letters or digits).")
        audio = engine.render(chunks, voice_id, float(speed), on_progress)
        if audio.size == 0:
            return _result(False, error="The model produced no audio for this text.")
        path = write_wav_atomic(output_path, audio, SAMPLE_RATE)
        duration = round(audio.size / SAMPLE_RATE, 2)
        return _result(True, audio_path=str(path), duration=duration)
    except ModelNotAvailableError as exc:
        return _result(False, error=str(exc))
    except Exception as exc:  # never raise to the task manager
        logger.exception("Audio generation failed")
        return _result(False, error=f"Audio generation failed: {type(exc).__name__}: {exc}")


def construct_audio_path(project_id, segment_id) -> str:
    """Absolute path of a segment's audio: ``<MEDIA_ROOT>/projects/{project_id}/audio/{segment_id}.wav``.

    Reads ``settings.MEDIA_ROOT`` at call time.
    """
    return str(Path(settings.MEDIA_ROOT) / "projects" / str(project_id) / "audio" / f"{segment_id}.wav")


def construct_audio_url(project_id, segment_id) -> str:
    """URL path of a segment's audio: ``/media/projects/{project_id}/audio/{segment_id}.wav``."""
    return f"/media/projects/{project_id}/audio/{segment_id}.wav"
