"""Text → narration audio with sentence cues, with Kokoro-82M (through kokoro-onnx).

Pipeline, pure until the last step::

    text ──chunk_text──▶ [TextChunk] ──phonemize per sentence──▶ [phonemes] ──Kokoro──▶ [float32 @ 24 kHz + token timings]
         ──apply_fades + join_with_pauses──▶ audio ──normalize_loudness──▶ Synthesis(audio, 24000, cues)
         ──write_wav_atomic──▶ .wav  (generate_audio only)

``synthesize`` is the pure step (no database, no file written): text, voice, speed →
``Synthesis``. Phonemization (espeak-ng, serialized under kokoro-onnx's lock) is
done for the whole text while planning, before the first chunk synthesizes; with
several ONNX Runtime sessions (``KokoroModelLoader.get_sessions``) consecutive
chunks then synthesize side by side, one per session, and are joined in order
(see ``KokoroEngine.synthesize`` for the figures). ``generate_audio`` is the entry point used by the API's task manager:
it calls ``synthesize``, writes the WAV atomically, never raises for bad input or a
missing model, and reports progress per chunk.
"""
from __future__ import annotations

import logging
import math
import queue
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from django.conf import settings

from core_engine.atomic_files import storage_error_message
from core_engine.audio_utils import (
    TARGET_LUFS,
    apply_fades,
    join_with_pauses,
    normalize_loudness,
    part_offsets,
    write_wav_atomic,
)
from core_engine.lexicon import EMPTY_LEXICON, Lexicon, Piece, SpokenForm
from core_engine.model_loader import KokoroModelLoader, ModelNotAvailableError
from core_engine.sentence_cues import Cue, SentenceSpan, estimated_spans, merge_spans, timed_spans
from core_engine.text_chunking import (
    DEFAULT_TARGET_TOKENS,
    SentencePiece,
    TextChunk,
    chunk_text,
    has_speakable_content,
    split_paragraphs,
    split_sentences,
)
from core_engine.text_chunking import normalize_text as normalize_typography
from core_engine.text_normalization import normalize_text
from core_engine.voices import InvalidVoice, VoiceBlend, blend_style, language_for_voice, parse_voice

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

#: Version of the synthesis pipeline (chunking, phonemization, joining, loudness). Part of
#: every segment's audio identity: bump it when a change makes the same text sound different,
#: so that existing audio shows as out of date. 2: text normalization, lexicon, voice blends.
#: 3: chunks of 175 tokens, not 250 (``text_chunking.DEFAULT_TARGET_TOKENS``).
ENGINE_VERSION = 3


@lru_cache(maxsize=16384)
def _spoken_sentence(sentence: str, lexicon: Lexicon) -> SpokenForm:
    return lexicon.apply(normalize_text(sentence))


@lru_cache(maxsize=8192)
def spoken_form_of(text: str, lexicon: Lexicon = EMPTY_LEXICON) -> SpokenForm:
    """How ``text`` will be read: typography normalized, split into sentences as the chunker
    splits them, each sentence normalized (``text_normalization``) and the ``lexicon`` applied.

    Sentences are joined by one space and paragraphs by a blank line. Pure, cached per
    text and per sentence (``lexicon`` objects compare by identity: ``compile_lexicon``
    reuses them).

    Returns:
        A ``SpokenForm``: ``.text`` is the spoken text with phoneme rules written ``/…/``,
        ``.rule_keys`` the keys of the rules that matched, in order of first match.
    """
    pieces: list[Piece] = []
    keys: list[str] = []
    for p_index, paragraph in enumerate(split_paragraphs(normalize_typography(text or ""))):
        for s_index, sentence in enumerate(split_sentences(paragraph)):
            if pieces:
                pieces.append(Piece("\n\n" if s_index == 0 and p_index else " "))
            spoken = _spoken_sentence(sentence, lexicon)
            pieces.extend(spoken.pieces)
            keys.extend(key for key in spoken.rule_keys if key not in keys)
    merged: list[Piece] = []
    for piece in pieces:
        if merged and not piece.is_phonemes and not merged[-1].is_phonemes:
            merged[-1] = Piece(merged[-1].text + piece.text)
        else:
            merged.append(piece)
    return SpokenForm(tuple(merged), tuple(keys))


class InvalidSynthesisRequest(ValueError):
    """A synthesis request the engine cannot speak: empty text or nothing speakable, speed
    outside [0.5, 2.0], or an unknown voice. The message says which, for the user."""


class SynthesisFailed(RuntimeError):
    """The model produced no audio for a request that passed validation."""


class SynthesisCancelled(Exception):
    """Raised by an ``on_progress`` callback to stop ``synthesize`` between chunks.

    Unlike any other exception from the callback (logged and ignored), it propagates:
    the chunks not started yet are cancelled and ``synthesize`` raises it. The
    scale-out worker uses it when its Celery task is aborted (``workers.synthesis``).
    """


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
        kokoro: a loaded ``kokoro_onnx.Kokoro`` (``KokoroModelLoader.get_session()``), or
            anything with a ``tokenizer`` (``phonemize(text, lang)``) for the text steps only.
        target_tokens: chunk size in tokens (default 175; see text_chunking).
        lexicon: the project's pronunciation rules, applied after text normalization.
        lang: espeak-ng language ("en-us", or "en-gb" for British voices; ``language_for_voice``).
        sessions: ``kokoro_onnx.Kokoro`` over the same model files, ``kokoro`` first
            (``KokoroModelLoader.get_sessions()``; default ``[kokoro]``): with more than
            one, ``synthesize`` runs consecutive chunks on them side by side.
    """

    def __init__(
        self,
        kokoro,
        target_tokens: int = DEFAULT_TARGET_TOKENS,
        lexicon: Lexicon = EMPTY_LEXICON,
        lang: str = LANG,
        sessions: Sequence | None = None,
    ):
        self.kokoro = kokoro
        self.target_tokens = target_tokens
        self.lexicon = lexicon
        self.lang = lang
        self.sessions = list(sessions) if sessions else [kokoro]
        self._phoneme_cache: dict[str, str] = {}

    @property
    def has_timings(self) -> bool:
        """True if the model reports per-token durations (exact cues)."""
        return bool(getattr(self.kokoro, "has_timings", False))

    def spoken(self, text: str) -> SpokenForm:
        """``text`` (a sentence or part of one) normalized and with the lexicon applied."""
        return _spoken_sentence(text, self.lexicon)

    def phonemize(self, text: str) -> str:
        """Phoneme string for ``text``: its spoken form (``spoken``) phonemized by espeak-ng
        (through kokoro-onnx, whose own lock serializes espeak), with the lexicon's phoneme
        rules inserted as written. Memoized per engine.

        Only symbols of the model vocabulary are kept (kokoro-onnx drops the rest), so
        one symbol is one model token. A piece of punctuation between two phoneme rules
        keeps its marks (espeak-ng alone would drop a lone "."), so pauses survive.
        """
        cached = self._phoneme_cache.get(text)
        if cached is None:
            cached = self.phonemize_spoken(self.spoken(text))
            self._phoneme_cache[text] = cached
        return cached

    def phonemize_spoken(self, spoken: SpokenForm) -> str:
        """Phonemes of a ``SpokenForm``: text pieces through espeak-ng, phoneme pieces as they are."""
        tokenizer = self.kokoro.tokenizer
        if len(spoken.pieces) == 1 and not spoken.pieces[0].is_phonemes:
            return tokenizer.phonemize(spoken.pieces[0].text, self.lang)
        vocabulary = tokenizer.vocab
        parts: list[str] = []
        for piece in spoken.pieces:
            if piece.is_phonemes:
                parts.append("".join(ch for ch in piece.text if ch in vocabulary))
            elif has_speakable_content(piece.text):
                parts.append(tokenizer.phonemize(piece.text, self.lang))
            else:  # punctuation only: espeak-ng would drop it
                marks = "".join(ch for ch in piece.text if ch in vocabulary and not ch.isspace())
                if marks and parts:
                    parts[-1] += marks
                elif marks:
                    parts.append(marks)
        return " ".join(" ".join(parts).split())

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

    def synthesize_chunk(
        self, phonemes: str, voice: "str | np.ndarray", speed: float, kokoro=None
    ) -> tuple[np.ndarray, list | None]:
        """Audio and token timings for one chunk's phonemes, on ``kokoro`` (default ``self.kokoro``).

        Args:
            phonemes: ≤ 510 symbols of the model vocabulary, single spaces (``chunk_phonemes``).
            voice: a voice id of the loaded voices file, or a style matrix of shape
                (510, 1, 256) float32 (a blend, ``voice_style``).
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
        audio, sample_rate, timings = (kokoro or self.kokoro).create_timed(
            phonemes,
            voice=voice,
            speed=speed,
            lang=self.lang,
            is_phonemes=True,
            trim=True,
            sentence_pause=0.0,
            clause_pause=0.0,
        )
        if sample_rate != SAMPLE_RATE:  # pragma: no cover - Kokoro is always 24 kHz
            raise RuntimeError(f"model produced {sample_rate} Hz audio, expected {SAMPLE_RATE}")
        return np.asarray(audio, dtype=np.float32).ravel(), (list(timings) if self.has_timings else None)

    def voice_style(self, blend: VoiceBlend) -> "str | np.ndarray":
        """What ``synthesize_chunk`` is given for ``blend``: the voice id of a single voice,
        the mixed style matrix (``blend_style``) of a blend."""
        if not blend.is_blend:
            return blend.components[0][0]
        return blend_style(blend, {voice: self.kokoro.get_voice_style(voice) for voice, _ in blend.components})

    def synthesize(
        self,
        chunks: list[TextChunk],
        voice: "str | np.ndarray",
        speed: float,
        on_progress: ProgressCallback | None = None,
    ) -> Synthesis:
        """Synthesize ``chunks`` (from ``plan``) with ``voice`` (an id or a style matrix, see
        ``voice_style``), join them with their pauses, and place each sentence.

        Chunks with nothing speakable (only punctuation) contribute only their pause.
        ``on_progress(chunks_done, chunks_total, chars_done, chars_total)`` is called
        with 0 done first, then after every chunk, in order: with several sessions a
        chunk counts as done once it and every chunk before it are.

        Parallel inference: with ``len(self.sessions) > 1`` the speakable chunks are
        queued at once on a pool of that many threads, each running a chunk on
        whichever session is free, and read back in order; the audio is the same,
        sample for sample, as running them one after another on those sessions
        (``test_parallel_sessions``). Measured with ``bench/engine_ratio.py
        --sessions`` on a 2-core Intel Xeon with avx512_vnni, int8 model, one run,
        8 alternating rounds: one session × 2 threads 83.5 s (RTF 0.868, peak RSS
        438 MB) against 2 sessions × 1 thread 71.1 s (RTF 0.740, 786 MB): 1.17×
        faster. Which layout is used on a machine is measured there at first use
        (``engine_calibration``), since it depends on the CPU.

        Returns:
            ``Synthesis`` with loudness-normalized audio and one cue per spoken sentence
            (see ``sentence_cues`` for how the boundaries are found).
        """
        total_chunks = len(chunks)
        total_chars = sum(len(c.text) for c in chunks)
        done_chars = 0
        _notify(on_progress, 0, total_chunks, 0, total_chars)
        plans = [self.chunk_phonemes(chunk.pieces) for chunk in chunks]  # espeak, on this thread
        speakable = [
            has_speakable_content(chunk.text) and any(ch.isalpha() for ch in plan.phonemes)
            for chunk, plan in zip(chunks, plans)
        ]
        results = self._chunk_results([plan.phonemes for plan, ok in zip(plans, speakable) if ok], voice, float(speed))
        parts: list[np.ndarray] = []
        pauses: list[float] = []
        chunk_spans: list[list[tuple[int, int, int]]] = []  # per part: (sentence_index, start, end) in the part
        texts: dict[int, str] = {}
        exact = True
        try:
            for index, (chunk, plan, ok) in enumerate(zip(chunks, plans, speakable), start=1):
                if ok:
                    audio, timings = next(results)
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
        finally:
            results.close()
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

    def _chunk_results(self, phonemes: list[str], voice, speed: float):
        """``synthesize_chunk``'s results for ``phonemes``, in order: one after another with one
        session, else all queued at once on the sessions' pool (taking the results of chunks a
        ``prefetch`` queued already). Right after queueing, the thread's ``after_chunks_submitted``
        callback runs once. Closing the generator early (an error) cancels the chunks not started yet."""
        if len(self.sessions) == 1:
            for item in phonemes:
                yield self.synthesize_chunk(item, voice, speed)
            return
        futures = [
            _take_prefetched(self._prefetch_key(item, voice, speed)) or self.submit_chunk(item, voice, speed)
            for item in phonemes
        ]
        discard_prefetched()  # what is left was queued for a text that is not coming
        _run_after_submit()
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def submit_chunk(self, phonemes: str, voice, speed: float) -> Future:
        """Queue one chunk on the sessions' pool; the job runs on whichever session is free."""
        free = _free_sessions(self.sessions)

        def job():
            kokoro = free.get()
            try:
                return self.synthesize_chunk(phonemes, voice, speed, kokoro=kokoro)
            finally:
                free.put(kokoro)

        return _inference_pool(len(self.sessions)).submit(job)

    def _prefetch_key(self, phonemes: str, voice, speed: float) -> tuple | None:
        """What a prefetched chunk is found by: its phonemes, voice id, speed and sessions (None for a
        blend's style matrix, which is not prefetched)."""
        if not isinstance(voice, str):
            return None
        return (phonemes, voice, float(speed), id(self.sessions[0]), len(self.sessions))


_prefetch_lock = threading.Lock()
_prefetched: dict[tuple, Future] = {}
_after_submit = threading.local()
_free_lock = threading.Lock()
_free: tuple[tuple[int, ...], queue.Queue] | None = None


def _free_sessions(sessions: Sequence) -> queue.Queue:
    """The queue of idle sessions shared by every job on ``sessions`` (one chunk per session at a time)."""
    global _free
    key = tuple(id(session) for session in sessions)
    with _free_lock:
        if _free is None or _free[0] != key:
            free: queue.Queue = queue.Queue()
            for session in sessions:
                free.put(session)
            _free = (key, free)
        return _free[1]


def _take_prefetched(key: tuple | None) -> Future | None:
    if key is None:
        return None
    with _prefetch_lock:
        return _prefetched.pop(key, None)


def discard_prefetched() -> int:
    """Cancel the prefetched chunks nobody took (those already running finish, unused); return how many."""
    with _prefetch_lock:
        futures = list(_prefetched.values())
        _prefetched.clear()
    for future in futures:
        future.cancel()
    return len(futures)


@contextmanager
def after_chunks_submitted(callback: Callable[[], None]):
    """While active on this thread, ``callback()`` runs once, right after the next multi-session
    synthesis has queued its chunks: the moment to ``prefetch`` the text that comes after it, whose
    chunks then fill the sessions that the current text's last chunks leave idle. Exceptions in
    ``callback`` are logged and ignored."""
    previous = getattr(_after_submit, "callback", None)
    _after_submit.callback = callback
    try:
        yield
    finally:
        _after_submit.callback = previous


def _run_after_submit() -> None:
    callback = getattr(_after_submit, "callback", None)
    if callback is None:
        return
    _after_submit.callback = None
    try:
        callback()
    except Exception:
        logger.exception("after_chunks_submitted callback failed")


def prefetch(text: str, voice_id: str, speed: float, *, lexicon: Lexicon = EMPTY_LEXICON) -> int:
    """Queue ``text``'s chunks on the inference sessions now, behind those already queued.

    A later ``synthesize`` of the same text (same chunks, voice, speed and sessions) takes
    their results instead of queueing them again; a synthesis of anything else discards them.
    Used between the segments of a batch (``api.services.audio_generation``): with N sessions,
    a paragraph of one or two chunks would leave sessions idle at its end.

    Returns:
        Chunks queued: 0 with one session, for a blend, for a request ``synthesize`` would
        refuse, or when the model is not loaded yet (prefetch never loads it).
    """
    sessions = KokoroModelLoader.loaded_sessions()
    if len(sessions) < 2 or validate_request(text, voice_id, speed) is not None:
        return 0
    blend = parse_voice(voice_id, KokoroModelLoader.get_voices())
    if blend.is_blend:
        return 0
    engine = KokoroEngine(sessions[0], lexicon=lexicon, lang=language_for_voice(blend), sessions=sessions)
    voice = engine.voice_style(blend)
    queued = 0
    for chunk in engine.plan(text):
        plan = engine.chunk_phonemes(chunk.pieces)
        if not (has_speakable_content(chunk.text) and any(ch.isalpha() for ch in plan.phonemes)):
            continue
        key = engine._prefetch_key(plan.phonemes, voice, float(speed))
        with _prefetch_lock:
            if key in _prefetched:
                continue
        future = engine.submit_chunk(plan.phonemes, voice, float(speed))
        with _prefetch_lock:
            _prefetched[key] = future
        queued += 1
    return queued


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _inference_pool(size: int) -> ThreadPoolExecutor:
    """The process's inference threads (``size`` of them, one per session), made on first use.

    Only the task worker synthesizes (one task at a time), so one pool serves every
    request; a different size (a new calibration) replaces it.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != size:
            if _pool is not None:
                _pool[1].shutdown(wait=False)
            _pool = (size, ThreadPoolExecutor(max_workers=size, thread_name_prefix="storyflow-inference"))
        return _pool[1]


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
    except SynthesisCancelled:
        raise
    except Exception:  # a broken progress reporter must not kill synthesis
        logger.exception("on_progress callback failed")


def _result(success: bool, audio_path=None, duration=None, error=None, cues=None) -> dict:
    return {"success": success, "audio_path": audio_path, "duration": duration, "error": error, "cues": cues or []}


def _check_request(text, voice_id, speed) -> VoiceBlend:
    """Raise ``InvalidSynthesisRequest`` / ``ModelNotAvailableError`` for a request the engine
    cannot speak; return the parsed voice otherwise."""
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
    try:
        return parse_voice(voice_id, KokoroModelLoader.get_voices())
    except InvalidVoice as exc:
        raise InvalidSynthesisRequest(str(exc)) from None


def validate_request(text, voice_id, speed) -> str | None:
    """Check a synthesis request without loading the model. Returns an error message or None.

    Rules: text must be a non-blank string with at least one letter or digit;
    speed a finite number in [0.5, 2.0] (kokoro-onnx's accepted range); a model
    must be installed; voice_id a voice of ``KokoroModelLoader.get_voices()`` or a
    blend of them (``voices.parse_voice``).
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
    lexicon: Lexicon = EMPTY_LEXICON,
) -> Synthesis:
    """Synthesize ``text``: audio samples, sample rate and sentence cues. No database, no file written.

    Args:
        text: narration text, any length (chunked to ≤ ``target_tokens`` tokens internally).
        voice_id: a voice of ``KokoroModelLoader.get_voices()`` (e.g. "jf_alpha") or a blend
            ("jf_alpha:0.6+jm_kumo:0.4", see ``voices``).
        speed: speaking-rate multiplier, 0.5–2.0 (1.0 = model default).
        on_progress: optional ``(chunks_done, chunks_total, chars_done, chars_total)``
            callback, called once with ``chunks_done == 0`` before synthesis and after
            each chunk (from the calling thread). Exceptions it raises are logged and ignored.
        target_tokens: chunk size in model tokens, 1–510 (default 175; ``chunk_text`` clamps it).
        lexicon: pronunciation rules applied after text normalization (``compile_lexicon``).

    Returns:
        ``Synthesis(audio, sample_rate=24000, cues, exact_cues)``: float32 mono audio
        normalized to -18 LUFS, and one ``Cue(start, end, text)`` per sentence (seconds
        within the audio; the cue text is the written sentence, not its spoken form).

    Raises:
        InvalidSynthesisRequest: empty or unspeakable text, speed outside [0.5, 2.0], unknown
            voice or a bad blend.
        ModelNotAvailableError: no model installed.
        SynthesisFailed: the model produced no audio.
        Exception: whatever onnxruntime / kokoro-onnx raise during synthesis.
    """
    blend = _check_request(text, voice_id, speed)
    KokoroModelLoader.ensure_calibrated()
    sessions = KokoroModelLoader.get_sessions()
    engine = KokoroEngine(
        sessions[0], target_tokens=target_tokens, lexicon=lexicon, lang=language_for_voice(blend), sessions=sessions
    )
    chunks = engine.plan(text)
    if not any(has_speakable_content(c.text) for c in chunks):
        raise InvalidSynthesisRequest("Text has nothing to speak (no letters or digits).")
    synthesis = engine.synthesize(chunks, engine.voice_style(blend), float(speed), on_progress)
    if synthesis.audio.size == 0:
        raise SynthesisFailed("The model produced no audio for this text.")
    return synthesis


@dataclass(frozen=True)
class SpeechPreview:
    """How a text will be read (``preview_speech``).

    Attributes:
        spoken_text: the spoken form, phoneme rules as ``/…/`` (``SpokenForm.text``).
        phonemes: what the model is given, chunk after chunk joined by a space.
        token_count: model tokens in all chunks (one per phoneme symbol).
        rule_keys: the lexicon rules that matched, in order of first match.
    """

    spoken_text: str
    phonemes: str
    token_count: int
    rule_keys: tuple[str, ...]


def preview_speech(text: str, lexicon: Lexicon = EMPTY_LEXICON, lang: str = LANG) -> SpeechPreview:
    """The spoken text, phonemes and token count of ``text``, without loading the model.

    Phonemizes with espeak-ng (``KokoroModelLoader.get_tokenizer``) chunk by chunk as
    ``synthesize`` would. ``lang`` is ``language_for_voice`` of the voice that will read it.
    """
    engine = KokoroEngine(_TextOnlyModel(KokoroModelLoader.get_tokenizer()), lexicon=lexicon, lang=lang)
    chunks = engine.plan(text)
    phonemes = [engine.chunk_phonemes(chunk.pieces).phonemes for chunk in chunks]
    spoken = spoken_form_of(text, lexicon)
    return SpeechPreview(
        spoken_text=spoken.text,
        phonemes=" ".join(p for p in phonemes if p),
        token_count=sum(len(p) for p in phonemes),
        rule_keys=spoken.rule_keys,
    )


@dataclass(frozen=True)
class _TextOnlyModel:
    """Stands in for ``kokoro_onnx.Kokoro`` in the text-only steps (no ONNX session)."""

    tokenizer: object


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
    *,
    lexicon: Lexicon = EMPTY_LEXICON,
) -> dict:
    """Synthesize ``text`` into a WAV file at ``output_path`` (``synthesize``, then an atomic write).

    Args:
        text: narration text, any length (chunked to ≤ 175 tokens internally, longer only for a
            clause that cannot be split).
        voice_id: one of ``KokoroModelLoader.get_voices()`` (e.g. "jf_alpha") or a blend of them.
        speed: speaking-rate multiplier, 0.5–2.0 (1.0 = model default).
        output_path: target .wav path; parent folders are created.
        on_progress: optional ``(chunks_done, chunks_total, chars_done, chars_total)``
            callback, called once with ``chunks_done == 0`` before synthesis and
            after each chunk (from the calling thread). Exceptions it raises are logged and ignored.
        lexicon: pronunciation rules applied after text normalization.

    Returns:
        ``{"success": bool, "audio_path": str | None, "duration": float | None, "error": str | None,
        "cues": [{"start": float, "end": float, "text": str}, ...]}``;
        on success the file is a 24 kHz mono PCM_16 WAV normalized to -18 LUFS,
        written atomically, ``duration`` is its length in seconds (2 decimals), and
        ``cues`` has one entry per sentence, in order, seconds within the file (3
        decimals, never past ``duration``, never overlapping). On failure ``cues`` is [].

    Never raises: invalid input, a missing model or a synthesis failure give
    ``success=False`` with a message in ``error`` and no file written. The message of
    a model file that cannot be loaded says to reinstall it (``ModelLoadError``). A
    write the storage refuses (disk full, permission denied, read-only:
    ``atomic_files.storage_error_message``) says what to fix ("The disk is full: free
    space on <folder> and generate again.") and also has ``"fatal": True``: every next
    write would fail alike.
    """
    try:
        error = validate_request(text, voice_id, speed)
        if error:
            return _result(False, error=error)
        if output_path is None or str(output_path) == "":
            return _result(False, error="No output path given.")
        synthesis = synthesize(text, voice_id, speed, on_progress, lexicon=lexicon)
        return write_synthesis(synthesis, output_path)
    except (ModelNotAvailableError, InvalidSynthesisRequest, SynthesisFailed) as exc:  # ModelLoadError too
        return _result(False, error=str(exc))
    except Exception as exc:  # never raise to the task manager
        message = storage_error_message(exc, output_path, retry="generate again")  # None unless a storage OSError
        if message is not None:
            logger.error("Cannot write %s: %s", output_path, exc)
            return {**_result(False, error=message), "fatal": True}
        logger.exception("Audio generation failed")
        return _result(False, error=f"Audio generation failed: {type(exc).__name__}: {exc}")


def write_synthesis(synthesis: Synthesis, output_path: str | Path) -> dict:
    """Write ``synthesis`` as a WAV at ``output_path`` atomically; ``generate_audio``'s success result.

    ``synthesis.audio`` is float32 (``synthesize``) or int16 PCM (a scale-out worker's
    FLAC, ``audio_utils.decode_flac``); both give the same file for the same audio
    (``audio_utils.pcm16``). Returns ``{"success": True, "audio_path", "duration"
    (seconds, 2 decimals), "error": None, "cues": [...]}`` (cues as ``cue_dicts``,
    never past ``duration``). Raises OSError if the file cannot be written (nothing
    is left behind).
    """
    path = write_wav_atomic(output_path, synthesis.audio, synthesis.sample_rate)
    exact = synthesis.audio.size / synthesis.sample_rate
    duration = round(exact, 2)
    limit = min(duration, math.floor(exact * 10**CUE_DECIMALS) / 10**CUE_DECIMALS)
    return _result(True, audio_path=str(path), duration=duration, cues=cue_dicts(synthesis.cues, limit))


def construct_audio_path(project_id, segment_id) -> str:
    """Absolute path of a segment's audio: ``<MEDIA_ROOT>/projects/{project_id}/audio/{segment_id}.wav``.

    Reads ``settings.MEDIA_ROOT`` at call time.
    """
    return str(Path(settings.MEDIA_ROOT) / "projects" / str(project_id) / "audio" / f"{segment_id}.wav")


def construct_audio_url(project_id, segment_id) -> str:
    """URL path of a segment's audio: ``/media/projects/{project_id}/audio/{segment_id}.wav``."""
    return f"/media/projects/{project_id}/audio/{segment_id}.wav"
