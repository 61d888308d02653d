"""StoryFlow's audiobook builder: segment WAVs in, one audiobook (M4B, MP3, WAV or an ACX zip)
with chapters and SRT/WebVTT captions out.

Django-free. Typical use::

    plan = plan_book(segments, Pacing(...), default_chapter_title=book_title)
    result = export_book(plan, "m4b", out_dir, basename, metadata=BookMetadata(title=..., author=...),
                         on_progress=..., should_cancel=...)

Modules: :mod:`~audiobook.types` (values), :mod:`~audiobook.plan` (layout, pure arithmetic),
:mod:`~audiobook.audio` (reading, loudness, streaming, level meter, limiter),
:mod:`~audiobook.encode` (PyAV encoders and their settings), :mod:`~audiobook.captions`
(SRT/WebVTT), :mod:`~audiobook.acx` (ACX mastering and checks), :mod:`~audiobook.export`.
"""
from audiobook.acx import check_acx_file
from audiobook.audio import BOOK_PEAK_CEILING_DBFS, BOOK_TARGET_LUFS
from audiobook.export import export_book
from audiobook.plan import BOOK_SAMPLE_RATE, plan_book
from audiobook.types import (
    EXPORT_FORMATS,
    AudiobookError,
    BookMetadata,
    BookPlan,
    ChapterMark,
    Cue,
    ExportCancelled,
    ExportResult,
    Pacing,
    SegmentAudio,
)

__all__ = [
    "BOOK_PEAK_CEILING_DBFS",
    "BOOK_SAMPLE_RATE",
    "BOOK_TARGET_LUFS",
    "EXPORT_FORMATS",
    "AudiobookError",
    "BookMetadata",
    "BookPlan",
    "ChapterMark",
    "Cue",
    "ExportCancelled",
    "ExportResult",
    "Pacing",
    "SegmentAudio",
    "check_acx_file",
    "export_book",
    "plan_book",
]
