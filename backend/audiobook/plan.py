"""plan_book: segment offsets, pauses, chapters and book-time caption cues. Pure arithmetic, no I/O."""
from __future__ import annotations

import math
import re
from typing import Sequence

from audiobook.types import AudiobookError, BookPlan, ChapterMark, Cue, Pacing, SegmentAudio

#: The book's timeline rate, Hz: Kokoro-82M's output rate (core_engine.tts_wrapper.SAMPLE_RATE),
#: so StoryFlow's segment WAVs are placed without resampling.
BOOK_SAMPLE_RATE = 24_000
#: Pacing values are limited to 0–10 s (the Project model's validators).
MAX_PAUSE_SECONDS = 10.0
#: Title of the chapter formed by segments before the first ``chapter_title`` when none is given.
DEFAULT_CHAPTER_TITLE = "Opening"

_WHITESPACE = re.compile(r"\s+")


def _seconds(value: object, what: str, low: float = 0.0, high: float = math.inf) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AudiobookError(f"{what} must be a number of seconds, got {value!r}.") from None
    if not math.isfinite(number):
        raise AudiobookError(f"{what} must be a finite number of seconds, got {value!r}.")
    if number < low or number > high:
        bound = f"between {low:g} and {high:g}" if math.isfinite(high) else f"at least {low:g}"
        raise AudiobookError(f"{what} must be {bound} seconds, got {value!r}.")
    return number


def clean_caption_text(text: str) -> str:
    """One line of caption text: whitespace (newlines included) collapsed to single spaces, and
    ``-->`` (the cue-timing arrow, which SRT/WebVTT parsers would misread) written as ``->``."""
    return _WHITESPACE.sub(" ", str(text or "")).replace("-->", "->").strip()


def plan_book(
    segments: Sequence[SegmentAudio],
    pacing: Pacing = Pacing(),
    default_chapter_title: str | None = None,
    sample_rate: int = BOOK_SAMPLE_RATE,
) -> BookPlan:
    """Lay out the book: where each segment, pause, chapter and caption cue falls.

    Rules (the shared contract): segment 1 is preceded by ``pacing.lead_in``; between two
    segments comes ``chapter_pause`` if the second has a chapter title, else ``paragraph_pause``;
    ``tail`` follows the last. Chapter 1 starts at 0.0 (it includes the lead-in); a later
    chapter starts where its first segment's audio starts and each chapter ends where the
    next starts (the last at the book's end). Segments before the first chapter title form a
    chapter titled ``default_chapter_title`` (``DEFAULT_CHAPTER_TITLE`` when None or blank).

    Every length is rounded once to whole samples at ``sample_rate`` (Hz) and positions are
    sums of those counts, so the seconds in the plan are exact sample positions; the book's
    duration is lead_in + Σ durations + pauses + tail to within half a sample per item.

    Cues: each segment cue is clamped to its segment's audio and shifted by the segment's
    offset; times are rounded to the millisecond (SRT/WebVTT resolution) and a cue that would
    start before the previous one ends starts at that end instead. Cues with blank text or no
    length left are dropped. A segment with no cues but with ``text`` gets one cue spanning
    its audio. The cue text is made one line (see :func:`clean_caption_text`).

    Args:
        segments: the book's segments, in order (each ``duration`` > 0 seconds).
        pacing: pauses in seconds, each 0–``MAX_PAUSE_SECONDS``.
        default_chapter_title: see above.
        sample_rate: Hz of the timeline (default 24 000).

    Returns:
        A :class:`BookPlan`.

    Raises:
        AudiobookError: no segments, a duration that is not a positive number, a pause out of
            range, or a cue time that is not a number.
    """
    segments = list(segments)
    if not segments:
        raise AudiobookError("The book has no segments: nothing to export.")
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise AudiobookError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}.")
    paragraph = _seconds(pacing.paragraph_pause, "paragraph_pause", 0.0, MAX_PAUSE_SECONDS)
    chapter = _seconds(pacing.chapter_pause, "chapter_pause", 0.0, MAX_PAUSE_SECONDS)
    lead_in = _seconds(pacing.lead_in, "lead_in", 0.0, MAX_PAUSE_SECONDS)
    tail = _seconds(pacing.tail, "tail", 0.0, MAX_PAUSE_SECONDS)
    fallback_title = (default_chapter_title or "").strip() or DEFAULT_CHAPTER_TITLE

    def samples(seconds: float) -> int:
        return int(round(seconds * sample_rate))

    offsets: list[int] = []
    lengths: list[int] = []
    silences: list[int] = []
    chapter_starts: list[tuple[int, str]] = []  # (segment index, title)
    position = 0
    for index, segment in enumerate(segments):
        if not isinstance(segment, SegmentAudio):
            raise AudiobookError(f"Segment #{index + 1} is a {type(segment).__name__}, not a SegmentAudio.")
        duration = _seconds(segment.duration, f"Segment {segment.segment_id}: duration")
        length = samples(duration)
        if length <= 0:
            raise AudiobookError(f"Segment {segment.segment_id}: duration must be more than 0 seconds, got {duration!r}.")
        title = (segment.chapter_title or "").strip()
        if index == 0:
            silence = samples(lead_in)
            chapter_starts.append((0, title or fallback_title))
        elif title:
            silence = samples(chapter)
            chapter_starts.append((index, title))
        else:
            silence = samples(paragraph)
        position += silence
        silences.append(silence)
        offsets.append(position)
        lengths.append(length)
        position += length
    tail_samples = samples(tail)
    total = position + tail_samples

    chapters: list[ChapterMark] = []
    chapter_segments: list[tuple[int, int]] = []
    for number, (first, title) in enumerate(chapter_starts):
        stop = chapter_starts[number + 1][0] if number + 1 < len(chapter_starts) else len(segments)
        start_samples = 0 if number == 0 else offsets[first]
        end_samples = offsets[stop] if stop < len(segments) else total
        chapters.append(ChapterMark(title=title, start=start_samples / sample_rate, end=end_samples / sample_rate))
        chapter_segments.append((first, stop))

    cues = _book_cues(segments, offsets, lengths, sample_rate)
    return BookPlan(
        segments=segments,
        pacing=Pacing(paragraph_pause=paragraph, chapter_pause=chapter, lead_in=lead_in, tail=tail),
        sample_rate=sample_rate,
        segment_offsets=[offset / sample_rate for offset in offsets],
        segment_sample_offsets=offsets,
        segment_samples=lengths,
        silence_before_samples=silences,
        tail_samples=tail_samples,
        chapters=chapters,
        chapter_segments=chapter_segments,
        cues=cues,
        total_samples=total,
        duration=total / sample_rate,
    )


def _book_cues(segments: list[SegmentAudio], offsets: list[int], lengths: list[int], rate: int) -> list[Cue]:
    """Segment cues → book-time cues in whole milliseconds, ordered and non-overlapping."""
    out: list[Cue] = []
    previous_end_ms = 0
    for segment, offset, length in zip(segments, offsets, lengths):
        # The segment's audio spans [first_ms, last_ms] (rounded inwards to whole ms).
        first_ms = math.ceil(offset * 1000 / rate)
        last_ms = math.floor((offset + length) * 1000 / rate)
        cues = list(segment.cues or ())
        if not cues and clean_caption_text(segment.text):
            cues = [Cue(start=0.0, end=length / rate, text=segment.text)]
        for cue in cues:
            text = clean_caption_text(cue.text)
            if not text:
                continue
            start = _seconds(cue.start, f"Segment {segment.segment_id}: cue start", -math.inf)
            end = _seconds(cue.end, f"Segment {segment.segment_id}: cue end", -math.inf)
            start_ms = max(round((offset / rate + start) * 1000), first_ms, previous_end_ms)
            end_ms = min(round((offset / rate + end) * 1000), last_ms)
            if end_ms <= start_ms:
                continue
            out.append(Cue(start=start_ms / 1000, end=end_ms / 1000, text=text))
            previous_end_ms = end_ms
    return out
