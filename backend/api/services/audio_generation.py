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
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from django.conf import settings

from api.models import MAX_TTS_SPEED, MIN_TTS_SPEED, GlobalSettings, Project, Segment
from api.services.media_files import remove_empty_dirs, remove_file
from api.tasks import TaskFailure, TaskManagerShutdownError, get_task_manager
from core_engine import tts_wrapper
from core_engine.model_loader import KokoroModelLoader

logger = logging.getLogger(__name__)

#: Spec §3.2.1 bodies, verbatim (the 503 text names the spec's model file).
ERROR_EMPTY_TEXT = "Segment has no text content to generate audio from."
ERROR_LOCKED = "Segment is locked. Unlock before generating audio."
ERROR_MODEL_MISSING = "TTS model not available. Please install kokoro-v0_19.onnx."


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


def _submit(task_fn, task_id: str) -> None:
    try:
        get_task_manager().submit_task(task_fn, task_id=task_id)
    except TaskManagerShutdownError as exc:
        raise GenerationRejected(503, {"error": str(exc)}) from exc


# ---------------------------------------------------------------- request side


def start_segment_audio_generation(segment: Segment) -> dict[str, Any]:
    """Validate and queue TTS for one segment (``POST /api/segments/{id}/generate-audio/``).

    Checks, in the spec's order: empty text (400), locked (409), model (503);
    then the configured voice must exist (400).

    Returns:
        The spec's 202 body ``{"task_id", "segment_id", "status": "PENDING", "message"}``.

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
    _submit(build_segment_task(task_id, segment.id, voice), task_id)
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
        GenerationRejected: 503 without a model, 400 for an unavailable voice.
    """
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
    _submit(build_batch_task(task_id, [segment.id for segment in to_process], voice), task_id)
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


def build_segment_task(task_id: str, segment_id, voice: VoiceSettings):
    """Closure for a single-segment task: synthesize, or raise :class:`TaskFailure`.

    On success the task records one ``completed_segments`` entry; the spec's
    ``progress`` stays at its initial values for single-segment tasks
    (``task-progress-tracking.md`` step 5).
    """
    task_manager = get_task_manager()

    def task_fn() -> None:
        result = synthesize_segment(segment_id, voice)
        if not result["success"]:
            raise TaskFailure(result["error"], segment_id=segment_id)
        task_manager.add_completed_segment(task_id, segment_id, result)

    return task_fn


def build_batch_task(task_id: str, segment_ids: list, voice: VoiceSettings):
    """Closure for a batch task over ``segment_ids`` in order (spec 03.02.04).

    Before each segment: stop if cancellation was requested, then update
    progress (``current = i + 1``). A segment's error is recorded and the batch
    goes on; the task fails only if the loop itself crashes.
    """
    task_manager = get_task_manager()
    total = len(segment_ids)

    def batch_task_fn() -> None:
        for index, segment_id in enumerate(segment_ids):
            if task_manager.is_cancelled(task_id):
                logger.info("Task %s cancelled before segment %d of %d", task_id, index + 1, total)
                break
            task_manager.update_task_progress(task_id, current=index + 1, total=total, current_segment_id=str(segment_id))
            try:
                result = synthesize_segment(segment_id, voice)
            except Exception as exc:  # one bad segment must not stop the batch
                logger.exception("Segment %s failed in task %s", segment_id, task_id)
                task_manager.add_error(task_id, segment_id, f"{exc.__class__.__name__}: {exc}")
                continue
            if result["success"]:
                task_manager.add_completed_segment(task_id, segment_id, result)
            else:
                task_manager.add_error(task_id, segment_id, result["error"])

    return batch_task_fn


def synthesize_segment(segment_id, voice: VoiceSettings) -> dict[str, Any]:
    """Generate one segment's WAV and point the segment at it. Runs on the worker thread.

    Order of writes: the WAV is written atomically (temp file, then rename) by
    ``generate_audio``; then ``audio_file``/``audio_duration`` are updated with a
    single UPDATE. If the segment was deleted meanwhile, the new file is removed.

    Returns:
        ``generate_audio``'s result dict plus ``audio_url`` (the ``/media/...``
        path) on success; ``{"success": False, "error": ...}`` otherwise.
    """
    try:
        segment = Segment.objects.only("id", "project_id", "text_content").get(id=segment_id)
    except Segment.DoesNotExist:
        return {"success": False, "audio_path": None, "duration": None, "error": "Segment was deleted before synthesis."}

    output_path = tts_wrapper.construct_audio_path(segment.project_id, segment.id)
    result = tts_wrapper.generate_audio(
        text=segment.text_content,
        voice_id=voice.voice_id,
        speed=voice.speed,
        output_path=output_path,
    )
    if not result["success"]:
        return result

    audio_url = tts_wrapper.construct_audio_url(segment.project_id, segment.id)
    updated = Segment.objects.filter(id=segment.id).update(audio_file=audio_url, audio_duration=result["duration"])
    if not updated:
        # Deleted during synthesis: leave no file the database does not point to.
        remove_file(output_path)
        remove_empty_dirs(Path(output_path).parent, Path(settings.MEDIA_ROOT))
        return {**result, "success": False, "error": "Segment was deleted during synthesis; its audio was discarded."}
    logger.info("Segment %s: %.2f s of audio at %s", segment.id, result["duration"], audio_url)
    return {**result, "audio_url": audio_url}
