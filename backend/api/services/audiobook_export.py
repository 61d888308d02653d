"""Whole-book export as a task: validate, build the closure, submit; the task narrates what is missing and exports.

Request side: :func:`start_project_export` (``POST /api/projects/{id}/export/``,
``manage.py narrate --export``) checks, in order: the format (400), that the
project has something to narrate (400), that no export of the project is
running (409 with its ``task_id``), that every segment has audio (409 listing
the segments without it, unless ``generate_missing``), and then, if anything
must be synthesized, the model and voice (503/400). It submits one ``export``
task on the same runner as every other task and returns the 202 body.

Worker side (:func:`build_export_task`): the task plans its phases —
``synthesis`` of the missing segments (characters; the learned speed of the
voice), then the audiobook builder's ``assembling``, ``encoding``,
``captions`` (and ``packaging`` for ACX), in seconds of audio, with speeds
learned per format — and reports through its :class:`TaskProgress`. The files
are written by :mod:`audiobook` (atomically; a cancelled or failed export
leaves none) under ``media/projects/{id}/exports/``; the :class:`Export` row is
created only once they are all in place, and if that fails they are removed.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction

import audiobook
from api.models import Export, Project, Segment
from api.services.audio_generation import (
    check_voices,
    narrate_segments,
    require_model,
    retry_when_locked,
    segment_claim,
    submit_journaled,
    synthesis_phase,
)
from api.services.narration import NarrationContext, VoiceSettings
from api.services.errors import (
    ExportAlreadyRunning,
    MissingAudio,
    NothingToExport,
    UnsupportedExportFormat,
)
from api.services.media_files import (
    media_path_for_url,
    media_relative_path,
    media_url_for_path,
    project_media_dir,
    remove_file,
)
from api.tasks import DuplicateTaskError, Phase, TaskFailure, TaskProgress, TaskState, get_task_manager
from core_engine.atomic_files import storage_error_message

logger = logging.getLogger(__name__)

#: Formats an export can have (``audiobook.EXPORT_FORMATS``): M4B (AAC + chapters), MP3 (CBR, ID3), WAV (PCM 16-bit),
#: ACX (a zip of one 44.1 kHz 192 kbps MP3 per chapter, with a report).
EXPORT_FORMATS = ("m4b", "mp3", "wav", "acx")

#: Builder stages in the order they run, per format (``audiobook.export_book`` reports these names).
BUILDER_STAGES = {
    "m4b": ("assembling", "encoding", "captions"),
    "mp3": ("assembling", "encoding", "captions"),
    "wav": ("assembling", "encoding", "captions"),
    "acx": ("assembling", "encoding", "captions", "packaging"),
}

#: Assumed speed of each builder stage before one is learned, in seconds of book
#: audio per wall second. From ``bench/export_benchmark.py --minutes 60 --wavs ...``
#: on the 2-core reference machine (64 min of Kokoro speech: M4B 29 s, MP3 70 s,
#: WAV 3.4 s, ACX 67 s in all); only the first export's ETA depends on them.
DEFAULT_STAGE_RATES = {"assembling": 1500.0, "captions": 50000.0, "packaging": 400.0}
DEFAULT_ENCODING_RATES = {"m4b": 150.0, "mp3": 60.0, "wav": 2000.0, "acx": 70.0}

#: Characters of text per second of narration, to estimate the audio a missing
#: segment will add before it is synthesized (Kokoro at speed 1.0 reads about
#: 15 characters per second in the bundled stories).
CHARS_PER_AUDIO_SECOND = 15.0


def export_claim(project_id) -> str:
    """Dedupe key of a project's export: at most one active export per project."""
    return f"export:{project_id}"


def exports_dir(project_id) -> Path:
    """``<MEDIA_ROOT>/projects/{project_id}/exports``."""
    return project_media_dir(project_id) / "exports"


def export_basename(title: str, export_id: uuid.UUID) -> str:
    """File name stem of an export: the title as an ASCII slug plus 8 hex digits of its id.

    ``"Alice's Adventures in Wonderland"`` -> ``alices-adventures-in-wonderland-1a2b3c4d``.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower().replace("'", "")).strip("-")[:60].strip("-")
    return f"{slug or 'audiobook'}-{export_id.hex[:8]}"


# ---------------------------------------------------------------- request side


def narratable_segments(project: Project) -> list[Segment]:
    """The project's segments with something to say, in reading order (blank ones are not in the book).

    One query, with every field the export reads (a deferred field, ``project_id`` included, costs a query per segment).
    """
    segments = project.segments.order_by("sequence_index", "id").only(
        "id", "project_id", "sequence_index", "text_content", "audio_file", "audio_duration", "audio_cues", "is_locked",
        "chapter_title", "voice", "speed",
    )
    return [s for s in segments if s.text_content and s.text_content.strip()]


def has_audio(segment: Segment) -> bool:
    """True if the segment points at a WAV that exists on disk."""
    path = media_path_for_url(segment.audio_file)
    return path is not None and path.is_file()


@dataclass(frozen=True)
class BookSurvey:
    """What a project's book consists of now: its narratable segments and those without audio."""

    segments: list[Segment]
    missing: list[Segment]

    @property
    def chars_missing(self) -> int:
        """Characters still to narrate."""
        return sum(len(s.text_content) for s in self.missing)

    @property
    def audio_estimate(self) -> float:
        """Seconds of audio the book will have: the segments' durations, missing ones estimated from their text."""
        have = sum(s.audio_duration or 0.0 for s in self.segments) - sum(s.audio_duration or 0.0 for s in self.missing)
        return have + self.chars_missing / CHARS_PER_AUDIO_SECOND

    def phases(self, fmt: str, voice: VoiceSettings | None) -> list[Phase]:
        """The export's progress plan for this book (:func:`plan_export_phases`)."""
        return plan_export_phases(fmt, voice, self.chars_missing, self.audio_estimate)


def survey_book(project: Project) -> BookSurvey:
    """The project's narratable segments and which of them have no audio file on disk."""
    segments = narratable_segments(project)
    return BookSurvey(segments=segments, missing=[s for s in segments if not has_audio(s)])


def missing_audio_error(segments: list[Segment]) -> MissingAudio:
    """:class:`MissingAudio` listing ``{"segment_id", "sequence_index"}`` of ``segments``."""
    return MissingAudio([{"segment_id": str(s.id), "sequence_index": s.sequence_index} for s in segments])


def start_project_export(
    project: Project,
    *,
    format: str,
    generate_missing: bool = False,
) -> dict[str, Any]:
    """Validate and queue an export of the whole project (``POST /api/projects/{id}/export/``).

    Args:
        project: the project to export.
        format: one of :data:`EXPORT_FORMATS`.
        generate_missing: synthesize segments without audio first, in the same task, each
            with its own voice (``NarrationContext``).

    Returns:
        The 202 body ``{"task_id", "project_id", "format", "status": "PENDING", "message"}``.

    Raises:
        UnsupportedExportFormat, NothingToExport, ExportAlreadyRunning,
        MissingAudio (listing ``{"segment_id", "sequence_index"}``; with
        ``generate_missing`` only for locked segments, which are not regenerated),
        ModelUnavailable, UnknownVoice, SpeedOutOfRange, TasksShutDown.
    """
    if format not in EXPORT_FORMATS:
        raise UnsupportedExportFormat(format, list(EXPORT_FORMATS))
    book = survey_book(project)
    if not book.segments:
        raise NothingToExport()
    active = get_task_manager().claim_holder(export_claim(project.id))
    if active is not None:
        raise ExportAlreadyRunning(active)

    missing = book.missing
    blocked = [s for s in missing if s.is_locked] if generate_missing else missing
    if blocked:
        raise missing_audio_error(blocked)
    voice = None
    if missing:
        require_model()
        voice = check_voices(NarrationContext.for_project(project), missing)

    task_id = f"export_{project.id}_{uuid.uuid4().hex[:8]}"
    missing_ids = tuple(str(s.id) for s in missing)
    params = {"format": format, "generate_missing": bool(generate_missing), **(voice.as_params() if voice else {})}
    state = TaskState(
        task_id=task_id,
        kind="export",
        project_id=str(project.id),
        segment_ids=missing_ids,
        params=params,
        phases=book.phases(format, voice),
        current_step=f"Queued: {format.upper()} export" + (f" ({len(missing)} segments to narrate first)" if missing else ""),
    )
    try:
        submit_journaled(
            build_export_task(task_id, project.id, format, voice),
            state,
            claims=[export_claim(project.id)],
            soft_claims=[segment_claim(sid) for sid in missing_ids],
        )
    except DuplicateTaskError as duplicate:  # another request won the race
        raise ExportAlreadyRunning(duplicate.task_id) from duplicate
    return {
        "task_id": task_id,
        "project_id": str(project.id),
        "format": format,
        "status": "PENDING",
        "segments_to_generate": len(missing),
        "message": f"{format.upper()} export started"
        + (f"; {len(missing)} segments without audio are narrated first" if missing else ""),
    }


def plan_export_phases(fmt: str, voice: VoiceSettings | None, chars_missing: int, audio_seconds: float) -> list[Phase]:
    """The phases of an export: synthesis of the missing characters (if any), then the builder's stages.

    Builder stages are measured in seconds of book audio, their speeds learned
    under the rate key ``("export:<stage>:<format>", 1.0)``.
    """
    phases: list[Phase] = []
    if chars_missing > 0 and voice is not None:
        phases.append(synthesis_phase(voice, chars_missing))
    for stage in BUILDER_STAGES[fmt]:
        phases.append(
            Phase(
                stage,
                units_total=max(1.0, audio_seconds),
                rate_key=(f"export:{stage}:{fmt}", 1.0),
                default_rate=DEFAULT_ENCODING_RATES[fmt] if stage == "encoding" else DEFAULT_STAGE_RATES[stage],
            )
        )
    return phases


# ----------------------------------------------------------------- worker side


def build_export_task(task_id: str, project_id, fmt: str, voice: VoiceSettings | None):
    """Closure for an export task (runs on the worker thread; receives ids only)."""

    def task_fn() -> None:
        run_export(get_task_manager().progress(task_id), project_id, fmt, voice)

    return task_fn


def resume_export_task(state: TaskState, finished: set[str]):
    """Rebuild an export interrupted by a restart: it starts over, narrating only what is still missing.

    Returns ``(task_fn, claims, soft_claims)`` for :func:`api.services.task_recovery.resume_interrupted_tasks`.
    """
    remaining = [sid for sid in state.segment_ids if sid not in finished]
    task_fn = build_export_task(state.task_id, state.project_id, state.params["format"], VoiceSettings.from_params(state.params))
    return task_fn, [export_claim(state.project_id)], [segment_claim(sid) for sid in remaining]


def run_export(progress: TaskProgress, project_id, fmt: str, voice: VoiceSettings | None) -> None:
    """The export task's work: narrate what is missing, build the files, record the :class:`Export`.

    Raises:
        TaskFailure: segments still lack audio, narration of some failed, the project was
            deleted, the files could not be written (disk full, permission denied, read-only:
            the message names the folder and says what to do; no file is left) or the row
            could not be saved (the database stayed locked: the files are removed); the task
            ends FAILED with that message.
    """
    try:
        project = Project.objects.get(pk=project_id)
    except Project.DoesNotExist:
        raise TaskFailure("The project was deleted before its export started.")
    book = survey_book(project)
    if not book.segments:
        raise TaskFailure("The project has no segments with text to export.")
    segments, missing = book.segments, book.missing
    progress.plan(book.phases(fmt, voice))
    progress.outcome(completed=f"Exported {fmt.upper()}", cancelled="Export cancelled; no file was written")

    if missing:
        if voice is None:
            raise TaskFailure(missing_audio_error(missing).message)
        outcome = narrate_segments(progress, [s.id for s in missing], voice, in_batch=True, whole_task=False)
        if outcome.cancelled or progress.cancelled:
            return
        if outcome.failed:
            raise TaskFailure(
                f"{len(outcome.failed)} segment{'s' if len(outcome.failed) != 1 else ''} could not be narrated, "
                "so the book is incomplete; see errors, fix the text and export again."
            )
        segments = narratable_segments(project)

    book_segments = []
    for segment in segments:
        path = media_path_for_url(segment.audio_file)
        if path is None or not path.is_file():
            raise TaskFailure(f"Segment {segment.sequence_index} lost its audio during the export; export again.")
        book_segments.append(
            audiobook.SegmentAudio(
                segment_id=str(segment.id),
                path=path,
                duration=float(segment.audio_duration or 0.0),
                cues=[audiobook.Cue(float(c["start"]), float(c["end"]), str(c["text"])) for c in (segment.audio_cues or [])],
                chapter_title=segment.chapter_title or None,
            )
        )
    pacing = audiobook.Pacing(
        paragraph_pause=project.paragraph_pause,
        chapter_pause=project.chapter_pause,
        lead_in=project.lead_in,
        tail=project.tail,
    )
    plan = audiobook.plan_book(book_segments, pacing, default_chapter_title=project.title)
    export_id = uuid.uuid4()
    out_dir = exports_dir(project.id)
    entered: set[str] = set()
    chapters_total = len(plan.chapters)

    def on_progress(stage: str, done: float, total: float) -> None:
        if stage not in entered:
            entered.add(stage)
            try:
                progress.phase(stage)
            except KeyError:  # a stage the plan does not weigh: shown, not counted
                logger.debug("Builder stage %r is not in the export plan", stage)
        progress.advance(
            done / total * plan.duration if total else 0.0,
            total=plan.duration,
            stage=stage,
            step=_builder_step(stage, fmt, done, total, chapters_total),
        )

    metadata = audiobook.BookMetadata(
        title=project.title, author=project.author or "", album=project.title, genre="Audiobook"
    )
    progress.advance(0.0, stage="assembling", step=f"Assembling {len(book_segments)} segments, {chapters_total} chapters")
    try:
        result = audiobook.export_book(
            plan,
            fmt,
            out_dir=out_dir,
            basename=export_basename(project.title, export_id),
            metadata=metadata,
            on_progress=on_progress,
            should_cancel=lambda: progress.cancelled,
        )
    except audiobook.ExportCancelled:
        logger.info("Export of %s cancelled; no file left", project_id)
        return
    except OSError as exc:  # PyAV's write errors are OSErrors too; export_book left no file
        message = storage_error_message(exc, out_dir, retry="export again")
        if message is None:
            raise
        logger.error("Export of %s could not be written: %s", project_id, exc)
        raise TaskFailure(message) from exc
    files = [result.main_path, result.srt_path, result.vtt_path]

    def record() -> Export:
        with transaction.atomic():
            return Export.objects.create(
                id=export_id,
                project_id=project.id,
                format=fmt,
                file_path=media_relative_path(result.main_path),
                srt_path=media_relative_path(result.srt_path) if result.srt_path else "",
                vtt_path=media_relative_path(result.vtt_path) if result.vtt_path else "",
                size_bytes=result.size_bytes,
                duration=round(result.duration, 3),
                chapters=[{"title": c.title, "start": round(c.start, 3), "end": round(c.end, 3)} for c in result.chapters],
                report=result.report,
                task_id=progress.task_id,
            )

    try:
        export = retry_when_locked(record)
    except IntegrityError:
        for path in files:
            remove_file(path)
        raise TaskFailure("The project was deleted during its export; the files were removed.")
    except OperationalError as exc:
        for path in files:
            remove_file(path)
        logger.error("Export of %s could not be recorded: %s", project_id, exc)
        raise TaskFailure(
            "The database stayed locked (another program is writing to db.sqlite3?), so the export could not be "
            "saved and its files were removed. Close the other program and export again."
        ) from exc
    url = media_url_for_path(result.main_path)
    progress.set_result({"export_id": str(export.id), "url": url})
    progress.outcome(
        completed=f"Exported {fmt.upper()}: {format_clock(result.duration)}, {len(result.chapters)} "
        f"chapter{'s' if len(result.chapters) != 1 else ''}, "
        f"{result.size_bytes / 1e6:.1f} MB"
    )
    logger.info("Export %s: %s (%.1f s, %d chapters, %d bytes)", export.id, url, result.duration, len(result.chapters), result.size_bytes)


def _builder_step(stage: str, fmt: str, done: float, total: float, chapters: int) -> str:
    if stage == "assembling":
        return f"Assembling audio and measuring loudness ({format_clock(done)} of {format_clock(total)})"
    if stage == "encoding":
        return f"Encoding {fmt.upper()} ({format_clock(done)} of {format_clock(total)})"
    if stage == "captions":
        return "Writing SRT and WebVTT captions"
    if stage == "packaging":
        return f"Packaging {chapters} chapter files and checking them against ACX"
    return stage.capitalize()


def format_clock(seconds: float) -> str:
    """``"1:05"`` for 65 s, ``"1:02:03"`` past an hour (rounded to whole seconds)."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---------------------------------------------------------------------- reads


def export_body(export: Export) -> dict[str, Any]:
    """An export as the API gives it: ``{"id", "project_id", "format", "url", "size_bytes", "duration",
    "chapters": [{"title", "start", "end"}], "captions": {"srt", "vtt"}, "created_at", "task_id", "report"}``."""
    base = settings.MEDIA_URL
    return {
        "id": str(export.id),
        "project_id": str(export.project_id),
        "format": export.format,
        "url": base + export.file_path,
        "size_bytes": export.size_bytes,
        "duration": export.duration,
        "chapters": list(export.chapters or []),
        "captions": {
            "srt": base + export.srt_path if export.srt_path else None,
            "vtt": base + export.vtt_path if export.vtt_path else None,
        },
        "created_at": export.created_at.isoformat().replace("+00:00", "Z"),
        "task_id": export.task_id or None,
        "report": export.report,
    }


def delete_export_files(paths: list[str]) -> None:
    """Remove an export's files (paths relative to MEDIA_ROOT)."""
    root = Path(settings.MEDIA_ROOT)
    for relative in paths:
        if relative and remove_file(root / relative):
            logger.info("Deleted export file %s", relative)
