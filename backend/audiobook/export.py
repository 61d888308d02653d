"""export_book: the whole book (or, for ACX, one file per chapter) encoded, with captions,
written atomically."""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Optional

from audiobook import acx
from audiobook.audio import (
    SegmentReader,
    book_timeline,
    chapter_timeline,
    check_segment_files,
    render,
    timeline_samples,
)
from audiobook.captions import write_captions
from audiobook.encode import (
    ACX_ENCODING,
    M4B_ENCODING,
    MP3_ENCODING,
    WAV_ENCODING,
    Encoding,
    container_tags,
    encode,
    probe_duration,
)
from audiobook.types import (
    EXPORT_FORMATS,
    AudiobookError,
    BookMetadata,
    BookPlan,
    ChapterMark,
    ExportCancelled,
    ExportResult,
)
from core_engine.atomic_files import TEMP_SUFFIX, atomic_write_path

ProgressCallback = Callable[[str, float, float], None]

#: The encoding of each single-file format.
SINGLE_FILE_ENCODINGS: dict[str, Encoding] = {"m4b": M4B_ENCODING, "mp3": MP3_ENCODING, "wav": WAV_ENCODING}
#: The ACX export's main file is a zip of one MP3 per chapter plus report.json.
ACX_ARCHIVE_EXTENSION = "zip"
#: Name of the ACX report inside the zip.
ACX_REPORT_NAME = "report.json"

_BASENAME = re.compile(r"^[\w][\w.\-]*$", re.UNICODE)


class _Progress:
    """Reports progress and checks for cancellation (before every report)."""

    def __init__(self, on_progress: Optional[ProgressCallback], should_cancel: Optional[Callable[[], bool]]):
        self._on_progress = on_progress
        self._should_cancel = should_cancel

    def check(self) -> None:
        if self._should_cancel is not None and self._should_cancel():
            raise ExportCancelled("The export was cancelled.")

    def report(self, stage: str, done: float, total: float) -> None:
        self.check()
        if self._on_progress is not None:
            self._on_progress(stage, done, total)


class _SecondsCounter:
    """Counts samples into seconds of one stage and reports them."""

    def __init__(self, progress: _Progress, stage: str, total_samples: int, rate: int):
        self.progress, self.stage, self.rate = progress, stage, rate
        self.total = round(total_samples / rate, 3)
        self.samples = 0
        progress.report(stage, 0.0, self.total)

    def add(self, samples: int) -> None:
        self.samples += samples
        self.progress.report(self.stage, min(self.total, round(self.samples / self.rate, 3)), self.total)


class _Outputs:
    """A group of files written atomically together: all appear, or none.

    :meth:`add` opens ``core_engine.atomic_files.atomic_write_path`` for a target and returns
    its temp path (beside the target); :meth:`commit` renames them all into place; :meth:`abort`
    removes the temps. If a rename fails part way, the files already renamed are removed again.
    """

    def __init__(self):
        self._open: list[tuple[contextlib.AbstractContextManager, Path]] = []

    def add(self, target: Path) -> Path:
        context = atomic_write_path(target)
        temp = context.__enter__()
        self._open.append((context, target))
        return temp

    def commit(self) -> None:
        done: list[Path] = []
        try:
            while self._open:
                context, target = self._open.pop(0)
                context.__exit__(None, None, None)  # fsync + rename (its temp is gone either way)
                done.append(target)
        except BaseException as exc:
            for target in done:
                target.unlink(missing_ok=True)
            self.abort(exc)
            raise

    def abort(self, exc: BaseException) -> None:
        pending, self._open = self._open, []
        for context, _ in reversed(pending):
            try:
                context.__exit__(type(exc), exc, exc.__traceback__)
            except BaseException:
                pass


def _validate(plan: BookPlan, fmt: str, basename: str) -> str:
    if not isinstance(plan, BookPlan):
        raise AudiobookError(f"export_book needs a BookPlan from plan_book(), got {type(plan).__name__}.")
    if not plan.segments:
        raise AudiobookError("The book has no segments: nothing to export.")
    name = str(fmt or "").strip().lower()
    if name not in EXPORT_FORMATS:
        raise AudiobookError(f"Unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.")
    if not isinstance(basename, str) or not _BASENAME.match(basename) or basename in (".", ".."):
        raise AudiobookError(
            f"basename {basename!r} must be a plain file name (letters, digits, '.', '-', '_'; no folders).")
    return name


def export_book(
    plan: BookPlan,
    fmt: str,
    out_dir: Path,
    basename: str,
    metadata: Optional[BookMetadata] = None,
    on_progress: Optional[ProgressCallback] = None,
    should_cancel: Optional[Callable[[], bool]] = None,
) -> ExportResult:
    """Write the book in format ``fmt`` with SRT and WebVTT captions into ``out_dir``.

    Files: ``<basename>.m4b|.mp3|.wav|.zip`` (main), ``<basename>.srt``, ``<basename>.vtt``.
    Formats (see the ``*_ENCODING`` constants in :mod:`audiobook.encode`):

    - ``"m4b"``: AAC-LC 64 kbit/s mono 24 kHz in MP4 (brand M4B), chapters (titles and starts),
      title/artist/album/genre tags, index at the front.
    - ``"mp3"``: MP3 64 kbit/s CBR mono 44.1 kHz, ID3v2.3 tags and CHAP/CTOC chapters.
    - ``"wav"``: PCM 16-bit mono 24 kHz with a LIST/INFO tag chunk.
    - ``"acx"``: a zip of one MP3 per chapter (192 kbit/s CBR, 44.1 kHz, each mastered to the ACX
      RMS/peak window with 0.75 s of room tone at its head and 2.5 s at its tail) plus
      ``report.json``, the checks measured on the MP3s in the zip (also ``result.report``).

    Loudness: each segment is brought to BOOK_TARGET_LUFS (-18 LUFS) as it is read, so the whole
    book is consistent (see :mod:`audiobook.audio`). The captions hold ``plan.cues``; the book's
    chapters and cues are where the plan puts them, to the sample.

    Audio is streamed: one segment (plus one 5 s block) is in memory at a time.

    Progress: ``on_progress(stage, done, total)`` with stage "assembling" (seconds of audio: the
    segment files are checked, and for ACX each chapter is read once to measure it), "encoding"
    (seconds of audio encoded, after every block of at most 5 s and so at least once per
    segment), "captions" (cues written), and for ACX only "packaging" (files zipped and checked,
    of chapters + 1). Stages come in that order; ``done`` never decreases within a stage and
    ends equal to ``total``. ``should_cancel()`` is
    checked before every progress report; when it returns True every temp file is removed and
    :class:`ExportCancelled` is raised. Any other failure also removes every temp file and
    re-raises; no output file is left either way.

    Args:
        plan: from :func:`audiobook.plan_book`.
        fmt: one of :data:`EXPORT_FORMATS`.
        out_dir: the folder (created if missing).
        basename: the file name without extension (e.g. the export's uuid).
        metadata: tags; default: the first chapter's title as the book title.

    Returns:
        :class:`ExportResult` (paths inside ``out_dir``; duration read from the written file).

    Raises:
        AudiobookError: bad format, basename or plan; a missing, unreadable or wrong-length WAV
            (raised before anything is written).
        ExportCancelled: see above.
        av.FFmpegError / OSError: encoding or writing failed.
    """
    fmt = _validate(plan, fmt, basename)
    if metadata is None:
        metadata = BookMetadata(title=plan.chapters[0].title if plan.chapters else basename)
    progress = _Progress(on_progress, should_cancel)
    assembling_samples = _chapter_content_samples(plan) if fmt == "acx" else plan.total_samples
    progress.report("assembling", 0.0, round(assembling_samples / plan.sample_rate, 3))
    check_segment_files(plan, lambda done: progress.check())

    out_dir = Path(out_dir).resolve()
    extension = ACX_ARCHIVE_EXTENSION if fmt == "acx" else SINGLE_FILE_ENCODINGS[fmt].extension
    main_path = out_dir / f"{basename}.{extension}"
    srt_path = out_dir / f"{basename}.srt"
    vtt_path = out_dir / f"{basename}.vtt"

    outputs = _Outputs()
    try:
        main_temp = outputs.add(main_path)
        srt_temp = outputs.add(srt_path)
        vtt_temp = outputs.add(vtt_path)
        report = None
        if fmt == "acx":
            chapters, duration, report = _write_acx(plan, main_temp, main_path.name, metadata, progress)
        else:
            progress.report("assembling", round(plan.duration, 3), round(plan.duration, 3))
            encoding = SINGLE_FILE_ENCODINGS[fmt]
            counter = _SecondsCounter(progress, "encoding", plan.total_samples, plan.sample_rate)
            encode(main_temp, encoding, render(SegmentReader(plan), book_timeline(plan), before_block=progress.check),
                   plan.sample_rate, container_tags(metadata, encoding), plan.chapters, counter.add)
            chapters = list(plan.chapters)
        write_captions(plan.cues, srt_temp, vtt_temp,
                       on_step=lambda done: progress.report("captions", done, len(plan.cues)))
        if fmt != "acx":
            duration = probe_duration(main_temp)
        progress.check()
        outputs.commit()
    except BaseException as exc:
        outputs.abort(exc)
        raise
    return ExportResult(
        format=fmt,
        main_path=main_path,
        srt_path=srt_path,
        vtt_path=vtt_path,
        duration=round(duration, 3),
        size_bytes=main_path.stat().st_size,
        chapters=chapters,
        report=report,
    )


def _chapter_content_samples(plan: BookPlan) -> int:
    """Samples of all chapters' audio without the silence before each chapter and after the book."""
    return sum(plan.segment_sample_offsets[stop - 1] + plan.segment_samples[stop - 1]
               - plan.segment_sample_offsets[first] for first, stop in plan.chapter_segments)


def _write_acx(plan: BookPlan, zip_temp: Path, zip_name: str, metadata: BookMetadata,
               progress: _Progress) -> tuple[list[ChapterMark], float, dict]:
    """Master and encode each chapter to its own MP3, zip them, measure them in the zip and add
    report.json. Returns (chapters laid end to end over the files, total seconds, report)."""
    rate = plan.sample_rate
    count = len(plan.chapters)
    reader = SegmentReader(plan)
    analysed = _SecondsCounter(progress, "assembling", _chapter_content_samples(plan), rate)
    masters = [acx.analyse_chapter(reader, number, progress.check, analysed.add) for number in range(count)]

    encoded = _SecondsCounter(progress, "encoding", sum(
        timeline_samples(plan, chapter_timeline(plan, number, m.head_samples, m.tail_samples))
        for number, m in enumerate(masters)), rate)
    names = [acx.chapter_file_name(number + 1, count, chapter.title) for number, chapter in enumerate(plan.chapters)]
    temps: list[Path] = []
    try:
        for number, (chapter, master, name) in enumerate(zip(plan.chapters, masters, names)):
            fd, temp_name = tempfile.mkstemp(prefix=f".{zip_name}.{number + 1}.", suffix=TEMP_SUFFIX,
                                             dir=zip_temp.parent)
            os.close(fd)
            temps.append(Path(temp_name))
            items = chapter_timeline(plan, number, master.head_samples, master.tail_samples)
            blocks = acx.master_blocks(reader, items, master.gain_db, master.limiter, progress.check, encoded.add)
            tags = container_tags(metadata, ACX_ENCODING, title=chapter.title, track=f"{number + 1}/{count}")
            encode(temps[-1], ACX_ENCODING, blocks, acx.ACX_SAMPLE_RATE, tags)

        progress.report("packaging", 0, count + 1)
        with zipfile.ZipFile(zip_temp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for temp, name in zip(temps, names):
                progress.check()
                archive.write(temp, arcname=name)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)

    files = []
    with zipfile.ZipFile(zip_temp, "r") as archive:
        for number, (name, master) in enumerate(zip(names, masters)):
            with archive.open(name) as member:
                entry = acx.check_acx_file(member, name)
            entry["chapter"] = plan.chapters[number].title
            entry["mastering"] = master.as_dict()
            files.append(entry)
            progress.report("packaging", number + 1, count + 1)
    report = acx.build_report(files)
    with zipfile.ZipFile(zip_temp, "a", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr(ACX_REPORT_NAME, json.dumps(report, indent=2, ensure_ascii=False))
    progress.report("packaging", count + 1, count + 1)

    chapters = []
    position = 0.0
    for entry, chapter in zip(files, plan.chapters):
        length = entry["duration"] or 0.0
        chapters.append(ChapterMark(title=chapter.title, start=round(position, 3), end=round(position + length, 3)))
        position += length
    return chapters, position, report
