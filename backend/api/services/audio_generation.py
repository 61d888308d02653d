"""Audio generation: validate a request, build the task closure, submit it to the TaskManager.

Request side (called by the viewset actions): ``start_segment_audio_generation``
and ``start_project_audio_generation`` check the spec's preconditions in the
spec's order and either raise :class:`GenerationRejected` (an HTTP status and
a JSON body) or submit a task and return the spec's 200/202 body.

Worker side: ``synthesize_segment`` runs on the TaskManager's single worker
thread. It receives ids (never ORM objects), writes the WAV atomically through
``core_engine.tts_wrapper.generate_audio`` and only then points the database
at it, so the database never points to a missing or partial file, and a file
whose segment was deleted meanwhile is removed instead of left behind.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import transaction

from api.models import MAX_TTS_SPEED, MIN_TTS_SPEED, GlobalSettings, Project, Segment
from api.services.media_files import remove_empty_dirs, remove_file
from api.tasks import DuplicateTaskError, TaskFailure, TaskManagerShutdownError, TaskState, get_task_manager
from api.tasks.journal import record_segment_result
from core_engine import tts_wrapper
from core_engine.model_loader import KokoroModelLoader

logger = logging.getLogger(__name__)

#: Spec §3.2.1 bodies, verbatim (the 503 text names the spec's model file).
ERROR_EMPTY_TEXT = "Segment has no text content to generate audio from."
ERROR_LOCKED = "Segment is locked. Unlock before generating audio."
ERROR_MODEL_MISSING = "TTS model not available. Please install kokoro-v0_19.onnx."
ERROR_BATCH_RUNNING = (
    "This project already has a batch generating audio. Follow it with GET /api/tasks/{task_id}/status/ "
    "or cancel it with POST /api/tasks/{task_id}/cancel/ before starting another."
)
MESSAGE_ALREADY_RUNNING = "Audio generation already in progress"


class GenerationRejected(Exception):
    """A generation request that cannot start: carries the HTTP status and JSON body to answer with."""

    def __init__(self, status_code: int, body: dict[str, Any]):
        super().__init__(body.get("error", ""))
        self.status_code = status_code
        self.body = body


@dataclass(frozen=True)
class VoiceSettings:
    """The voice id and speed factor (0.5–2.0) a task synthesizes with, read at request time."""

    voice_id: str
    speed: float


# --------------------------------------------------------------------- checks


def _require_model() -> None:
    if not KokoroModelLoader.is_model_available():
        raise GenerationRejected(503, {"error": ERROR_MODEL_MISSING})


def _read_voice_settings(voice_id: str | None = None, speed: float | None = None) -> VoiceSettings:
    """Resolve the voice and speed: explicit values win over GlobalSettings.

    Raises:
        GenerationRejected: 400 if the voice is not one the installed model has,
            or the speed is outside 0.5–2.0.
    """
    settings_obj = GlobalSettings.load()
    voice_id = voice_id or settings_obj.default_voice_id
    speed = float(settings_obj.tts_speed if speed is None else speed)
    voices = KokoroModelLoader.get_voices()
    if voice_id not in voices:
        raise GenerationRejected(
            400,
            {
                "error": (
                    f"Voice '{voice_id}' is not available in the installed model. "
                    f"Choose one of {', '.join(voices)} with PATCH /api/settings/."
                ),
                "available_voices": voices,
            },
        )
    if not MIN_TTS_SPEED <= speed <= MAX_TTS_SPEED:
        raise GenerationRejected(400, {"error": f"Speed {speed} is outside {MIN_TTS_SPEED}–{MAX_TTS_SPEED}."})
    return VoiceSettings(voice_id=voice_id, speed=speed)


def _submit(task_fn, state: TaskState, claims=(), soft_claims=()) -> None:
    """Submit a journaled task; DuplicateTaskError propagates for the caller to answer."""
    try:
        get_task_manager().submit_task(task_fn, state=state, claims=claims, soft_claims=soft_claims, journal=True)
    except TaskManagerShutdownError as exc:
        raise GenerationRejected(503, {"error": str(exc)}) from exc


def segment_claim(segment_id) -> str:
    """Dedupe key of a segment: at most one active task synthesizes it."""
    return f"segment:{segment_id}"


def batch_claim(project_id) -> str:
    """Dedupe key of a project's batch: at most one active batch per project."""
    return f"batch:{project_id}"


# ---------------------------------------------------------------- request side


def start_segment_audio_generation(segment: Segment) -> dict[str, Any]:
    """Validate and queue TTS for one segment (``POST /api/segments/{id}/generate-audio/``).

    Checks, in the spec's order: empty text (400), locked (409), model (503);
    then the configured voice must exist (400). If an active task (a single
    one, or a batch that has not reached this segment yet) already covers the
    segment, nothing new is queued and that task is answered (dedupe).

    Returns:
        The spec's 202 body ``{"task_id", "segment_id", "status", "message"}``;
        status is "PENDING" for a new task, the active task's status otherwise.

    Raises:
        GenerationRejected: with the status and body to answer.
    """
    if not segment.text_content or not segment.text_content.strip():
        raise GenerationRejected(400, {"error": ERROR_EMPTY_TEXT})
    if segment.is_locked:
        raise GenerationRejected(409, {"error": ERROR_LOCKED})
    _require_model()
    voice = _read_voice_settings()

    task_id = f"tts_{segment.id}_{uuid4().hex[:8]}"
    state = TaskState(
        task_id=task_id,
        kind="segment",
        project_id=str(segment.project_id),
        segment_id=str(segment.id),
        segment_ids=(str(segment.id),),
        segment_chars_planned=(len(segment.text_content),),
        voice_id=voice.voice_id,
        speed=voice.speed,
        chars_total=len(segment.text_content),
        current_step="Queued",
    )
    try:
        _submit(build_segment_task(task_id, segment.id, voice), state, claims=[segment_claim(segment.id)])
    except DuplicateTaskError as duplicate:
        existing = get_task_manager().get_task_status(duplicate.task_id)
        return {
            "task_id": duplicate.task_id,
            "segment_id": str(segment.id),
            "status": existing["status"] if existing else "PENDING",
            "message": MESSAGE_ALREADY_RUNNING,
        }
    return {
        "task_id": task_id,
        "segment_id": str(segment.id),
        "status": "PENDING",
        "message": "Audio generation started",
    }


def start_project_audio_generation(
    project: Project,
    *,
    skip_locked: bool = True,
    force_regenerate: bool = False,
    voice_id: str | None = None,
    speed: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """Select a project's segments and queue one batch task (``POST /api/projects/{id}/generate-all-audio/``).

    Segments are taken in ``sequence_index`` order; locked ones are skipped when
    ``skip_locked``, ones with audio unless ``force_regenerate``, and empty ones always.
    ``voice_id``/``speed`` override GlobalSettings for this task (``manage.py narrate``).

    Returns:
        ``(200, {"message": "No segments to process", ...})`` when nothing is left,
        else ``(202, {"task_id", "project_id", "status", "total_segments",
        "segments_to_process", "message"})``.

    Raises:
        GenerationRejected: 409 ``{"error", "task_id"}`` while the project has an
            active batch, 503 without a model, 400 for an unavailable voice.
    """
    active = get_task_manager().claim_holder(batch_claim(project.id))
    if active is not None:
        raise GenerationRejected(409, {"error": ERROR_BATCH_RUNNING, "task_id": active})

    segments = list(project.segments.order_by("sequence_index", "id").only("id", "is_locked", "audio_file", "text_content"))
    total_segments = len(segments)
    to_process: list[Segment] = []
    skipped = {"locked": 0, "already has audio": 0, "empty text": 0}
    for segment in segments:
        if skip_locked and segment.is_locked:
            skipped["locked"] += 1
        elif not force_regenerate and segment.audio_file:
            skipped["already has audio"] += 1
        elif not segment.text_content or not segment.text_content.strip():
            skipped["empty text"] += 1
        else:
            to_process.append(segment)
    skip_count = total_segments - len(to_process)

    if not to_process:
        return 200, {
            "message": "No segments to process",
            "total_segments": total_segments,
            "segments_to_process": 0,
            "skipped": skip_count,
        }

    _require_model()
    voice = _read_voice_settings(voice_id, speed)

    task_id = f"tts_batch_{project.id}_{uuid4().hex[:8]}"
    segment_ids = tuple(str(segment.id) for segment in to_process)
    planned = tuple(len(segment.text_content) for segment in to_process)
    state = TaskState(
        task_id=task_id,
        kind="batch",
        project_id=str(project.id),
        segment_ids=segment_ids,
        segment_chars_planned=planned,
        voice_id=voice.voice_id,
        speed=voice.speed,
        chars_total=sum(planned),
        current_step=f"Queued: {len(segment_ids)} segments",
    )
    try:
        _submit(
            build_batch_task(task_id, list(segment_ids), voice),
            state,
            claims=[batch_claim(project.id)],
            soft_claims=[segment_claim(sid) for sid in segment_ids],
        )
    except DuplicateTaskError as duplicate:  # another request won the race
        raise GenerationRejected(409, {"error": ERROR_BATCH_RUNNING, "task_id": duplicate.task_id}) from duplicate
    return 202, {
        "task_id": task_id,
        "project_id": str(project.id),
        "status": "PENDING",
        "total_segments": total_segments,
        "segments_to_process": len(to_process),
        "message": f"Bulk audio generation started{_skip_message(skip_count, skipped)}",
    }


def _skip_message(skip_count: int, reasons: dict[str, int]) -> str:
    """`` (2 segments skipped: locked)`` or `` (3 segments skipped: 2 locked, 1 already has audio)``."""
    if not skip_count:
        return ""
    noun = "segment" if skip_count == 1 else "segments"
    present = {reason: count for reason, count in reasons.items() if count}
    if len(present) == 1:
        detail = next(iter(present))
    else:
        detail = ", ".join(f"{count} {reason}" for reason, count in present.items())
    return f" ({skip_count} {noun} skipped: {detail})"


# ----------------------------------------------------------------- worker side


def build_segment_task(task_id: str, segment_id, voice: VoiceSettings, finished_ids: set[str] = frozenset()):
    """Closure for a single-segment task: synthesize, or raise :class:`TaskFailure`.

    On success the task records one ``completed_segments`` entry; the spec's
    ``progress`` stays at its initial values for single-segment tasks
    (``task-progress-tracking.md`` step 5) while ``overall_progress``, ``stage``
    and ``current_step`` follow the chunks. ``finished_ids`` (a resumed task)
    containing the segment means it was already done: nothing runs.
    """
    task_manager = get_task_manager()

    def task_fn() -> None:
        if str(segment_id) in finished_ids:
            return
        result = synthesize_segment(segment_id, voice, task_id=task_id, index=1, total=1)
        task_manager.finish_segment(task_id, segment_id, result, record_error=False)
        if not result["success"]:
            raise TaskFailure(result["error"], segment_id=segment_id)

    return task_fn


def build_batch_task(task_id: str, segment_ids: list, voice: VoiceSettings, finished_ids: set[str] = frozenset()):
    """Closure for a batch task over ``segment_ids`` in order (spec 03.02.04).

    Before each segment: stop if cancellation was requested, then update the
    spec's progress (``current = i + 1``). A segment's error is recorded (in
    memory and in the journal) and the batch goes on; the task fails only if
    the loop itself crashes. Segments in ``finished_ids`` (a batch resumed
    after a restart) are skipped: each segment is synthesized once.
    """
    task_manager = get_task_manager()
    total = len(segment_ids)

    def batch_task_fn() -> None:
        for index, segment_id in enumerate(segment_ids, start=1):
            if str(segment_id) in finished_ids:
                continue
            if task_manager.is_cancelled(task_id):
                logger.info("Cancelled before segment %d of %d", index, total)
                break
            task_manager.update_task_progress(task_id, current=index, total=total, current_segment_id=str(segment_id))
            try:
                result = synthesize_segment(segment_id, voice, task_id=task_id, index=index, total=total)
            except Exception as exc:  # one bad segment must not stop the batch
                logger.exception("Segment %d of %d (%s) failed", index, total, segment_id)
                result = {"success": False, "error": f"{exc.__class__.__name__}: {exc}"}
            if not result["success"]:
                logger.error("Segment %d of %d (%s) failed: %s", index, total, segment_id, result["error"])
                if task_manager.is_journaled(task_id):
                    record_segment_result(task_id, segment_id, error=result["error"])
            task_manager.finish_segment(task_id, segment_id, result)

    return batch_task_fn


def synthesize_segment(segment_id, voice: VoiceSettings, *, task_id: str | None = None, index: int = 1, total: int = 1) -> dict[str, Any]:
    """Generate one segment's WAV and point the segment at it. Runs on the worker thread.

    Order of writes: the WAV is written atomically (temp file, then rename) by
    ``generate_audio``; then, in one transaction, ``audio_file``/``audio_duration``
    are updated and (for a journaled task) the segment's result is journaled,
    so a crash leaves either both or neither. If the segment was deleted
    meanwhile, the new file is removed.

    With ``task_id``, the task's stage, current step and chunk progress follow
    the engine (``TaskManager.begin_segment``/``record_chunk``); ``index`` and
    ``total`` place the segment in its batch (1-based).

    Returns:
        ``generate_audio``'s result dict plus ``audio_url`` (the ``/media/...``
        path) on success; ``{"success": False, "error": ...}`` otherwise.
    """
    try:
        segment = Segment.objects.only("id", "project_id", "text_content").get(id=segment_id)
    except Segment.DoesNotExist:
        return {"success": False, "audio_path": None, "duration": None, "error": "Segment was deleted before synthesis."}

    task_manager = get_task_manager() if task_id else None
    on_progress = None
    if task_manager is not None:
        task_manager.begin_segment(task_id, index, total, segment.id, len(segment.text_content))

        def on_progress(chunks_done: int, chunks_total: int, chars_done: int, chars_total: int) -> None:
            if chunks_done == 0:
                logger.info(
                    "Segment %d of %d: %d characters in %d chunk%s",
                    index, total, len(segment.text_content), chunks_total, "" if chunks_total == 1 else "s",
                )
            task_manager.record_chunk(task_id, chunks_done, chunks_total, chars_done, chars_total)

    started = time.monotonic()
    output_path = tts_wrapper.construct_audio_path(segment.project_id, segment.id)
    result = tts_wrapper.generate_audio(
        text=segment.text_content,
        voice_id=voice.voice_id,
        speed=voice.speed,
        output_path=output_path,
        on_progress=on_progress,
    )
    if not result["success"]:
        return result

    audio_url = tts_wrapper.construct_audio_url(segment.project_id, segment.id)
    with transaction.atomic():
        updated = Segment.objects.filter(id=segment.id).update(audio_file=audio_url, audio_duration=result["duration"])
        if updated and task_manager is not None and task_manager.is_journaled(task_id):
            record_segment_result(task_id, segment.id, audio_url=audio_url, duration=result["duration"])
    if not updated:
        # Deleted during synthesis: leave no file the database does not point to.
        remove_file(output_path)
        remove_empty_dirs(Path(output_path).parent, Path(settings.MEDIA_ROOT))
        return {**result, "success": False, "error": "Segment was deleted during synthesis; its audio was discarded."}
    wall = time.monotonic() - started
    logger.info(
        "Segment %d of %d: %d characters -> %.2f s of audio in %.2f s (RTF %.3f), %s",
        index, total, len(segment.text_content), result["duration"], wall,
        wall / result["duration"] if result["duration"] else float("nan"), audio_url,
    )
    return {**result, "audio_url": audio_url}
