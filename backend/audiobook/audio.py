"""Reading segment audio onto the book's timeline, streaming it in blocks, and measuring levels.

Arrays are 1-D float32 mono in [-1, 1]; rates in Hz; levels in dB relative to full scale
(0 dBFS = a sample of ±1.0; an RMS of 0 dB = a full-scale square wave, as ACX's checks use).
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import soundfile as sf

from audiobook.types import AudiobookError, BookPlan
from core_engine.audio_utils import PEAK_CEILING_DBFS, TARGET_LUFS, get_audio_duration, normalize_loudness

#: Book loudness target, LUFS integrated (ITU-R BS.1770-4 via pyloudnorm): the engine's own
#: target (core_engine.audio_utils.TARGET_LUFS, -18 LUFS, the loud end of ACX's -23..-18 dB RMS
#: window and close to spoken-word norms of -16..-19 LUFS). Every segment is brought to it as it
#: is read (core_engine.audio_utils.normalize_loudness: one gain per segment, measured once per
#: export by :class:`SegmentReader`, sample peaks kept <= BOOK_PEAK_CEILING_DBFS). Engine WAVs are
#: already there (measured: -18.00 LUFS on each of 7 jf_alpha segments), so their gain is about
#: 0 dB; WAVs from elsewhere are made consistent.
#: Silence is gated out of BS.1770 integrated loudness, so pauses do not change the book's level.
BOOK_TARGET_LUFS = TARGET_LUFS
#: Sample-peak ceiling for the book formats, dBFS (the engine's: headroom for lossy encoding).
BOOK_PEAK_CEILING_DBFS = PEAK_CEILING_DBFS
#: A segment's WAV may differ from its stated duration by this much (seconds) and is then
#: padded with silence or trimmed to the planned length; more is an error (a stale duration).
#: The engine rounds durations to 10 ms, so its files differ by at most 5 ms.
DURATION_TOLERANCE_SECONDS = 0.05
#: Audio goes to the encoder in blocks of at most this many seconds (bounds memory and the
#: time between two should_cancel() checks).
BLOCK_SECONDS = 5.0
#: Window for the room-tone (silence) detector, seconds.
LEVEL_WINDOW_SECONDS = 0.02
#: A window whose RMS is at or below this is room tone, dB: ACX's noise-floor limit (-60 dB RMS).
ROOM_TONE_MAX_DB = -60.0

#: A timeline item: ("silence", n samples) or ("segment", segment index).
TimelineItem = tuple[str, int]


def db(value: float) -> float:
    """20·log10(value) in dB; -inf for 0."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def from_db(value_db: float) -> float:
    """Linear amplitude of ``value_db`` dB."""
    return 10.0 ** (value_db / 20.0)


def block_samples(sample_rate: int) -> int:
    """Samples per streamed block at ``sample_rate`` Hz (BLOCK_SECONDS)."""
    return max(1, int(BLOCK_SECONDS * sample_rate))


def _check_length(plan: BookPlan, index: int, actual_seconds: float) -> None:
    """Raise AudiobookError if segment ``index``'s file length differs from the plan by more than
    DURATION_TOLERANCE_SECONDS."""
    segment = plan.segments[index]
    planned = plan.segment_samples[index] / plan.sample_rate
    if abs(actual_seconds - planned) > DURATION_TOLERANCE_SECONDS:
        raise AudiobookError(
            f"Segment {segment.segment_id}: {segment.path} is {actual_seconds:.3f} s long but its duration says "
            f"{planned:.3f} s; re-read the file's duration before planning."
        )


def check_segment_files(plan: BookPlan, on_checked: Optional[Callable[[int], None]] = None) -> None:
    """Check every segment's WAV before any output is made: it exists, libsndfile reads its
    header (core_engine.audio_utils.get_audio_duration), and its length agrees with the planned
    duration (± DURATION_TOLERANCE_SECONDS).

    Args:
        plan: the book plan.
        on_checked: called with the number of segments checked so far, after each one.

    Raises:
        AudiobookError: naming the segment and the file, for a missing or unreadable file,
            an empty one, or one whose length differs from the plan.
    """
    for index, segment in enumerate(plan.segments):
        path = segment.path
        if path is None or not str(path):
            raise AudiobookError(f"Segment {segment.segment_id} has no audio file.")
        if not os.path.isfile(str(path)):
            raise AudiobookError(f"Segment {segment.segment_id}: audio file {path} does not exist.")
        try:
            actual = get_audio_duration(path)
        except (sf.LibsndfileError, RuntimeError, OSError, ZeroDivisionError) as exc:
            raise AudiobookError(f"Segment {segment.segment_id}: {path} is not a readable audio file ({exc}).") from None
        if actual <= 0:
            raise AudiobookError(f"Segment {segment.segment_id}: {path} holds no audio.")
        _check_length(plan, index, actual)
        if on_checked:
            on_checked(index + 1)


class SegmentReader:
    """Reads a plan's segments onto the book's timeline, each brought to BOOK_TARGET_LUFS.

    One reader serves one export. An export may read a segment more than once (ACX: once to
    measure its chapter, again for each limiter pass, and once to encode it); the segment's
    loudness is measured on the first read only and its gain kept for the later ones.
    """

    def __init__(self, plan: BookPlan):
        self.plan = plan
        self._gains: dict[int, float] = {}

    def read(self, index: int) -> np.ndarray:
        """Segment ``index``'s audio: mono, at ``plan.sample_rate``, exactly
        ``plan.segment_samples[index]`` samples (padded with silence or trimmed at the end),
        at BOOK_TARGET_LUFS (see there).

        Raises:
            AudiobookError: the file cannot be read or differs from the plan by more than
                DURATION_TOLERANCE_SECONDS.
        """
        plan = self.plan
        segment = plan.segments[index]
        try:
            data, rate = sf.read(str(segment.path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudiobookError(f"Segment {segment.segment_id}: cannot read {segment.path} ({exc}).") from None
        audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
        if rate != plan.sample_rate:
            from scipy.signal import resample_poly

            step = math.gcd(int(rate), plan.sample_rate)
            audio = resample_poly(audio, plan.sample_rate // step, int(rate) // step).astype(np.float32)
        _check_length(plan, index, audio.size / plan.sample_rate)
        wanted = plan.segment_samples[index]
        if audio.size > wanted:
            audio = audio[:wanted]
        elif audio.size < wanted:
            audio = np.concatenate([audio, np.zeros(wanted - audio.size, dtype=np.float32)])
        audio = np.nan_to_num(audio, copy=False)
        gain = self._gains.get(index)
        if gain is None:
            gain = self._gains[index] = self._loudness_gain(audio)
        return np.clip(audio * np.float32(gain), -1.0, 1.0)

    def _loudness_gain(self, audio: np.ndarray) -> float:
        """The gain core_engine.audio_utils.normalize_loudness gives ``audio``. It applies a single
        gain (its docstring), so the gain is read back at the largest sample; 1.0 for silence."""
        normalized = normalize_loudness(audio, self.plan.sample_rate, BOOK_TARGET_LUFS, BOOK_PEAK_CEILING_DBFS)
        loudest = int(np.argmax(np.abs(audio))) if audio.size else 0
        return float(normalized[loudest]) / float(audio[loudest]) if audio.size and audio[loudest] else 1.0


def book_timeline(plan: BookPlan) -> list[TimelineItem]:
    """The whole book as timeline items: lead-in, segments with their pauses, tail."""
    items: list[TimelineItem] = []
    for index, silence in enumerate(plan.silence_before_samples):
        if silence:
            items.append(("silence", silence))
        items.append(("segment", index))
    if plan.tail_samples:
        items.append(("silence", plan.tail_samples))
    return items


def chapter_timeline(plan: BookPlan, chapter: int, head_samples: int, tail_samples: int) -> list[TimelineItem]:
    """One chapter as a file of its own: ``head_samples`` of silence, the chapter's segments with
    the pauses between them (not the lead-in or chapter pause before its first segment), then
    ``tail_samples`` of silence."""
    first, stop = plan.chapter_segments[chapter]
    items: list[TimelineItem] = [("silence", head_samples)] if head_samples else []
    for index in range(first, stop):
        if index > first and plan.silence_before_samples[index]:
            items.append(("silence", plan.silence_before_samples[index]))
        items.append(("segment", index))
    if tail_samples:
        items.append(("silence", tail_samples))
    return items


def timeline_samples(plan: BookPlan, items: Sequence[TimelineItem]) -> int:
    """Length of a timeline in samples."""
    return sum(value if kind == "silence" else plan.segment_samples[value] for kind, value in items)


def render(
    reader: SegmentReader,
    items: Iterable[TimelineItem],
    gain: float = 1.0,
    before_block: Optional[Callable[[], None]] = None,
) -> Iterator[np.ndarray]:
    """Stream a timeline as float32 blocks of at most BLOCK_SECONDS, one segment in memory at a time.

    Args:
        reader: reads the plan's segments (one per export: see :class:`SegmentReader`).
        items: timeline items (see :func:`book_timeline`).
        gain: linear gain applied to the segments' audio (the result is not clipped, so a
            gain above 1 must be followed by a limiter or chosen to keep peaks under 1).
        before_block: called before each block is produced (the cancel check).

    Yields:
        1-D float32 arrays; their total length is the timeline's length in samples.
    """
    step = block_samples(reader.plan.sample_rate)
    zeros = np.zeros(step, dtype=np.float32)
    for kind, value in items:
        if kind == "silence":
            left = value
            while left > 0:
                if before_block:
                    before_block()
                size = min(step, left)
                yield zeros[:size]
                left -= size
            continue
        if before_block:
            before_block()
        audio = reader.read(value)
        if gain != 1.0:
            audio = audio * np.float32(gain)  # not clipped: a limiter may follow
        for start in range(0, audio.size, step):
            if start and before_block:
                before_block()
            yield audio[start:start + step]


class LevelMeter:
    """Streaming level measurement of one mono signal: RMS, sample peak and the room tone
    (silence) at its head and tail.

    Feed blocks with :meth:`add`. Room tone is measured in LEVEL_WINDOW_SECONDS windows: a
    window is sound when its RMS is above ``threshold_db`` (default ROOM_TONE_MAX_DB); the
    head is the time before the first sound window, the tail the time after the last one.
    Memory is constant (one partial window).
    """

    def __init__(self, sample_rate: int, threshold_db: float = ROOM_TONE_MAX_DB,
                 window_seconds: float = LEVEL_WINDOW_SECONDS):
        self.sample_rate = int(sample_rate)
        self.window = max(1, int(round(window_seconds * sample_rate)))
        self._threshold_sq = from_db(threshold_db) ** 2
        self.samples = 0
        self._sum_sq = 0.0
        self._peak = 0.0
        self._windows = 0
        self._first_sound: Optional[int] = None
        self._last_sound: Optional[int] = None
        self._partial = np.zeros(0, dtype=np.float64)

    def add(self, block: np.ndarray) -> None:
        """Add the next samples (any float array; flattened)."""
        data = np.asarray(block, dtype=np.float64).ravel()
        if not data.size:
            return
        self.samples += data.size
        self._sum_sq += float(np.dot(data, data))
        self._peak = max(self._peak, float(np.max(np.abs(data))))
        data = np.concatenate([self._partial, data]) if self._partial.size else data
        whole = data.size // self.window
        if whole:
            mean_sq = np.mean(data[: whole * self.window].reshape(whole, self.window) ** 2, axis=1)
            sound = np.flatnonzero(mean_sq > self._threshold_sq)
            if sound.size:
                if self._first_sound is None:
                    self._first_sound = self._windows + int(sound[0])
                self._last_sound = self._windows + int(sound[-1])
            self._windows += whole
        self._partial = data[whole * self.window:].copy()

    @property
    def duration(self) -> float:
        """Seconds measured so far."""
        return self.samples / self.sample_rate

    @property
    def sum_of_squares(self) -> float:
        """Σ x² over everything added (for an RMS over a longer span: sqrt(Σ x² / n))."""
        return self._sum_sq

    @property
    def rms_db(self) -> float:
        """RMS over everything added, dB (-inf for silence or nothing)."""
        return db(math.sqrt(self._sum_sq / self.samples)) if self.samples else -math.inf

    @property
    def peak_db(self) -> float:
        """Largest |sample|, dBFS (-inf for silence)."""
        return db(self._peak)

    @property
    def head_seconds(self) -> float:
        """Room tone before the first sound window, seconds (the whole duration if all is quiet)."""
        if self._first_sound is None:
            return self.duration
        return self._first_sound * self.window / self.sample_rate

    @property
    def tail_seconds(self) -> float:
        """Room tone after the last sound window, seconds (the whole duration if all is quiet)."""
        if self._last_sound is None:
            return self.duration
        return self.duration - (self._last_sound + 1) * self.window / self.sample_rate


class FilterChain:
    """FFmpeg audio filters in a row, through PyAV's filter graph, for mono float audio.

    Built by :func:`mastering_chain`. Feed blocks with :meth:`process` and call :meth:`flush`
    once at the end; both return lists of float32 arrays at ``output_rate`` Hz.
    """

    def __init__(self, input_rate: int, filters: Sequence[tuple[str, str]], output_rate: int):
        import av.filter

        self.input_rate = input_rate
        self.output_rate = output_rate
        self._graph = av.filter.Graph()
        previous = self._graph.add_abuffer(format="flt", sample_rate=input_rate, layout="mono",
                                            time_base=Fraction(1, input_rate))
        for name, arguments in filters:
            node = self._graph.add(name, arguments)
            previous.link_to(node)
            previous = node
        sink = self._graph.add("abuffersink")
        previous.link_to(sink)
        self._graph.configure()
        self._pts = 0

    def _drain(self) -> list[np.ndarray]:
        import av

        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return out
            out.append(frame.to_ndarray().reshape(-1).astype(np.float32, copy=False))

    def process(self, block: np.ndarray) -> list[np.ndarray]:
        """Push one block; return whatever filtered audio is ready."""
        import av

        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1),
                                           format="flt", layout="mono")
        frame.sample_rate = self.input_rate
        frame.time_base = Fraction(1, self.input_rate)
        frame.pts = self._pts
        self._pts += block.size
        self._graph.push(frame)
        return self._drain()

    def flush(self) -> list[np.ndarray]:
        """End of stream: return the rest of the audio."""
        self._graph.push(None)
        return self._drain()


#: Look-ahead limiter timing, ms: FFmpeg alimiter's defaults, which suit speech.
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0


def mastering_chain(input_rate: int, output_rate: int, limiter_ceiling_dbfs: Optional[float] = None) -> FilterChain:
    """Resample (FFmpeg ``aresample``, libswresample) to ``output_rate`` and then, when a ceiling is
    given, hold sample peaks at or below it with FFmpeg's look-ahead limiter (``alimiter``).

    The limiter runs after resampling so that resampling cannot push the peaks past it again
    (measured: limiting at 24 kHz and then resampling gave peaks 0.8 dB over the ceiling).
    ``latency=1`` compensates the look-ahead so the output lines up with the input and has the
    same length; ``level=0`` turns off alimiter's automatic make-up gain.
    """
    filters = [("aresample", str(output_rate))] if output_rate != input_rate else []
    if limiter_ceiling_dbfs is not None:
        limit = max(0.0625, min(1.0, from_db(limiter_ceiling_dbfs)))  # alimiter's allowed range
        filters.append(("alimiter", f"limit={limit:.6f}:attack={LIMITER_ATTACK_MS}:release={LIMITER_RELEASE_MS}"
                                    ":level=0:latency=1"))
    if not filters:
        filters.append(("anull", ""))
    return FilterChain(input_rate, filters, output_rate)


def counted(blocks: Iterable[np.ndarray], on_samples: Optional[Callable[[int], None]]) -> Iterator[np.ndarray]:
    """``blocks`` unchanged, calling ``on_samples(len(block))`` after each has been consumed."""
    for block in blocks:
        yield block
        if on_samples:
            on_samples(block.size)


def filtered(blocks: Iterable[np.ndarray], chain: FilterChain) -> Iterator[np.ndarray]:
    """``blocks`` through ``chain``."""
    for block in blocks:
        yield from chain.process(block)
    yield from chain.flush()

