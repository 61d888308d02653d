"""Text → narration audio with sentence cues, with Kokoro-82M (through kokoro-onnx).

Pipeline, pure until the last step::

    text ──chunk_text──▶ [TextChunk] ──phonemize per sentence──▶ [phonemes] ──Kokoro──▶ [float32 @ 24 kHz + token timings]
         ──apply_fades + join_with_pauses──▶ audio ──normalize_loudness──▶ Synthesis(audio, 24000, cues)
         ──write_wav_atomic──▶ .wav  (generate_audio only)

``synthesize`` is the pure step (no database, no file written): text, voice, speed →
``Synthesis``. ``generate_audio`` is the entry point used by the API's task manager:
it calls ``synthesize``, writes the WAV atomically, never raises for bad input or a
missing model, and reports progress per chunk.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from django.conf import settings

from core_engine.audio_utils import (
    TARGET_LUFS,
    apply_fades,
    join_with_pauses,
    normalize_loudness,
    part_offsets,
    write_wav_atomic,
)
from core_engine.model_loader import KokoroModelLoader, ModelNotAvailableError
from core_engine.sentence_cues import Cue, SentenceSpan, estimated_spans, merge_spans, timed_spans
from core_engine.text_chunking import (
    DEFAULT_TARGET_TOKENS,
    SentencePiece,
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
#: Decimals of the cue times in ``generate_audio``'s result (1 ms).
CUE_DECIMALS = 3

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
# Numbers with a separator inside. phonemizer 3.4 keeps "1.87" whole, but when the text
# ends in a bare "." or "," (a sentence or clause phonemized on its own) it splits the
# text at the first occurrence of that mark, which is the one inside the number:
# "He had $1.87." became "dollar one. eighty seven" and "1,000 men," "one, zero zero zero".
# (phonemizer's Punctuation._preserve_line cuts at ``line.split(mark)``, not at the match.)
# Rewritten to the words espeak-ng reads for the intact number: digits after a decimal
# point one by one ("three point one four"), thousands separators dropped ("one
# thousand"; identical phonemes). The spelled-out "point" gets a stress mark espeak does
# not give it inside a number (θɹˈiː pˈɔɪnt, not pɔɪnt). A decimal comma ("19,99,") is
# not rewritten and still splits.
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(\d+)")
_THOUSANDS_SEPARATOR = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def spoken_form(text: str) -> str:
    """Rewrite ``text`` for the phonemizer: expand honorifics (Mr. → Mister, M. → Monsieur…),
    read decimals digit by digit after "point" (3.14 → 3 point 1 4) and drop thousands
    separators (1,000 → 1000)."""
    for pattern, replacement in _SPOKEN_ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = _THOUSANDS_SEPARATOR.sub("", text)
    return _DECIMAL_POINT.sub(lambda match: " point " + " ".join(match.group(1)), text)


class InvalidSynthesisRequest(ValueError):
    """A synthesis request the engine cannot speak: empty text or nothing speakable, speed
    outside [0.5, 2.0], or an unknown voice. The message says which, for the user."""


class SynthesisFailed(RuntimeError):
    """The model produced no audio for a request that passed validation."""


@dataclass(frozen=True)
class Synthesis:
    """The result of ``synthesize``: narration audio and when each sentence is heard.

    Attributes:
        audio: float32, shape ``(n_samples,)``, mono, at ``sample_rate``, normalized to
            ``TARGET_LUFS`` (-18 LUFS) with sample peaks ≤ -1 dBFS.
        sample_rate: Hz (24 000 for Kokoro).
        cues: one ``Cue`` per sentence that has something to speak, in reading order;
            seconds from ``audio[0]``; ``0 <= start <= end <= duration``; each cue starts
            at or after the previous one's end (they never overlap).
        exact_cues: True when the cue boundaries come from the model's own per-token
            durations (placed on the pause the model left, see ``sentence_cues``); False
            when the model has no duration output and each chunk's time was split between
            its sentences in proportion to their phoneme counts (approximate).
    """

    audio: np.ndarray
    sample_rate: int
    cues: list[Cue] = field(default_factory=list)
    exact_cues: bool = False

    @property
    def duration(self) -> float:
        """Length of ``audio`` in seconds."""
        return self.audio.size / self.sample_rate


@dataclass(frozen=True)
class ChunkPhonemes:
    """What the model is given for one chunk.

    Attributes:
        phonemes: the groups' phonemes joined by single spaces; every symbol is in the
            model vocabulary, so kokoro-onnx speaks it unchanged, one token per symbol.
        groups: ``(sentence_index, token_count)`` per group (the chunk's pieces of one
            sentence), in order, each count > 0.
    """

    phonemes: str
    groups: tuple[tuple[int, int], ...]


class KokoroEngine:
    """Pure synthesis steps around one ``kokoro_onnx.Kokoro`` (the shared session).

    ``synthesize`` makes one engine per request, so its phoneme memo is private to
    that request and needs no lock.

    Args:
        kokoro: a loaded ``kokoro_onnx.Kokoro`` (``KokoroModelLoader.get_session()``).
        target_tokens: chunk size in tokens (default 250; see text_chunking).
    """

    def __init__(self, kokoro, target_tokens: int = DEFAULT_TARGET_TOKENS):
        self.kokoro = kokoro
        self.target_tokens = target_tokens
        self._phoneme_cache: dict[str, str] = {}

    @property
    def has_timings(self) -> bool:
        """True if the model reports per-token durations (exact cues)."""
        return bool(getattr(self.kokoro, "has_timings", False))

    def phonemize(self, text: str) -> str:
        """Phoneme string for ``text`` (en-us, espeak-ng via kokoro-onnx; its own lock guards espeak).

        Only symbols of the model vocabulary are kept (kokoro-onnx drops the rest), so
        one symbol is one model token. Memoized per engine.
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
        """Split ``text`` into chunks of ≤ ``target_tokens`` tokens (see ``chunk_text``).

        A chunk is counted as ``chunk_phonemes`` phonemizes it (sentence by sentence),
        so ``chunk.tokens`` is the number of tokens the model is given, and the
        sentences phonemized here are the ones synthesis reads back from the memo.
        """
        return chunk_text(
            text,
            self.count_tokens,
            self.target_tokens,
            count_chunk=lambda pieces: len(self.chunk_phonemes(pieces).phonemes),
        )

    def chunk_phonemes(self, pieces: Sequence[SentencePiece]) -> ChunkPhonemes:
        """Phonemize a chunk's ``pieces`` sentence by sentence, so each token belongs to one sentence.

        The chunk's pieces of one sentence are phonemized together, each group's
        phonemes get their whitespace collapsed, and the groups are joined by one
        space; groups with no phonemes are left out. On the bundled stories this gives
        the same string as phonemizing the whole chunk, except that phonemizer drops the
        space between two sentences when a quote stands between them
        (``madam!' 'Is`` → ``mˈædəm!ɪz``); here the space is kept.
        """
        groups: list[tuple[int, str]] = []
        for piece in pieces:
            if groups and groups[-1][0] == piece.sentence_index:
                groups[-1] = (piece.sentence_index, f"{groups[-1][1]} {piece.text}")
            else:
                groups.append((piece.sentence_index, piece.text))
        phonemes: list[str] = []
        counts: list[tuple[int, int]] = []
        for sentence_index, text in groups:
            spoken = " ".join(self.phonemize(text).split())
            if spoken:
                phonemes.append(spoken)
                counts.append((sentence_index, len(spoken)))
        return ChunkPhonemes(phonemes=" ".join(phonemes), groups=tuple(counts))

    def synthesize_chunk(self, phonemes: str, voice_id: str, speed: float) -> tuple[np.ndarray, list | None]:
        """Audio and token timings for one chunk's phonemes.

        Args:
            phonemes: ≤ 510 symbols of the model vocabulary, single spaces (``chunk_phonemes``).
            voice_id: a voice of the loaded voices file.
            speed: 0.5–2.0.

        Returns:
            ``(audio, timings)``: float32 mono at 24 kHz with leading/trailing silence
            trimmed, and one ``kokoro_onnx.sliding.Timing(phoneme, start, end)`` per
            symbol of ``phonemes`` (seconds within ``audio``), or None when the model has
            no duration output. kokoro-onnx's own pause top-up is off (0 s): with timings
            it would also pad after a chunk's final mark, where the join adds our pause,
            and without them it never applies to a chunk this short; so the audio is the
            same with or without timings.

        Raises:
            ValueError: unknown voice, speed out of range, phonemes over 510 tokens.
        """
        audio, sample_rate, timings = self.kokoro.create_timed(
            phonemes,
            voice=voice_id,
            speed=speed,
            lang=LANG,
            is_phonemes=True,
            trim=True,
            sentence_pause=0.0,
            clause_pause=0.0,
        )
        if sample_rate != SAMPLE_RATE:  # pragma: no cover - Kokoro is always 24 kHz
            raise RuntimeError(f"model produced {sample_rate} Hz audio, expected {SAMPLE_RATE}")
        return np.asarray(audio, dtype=np.float32).ravel(), (list(timings) if self.has_timings else None)

    def synthesize(
        self,
        chunks: list[TextChunk],
        voice_id: str,
        speed: float,
        on_progress: ProgressCallback | None = None,
    ) -> Synthesis:
        """Synthesize ``chunks`` (from ``plan``), join them with their pauses, and place each sentence.

        Chunks with nothing speakable (only punctuation) contribute only their pause.
        ``on_progress(chunks_done, chunks_total, chars_done, chars_total)`` is called
        with 0 done first, then after every chunk.

        Returns:
            ``Synthesis`` with loudness-normalized audio and one cue per spoken sentence
            (see ``sentence_cues`` for how the boundaries are found).
        """
        total_chunks = len(chunks)
        total_chars = sum(len(c.text) for c in chunks)
        done_chars = 0
        _notify(on_progress, 0, total_chunks, 0, total_chars)
        parts: list[np.ndarray] = []
        pauses: list[float] = []
        chunk_spans: list[list[tuple[int, int, int]]] = []  # per part: (sentence_index, start, end) in the part
        texts: dict[int, str] = {}
        exact = True
        for index, chunk in enumerate(chunks, start=1):
            plan = self.chunk_phonemes(chunk.pieces)
            if has_speakable_content(chunk.text) and any(ch.isalpha() for ch in plan.phonemes):
                audio, timings = self.synthesize_chunk(plan.phonemes, voice_id, speed)
                audio = apply_fades(audio, SAMPLE_RATE)
                spans, chunk_exact = _group_spans(plan, timings, audio)
                exact = exact and chunk_exact
                parts.append(audio)
                pauses.append(chunk.pause_after)
                texts.update((piece.sentence_index, piece.sentence) for piece in chunk.pieces)
                # a sentence of punctuation only ("...") keeps its tokens and time but gets no cue
                chunk_spans.append(
                    [
                        (group[0], *span)
                        for group, span in zip(plan.groups, spans)
                        if has_speakable_content(texts[group[0]])
                    ]
                )
            elif pauses:
                pauses[-1] = max(pauses[-1], chunk.pause_after)
            done_chars += len(chunk.text)
            _notify(on_progress, index, total_chunks, done_chars, total_chars)
        if pauses:
            pauses[-1] = 0.0  # no trailing silence
        offsets = part_offsets([len(p) for p in parts], pauses, SAMPLE_RATE)
        audio = normalize_loudness(join_with_pauses(parts, pauses, SAMPLE_RATE), SAMPLE_RATE, TARGET_LUFS)
        spans = [
            SentenceSpan(sentence_index, offset + start, offset + end)
            for offset, part in zip(offsets, chunk_spans)
            for sentence_index, start, end in part
        ]
        cues = merge_spans(spans, texts, SAMPLE_RATE)
        return Synthesis(audio=audio, sample_rate=SAMPLE_RATE, cues=cues, exact_cues=exact and bool(parts))


def _group_spans(plan: ChunkPhonemes, timings: list | None, audio: np.ndarray) -> tuple[list[tuple[int, int]], bool]:
    """Sample spans of a chunk's groups in its audio, and whether they are exact (from timings)."""
    counts = [count for _, count in plan.groups]
    if timings is not None:
        if len(timings) == len(plan.phonemes):
            return timed_spans(counts, timings, audio, SAMPLE_RATE), True
        logger.warning(  # pragma: no cover - every symbol is in the vocabulary by construction
            "%d token timings for %d phonemes: sentence cues of this chunk are estimated",
            len(timings), len(plan.phonemes),
        )
    return estimated_spans(counts, len(audio)), False


def _notify(callback: ProgressCallback | None, *args: int) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # a broken progress reporter must not kill synthesis
        logger.exception("on_progress callback failed")


def _result(success: bool, audio_path=None, duration=None, error=None, cues=None) -> dict:
    return {"success": success, "audio_path": audio_path, "duration": duration, "error": error, "cues": cues or []}


def _check_request(text, voice_id, speed) -> None:
    """Raise ``InvalidSynthesisRequest`` / ``ModelNotAvailableError`` for a request the engine cannot speak."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSynthesisRequest("Text is empty.")
    if not has_speakable_content(text):
        raise InvalidSynthesisRequest("Text has nothing to speak (no letters or digits).")
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        raise InvalidSynthesisRequest(f"Speed must be a number between {MIN_SPEED} and {MAX_SPEED}, got {speed!r}.")
    if not MIN_SPEED <= float(speed) <= MAX_SPEED:
        raise InvalidSynthesisRequest(f"Speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}.")
    if not KokoroModelLoader.is_model_available():
        raise ModelNotAvailableError(settings.TTS_MODELS_DIR)
    voices = KokoroModelLoader.get_voices()
    if voice_id not in voices:
        raise InvalidSynthesisRequest(f"Unknown voice {voice_id!r}; available voices: {', '.join(voices) or 'none'}.")


def validate_request(text, voice_id, speed) -> str | None:
    """Check a synthesis request without loading the model. Returns an error message or None.

    Rules: text must be a non-blank string with at least one letter or digit;
    speed a finite number in [0.5, 2.0] (kokoro-onnx's accepted range); a model
    must be installed; voice_id one of ``KokoroModelLoader.get_voices()``.
    """
    try:
        _check_request(text, voice_id, speed)
    except (InvalidSynthesisRequest, ModelNotAvailableError) as exc:
        return str(exc)
    return None


def synthesize(
    text: str,
    voice_id: str,
    speed: float,
    on_progress: ProgressCallback | None = None,
    *,
    target_tokens: int = DEFAULT_TARGET_TOKENS,
) -> Synthesis:
    """Synthesize ``text``: audio samples, sample rate and sentence cues. No database, no file written.

    Args:
        text: narration text, any length (chunked to ≤ ``target_tokens`` tokens internally).
        voice_id: one of ``KokoroModelLoader.get_voices()`` (e.g. "jf_alpha").
        speed: speaking-rate multiplier, 0.5–2.0 (1.0 = model default).
        on_progress: optional ``(chunks_done, chunks_total, chars_done, chars_total)``
            callback, called once with ``chunks_done == 0`` before synthesis and after
            each chunk (from the calling thread). Exceptions it raises are logged and ignored.
        target_tokens: chunk size in model tokens, 1–510 (default 250; ``chunk_text`` clamps it).

    Returns:
        ``Synthesis(audio, sample_rate=24000, cues, exact_cues)``: float32 mono audio
        normalized to -18 LUFS, and one ``Cue(start, end, text)`` per sentence (seconds
        within the audio; see ``Synthesis``).

    Raises:
        InvalidSynthesisRequest: empty or unspeakable text, speed outside [0.5, 2.0], unknown voice.
        ModelNotAvailableError: no model installed.
        SynthesisFailed: the model produced no audio.
        Exception: whatever onnxruntime / kokoro-onnx raise during synthesis.
    """
    _check_request(text, voice_id, speed)
    engine = KokoroEngine(KokoroModelLoader.get_session(), target_tokens=target_tokens)
    chunks = engine.plan(text)
    if not any(has_speakable_content(c.text) for c in chunks):
        raise InvalidSynthesisRequest("Text has nothing to speak (no letters or digits).")
    synthesis = engine.synthesize(chunks, voice_id, float(speed), on_progress)
    if synthesis.audio.size == 0:
        raise SynthesisFailed("The model produced no audio for this text.")
    return synthesis


def cue_dicts(cues: list[Cue], limit: float) -> list[dict]:
    """Cues as ``[{"start", "end", "text"}, ...]`` with times rounded to 3 decimals (seconds)
    and clamped to ``limit`` (the duration as reported, itself rounded)."""
    rows = []
    for cue in cues:
        row = cue.as_dict(CUE_DECIMALS)
        row["end"] = min(row["end"], limit)
        row["start"] = min(row["start"], row["end"])
        rows.append(row)
    return rows


def generate_audio(
    text: str,
    voice_id: str,
    speed: float,
    output_path: str | Path,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Synthesize ``text`` into a WAV file at ``output_path`` (``synthesize``, then an atomic write).

    Args:
        text: narration text, any length (chunked to ≤ 250 tokens internally).
        voice_id: one of ``KokoroModelLoader.get_voices()`` (e.g. "jf_alpha").
        speed: speaking-rate multiplier, 0.5–2.0 (1.0 = model default).
        output_path: target .wav path; parent folders are created.
        on_progress: optional ``(chunks_done, chunks_total, chars_done, chars_total)``
            callback, called once with ``chunks_done == 0`` before synthesis and
            after each chunk (from the calling thread). Exceptions it raises are logged and ignored.

    Returns:
        ``{"success": bool, "audio_path": str | None, "duration": float | None, "error": str | None,
        "cues": [{"start": float, "end": float, "text": str}, ...]}``;
        on success the file is a 24 kHz mono PCM_16 WAV normalized to -18 LUFS,
        written atomically, ``duration`` is its length in seconds (2 decimals), and
        ``cues`` has one entry per sentence, in order, seconds within the file (3
        decimals, never past ``duration``, never overlapping). On failure ``cues`` is [].

    Never raises: invalid input, a missing model or a synthesis failure give
    ``success=False`` with a message in ``error`` and no file written.
    """
    try:
        error = validate_request(text, voice_id, speed)
        if error:
            return _result(False, error=error)
        if output_path is None or str(output_path) == "":
            return _result(False, error="No output path given.")
        synthesis = synthesize(text, voice_id, speed, on_progress)
        path = write_wav_atomic(output_path, synthesis.audio, synthesis.sample_rate)
        exact = synthesis.audio.size / synthesis.sample_rate
        duration = round(exact, 2)
        limit = min(duration, math.floor(exact * 10**CUE_DECIMALS) / 10**CUE_DECIMALS)
        return _result(True, audio_path=str(path), duration=duration, cues=cue_dicts(synthesis.cues, limit))
    except (ModelNotAvailableError, InvalidSynthesisRequest, SynthesisFailed) as exc:
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
