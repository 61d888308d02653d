"""Value types of the audiobook builder: inputs (segments, cues, pacing, metadata) and outputs (plan, result).

:class:`Cue` is the engine's (``core_engine.sentence_cues.Cue``: ``start``, ``end`` seconds, ``text``),
the shape ``generate_audio`` returns and segments store: in :class:`SegmentAudio` its times are
within that segment's WAV, in :attr:`BookPlan.cues` they are book time (from the start of the book).

All times are in seconds (float) unless a name says ``samples``; sample rates are in Hz.
Nothing here does I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from core_engine.sentence_cues import Cue

#: The export formats :func:`audiobook.export_book` writes.
EXPORT_FORMATS = ("m4b", "mp3", "wav", "acx")


class AudiobookError(ValueError):
    """Bad input to the builder (empty book, missing or unreadable WAV, bad pacing, unknown format...).

    The message says what is wrong and, where it applies, which segment (by ``segment_id``).
    A ``ValueError`` so callers can map it to a 400-style answer.
    """


class ExportCancelled(Exception):
    """Raised by :func:`audiobook.export_book` when ``should_cancel()`` returned True.

    By then every temp file has been removed and no output file was created.
    """


@dataclass(frozen=True)
class SegmentAudio:
    """One narrated segment, in book order.

    Attributes:
        segment_id: the segment's id (used in error messages only).
        path: its WAV (any rate/channels libsndfile reads; StoryFlow writes 24 kHz mono PCM_16).
        duration: seconds, as stored with the segment. The plan uses it; the file
            must agree within :data:`audiobook.audio.DURATION_TOLERANCE_SECONDS`.
        cues: sentence timings within this WAV (seconds). Empty: see ``text``.
        chapter_title: a non-blank title makes this segment START a chapter of that title.
        text: the segment's text, used as one whole-segment caption cue when ``cues`` is empty
            (audio synthesized before sentence timings existed). Optional.
    """

    segment_id: str
    path: Path
    duration: float
    cues: Sequence[Cue] = ()
    chapter_title: Optional[str] = None
    text: str = ""


@dataclass(frozen=True)
class Pacing:
    """Silence around and between segments, seconds (each 0–10, see ``MAX_PAUSE_SECONDS`` in plan.py).

    Attributes:
        paragraph_pause: between two segments of the same chapter.
        chapter_pause: before a segment that starts a chapter (other than the first segment).
        lead_in: before the first segment.
        tail: after the last segment.
    """

    paragraph_pause: float = 0.6
    chapter_pause: float = 2.0
    lead_in: float = 0.75
    tail: float = 2.0


@dataclass(frozen=True)
class BookMetadata:
    """Tags written into the exported files.

    Attributes:
        title: book title (M4B ©nam, ID3 TIT2, WAV INAM).
        author: written as artist and album artist (©ART/aART, TPE1/TPE2).
        album: defaults to ``title`` when None or blank (©alb, TALB).
        genre: default "Audiobook" (©gen, TCON).
        narrator: written as composer (©wrt, TCOM), the usual audiobook convention. Optional.
        date: year or ISO date (©day, TDRC/TYER). Optional.
        comment: free text (©cmt, COMM). Optional.
    """

    title: str
    author: str = ""
    album: Optional[str] = None
    genre: str = "Audiobook"
    narrator: str = ""
    date: str = ""
    comment: str = ""


@dataclass(frozen=True)
class ChapterMark:
    """A chapter: ``title`` from ``start`` to ``end`` seconds."""

    title: str
    start: float
    end: float

    def as_dict(self) -> dict:
        """``{"title", "start", "end"}`` (the Export row's chapter shape)."""
        return {"title": self.title, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class BookPlan:
    """Where everything goes in the book; made by :func:`audiobook.plan_book`.

    Every position is an exact sample count at ``sample_rate``; the float seconds
    are those counts divided by ``sample_rate``, so what the exporter writes matches
    the plan to the sample.

    Attributes:
        segments: the input segments, book order.
        pacing: the pacing used.
        sample_rate: Hz of the book's timeline (24 000, Kokoro's rate).
        segment_offsets: seconds, where each segment's audio starts in the book.
        segment_sample_offsets: the same in samples.
        segment_samples: each segment's length in samples (its duration × sample_rate, rounded).
        silence_before_samples: silence before each segment (lead-in, paragraph or chapter pause).
        tail_samples: silence after the last segment.
        chapters: the chapters, in order; the first starts at 0.0, the last ends at ``duration``.
        chapter_segments: for each chapter, ``(first, stop)`` segment indexes (``stop`` exclusive).
        cues: the caption cues in book time, ordered, non-overlapping, within [0, duration],
            times rounded to the millisecond.
        total_samples: the book's length in samples.
        duration: seconds (lead-in + segments + pauses + tail).
    """

    segments: list[SegmentAudio]
    pacing: Pacing
    sample_rate: int
    segment_offsets: list[float]
    segment_sample_offsets: list[int]
    segment_samples: list[int]
    silence_before_samples: list[int]
    tail_samples: int
    chapters: list[ChapterMark]
    chapter_segments: list[tuple[int, int]]
    cues: list[Cue]
    total_samples: int
    duration: float


@dataclass
class ExportResult:
    """What :func:`audiobook.export_book` wrote.

    Attributes:
        format: one of :data:`EXPORT_FORMATS`.
        main_path: ``<out_dir>/<basename>.m4b|.mp3|.wav|.zip``.
        srt_path, vtt_path: the whole book's captions, ``<basename>.srt`` / ``.vtt``.
        duration: seconds, read from the written main file (for "acx": the sum of its MP3s).
        size_bytes: size of the main file.
        chapters: the chapters (book time; for "acx" each chapter's file laid end to end).
        report: for "acx" the per-file check report (JSON-able dict, also ``report.json`` in the zip); else None.
    """

    format: str
    main_path: Path
    srt_path: Path
    vtt_path: Path
    duration: float
    size_bytes: int
    chapters: list[ChapterMark] = field(default_factory=list)
    report: Optional[dict] = None
