"""Audio generation: validate a request, build the task closure, submit it to the task runner.

Request side (called by the viewset actions and ``manage.py narrate``):
``start_segment_audio_generation`` and ``start_project_audio_generation``
check the spec's preconditions in the spec's order and either raise a domain
error (``api.services.errors``; the API maps it to its status) or submit a task
and return the spec's 200/202 body.

Worker side: ``narrate_segments`` runs on the runner's single worker thread,
reporting through a :class:`~api.tasks.progress.TaskProgress`; the batch task,
the single-segment task and the export task (``audiobook_export``) all use it.
``synthesize_segment`` receives ids (never ORM objects), writes the WAV
atomically through ``core_engine.tts_wrapper.generate_audio`` and only then
points the database at it (with its sentence cues), so the database never
points to a missing or partial file, and a file whose segment was deleted
meanwhile is removed instead of left behind.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from uuid import uuid4

from django.conf import settings
from django.db import transaction

from api.models import MAX_TTS_SPEED, MIN_TTS_SPEED, GlobalSettings, Project, Segment
from api.services.errors import (
    BatchAlreadyRunning,
    EmptyText,
    ModelUnavailable,
    SegmentLocked,
    SpeedOutOfRange,
    TasksShutDown,
    UnknownVoice,
)
from api.services.media_files import remove_empty_dirs, remove_file
from api.tasks import DuplicateTaskError, Phase, TaskFailure, TaskManagerShutdownError, TaskProgress, TaskState, get_task_manager
from api.tasks.journal import record_segment_result
from api.tasks.state import STAGE_PREPARING, STAGE_SYNTHESIZING, STAGE_WRITING
from core_engine import tts_wrapper
from core_engine.model_loader import KokoroModelLoader

logger = logging.getLogger(__name__)

MESSAGE_ALREADY_RUNNING = "Audio generation already in progress"

#: Name of the synthesis phase in a task's progress plan (units: characters of text).
PHASE_SYNTHESIS = "synthesis"


@dataclass(frozen=True)
class VoiceSettings:
    """The voice id and speed factor (0.5–2.0) a task synthesizes with, read at request time."""

    voice_id: str
    speed: float

    @property
    def rate_key(self) -> tuple[str, float]:
        """The key its synthesis speed (characters per second) is learned under."""
        return (self.voice_id, round(float(self.speed), 2))

    def as_params(self) -> dict[str, Any]:
        """The task params that rebuild it after a restart."""
        return {"voice_id": self.voice_id, "speed": self.speed}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "VoiceSettings | None":
        """Inverse of :meth:`as_params`; None when the task had no voice (an export with nothing to narrate)."""
        if not params.get("voice_id"):
            return None
        return cls(voice_id=params["voice_id"], speed=float(params.get("speed") or 1.0))


# --------------------------------------------------------------------- checks


def require_model() -> None:
    """Raise :class:`ModelUnavailable` unless a TTS model is installed."""
    if not KokoroModelLoader.is_model_available():
        raise ModelUnavailable()


def read_voice_settings(voice_id: str | None = None, speed: float | None = None) -> VoiceSettings:
    """Resolve the voice and speed: explicit values win over GlobalSettings.

    Raises:
        UnknownVoice: the voice is not one the installed model has.
        SpeedOutOfRange: the speed is outside 0.5–2.0.
    """
    settings_obj = GlobalSettings.load()
    voice_id = voice_id or settings_obj.default_voice_id
    speed = float(settings_obj.tts_speed if speed is None else speed)
    voices = KokoroModelLoader.get_voices()
    if voice_id not in voices:
        raise UnknownVoice(voice_id, voices)
    if not MIN_TTS_SPEED <= speed <= MAX_TTS_SPEED:
        raise SpeedOutOfRange(speed, MIN_TTS_SPEED, MAX_TTS_SPEED)
    return VoiceSettings(voice_id=voice_id, speed=speed)


def submit_journaled(task_fn: Callable[[], None], state: TaskState, claims=(), soft_claims=()) -> None:
    """Submit a journaled task; DuplicateTaskError propagates for the caller to answer.

    Raises:
        TasksShutDown: the runner is shut down (the server is stopping).
    """
    try:
        get_task_manager().submit_task(task_fn, state=state, claims=claims, soft_claims=soft_claims, journal=True)
    except TaskManagerShutdownError as exc:
        raise TasksShutDown(str(exc)) from exc


def segment_claim(segment_id) -> str:
    """Dedupe key of a segment: at most one active task synthesizes it."""
    return f"segment:{segment_id}"


def batch_claim(project_id) -> str:
    """Dedupe key of a project's batch: at most one active batch per project."""
    return f"batch:{project_id}"


def synthesis_phase(voice: VoiceSettings, chars_total: int, chars_done: int = 0) -> Phase:
    """The synthesis phase of a plan: ``chars_total`` characters at the learned speed of ``voice``."""
    return Phase(PHASE_SYNTHESIS, units_total=float(chars_total), units_done=float(chars_done), rate_key=voice.rate_key)


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
        EmptyText, SegmentLocked, ModelUnavailable, UnknownVoice, SpeedOutOfRange, TasksShutDown.
    """
    if not segment.text_content or not segment.text_content.strip():
        raise EmptyText()
    if segment.is_locked:
        raise SegmentLocked()
    require_model()
    voice = read_voice_settings()

    task_id = f"tts_{segment.id}_{uuid4().hex[:8]}"
    state = TaskState(
        task_id=task_id,
        kind="segment",
        project_id=str(segment.project_id),
        segment_id=str(segment.id),
        segment_ids=(str(segment.id),),
        params=voice.as_params(),
        phases=[synthesis_phase(voice, len(segment.text_content))],
        current_step="Queued",
    )
    try:
        submit_journaled(build_segment_task(task_id, segment.id, voice), state, claims=[segment_claim(segment.id)])
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
        BatchAlreadyRunning: the project has an active batch (its ``task_id`` is in the body).
        ModelUnavailable, UnknownVoice, SpeedOutOfRange, TasksShutDown.
    """
    active = get_task_manager().claim_holder(batch_claim(project.id))
    if active is not None:
        raise BatchAlreadyRunning(active)

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

    require_model()
    voice = read_voice_settings(voice_id, speed)

    task_id = f"tts_batch_{project.id}_{uuid4().hex[:8]}"
    segment_ids = tuple(str(segment.id) for segment in to_process)
    state = TaskState(
        task_id=task_id,
        kind="batch",
        project_id=str(project.id),
        segment_ids=segment_ids,
        params=voice.as_params(),
        phases=[synthesis_phase(voice, sum(len(segment.text_content) for segment in to_process))],
        current_step=f"Queued: {len(segment_ids)} segments",
    )
    try:
        submit_journaled(
            build_batch_task(task_id, list(segment_ids), voice),
            state,
            claims=[batch_claim(project.id)],
            soft_claims=[segment_claim(sid) for sid in segment_ids],
        )
    except DuplicateTaskError as duplicate:  # another request won the race
        raise BatchAlreadyRunning(duplicate.task_id) from duplicate
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

    def task_fn() -> None:
        if str(segment_id) in finished_ids:
            return
        progress = get_task_manager().progress(task_id)
        outcome = narrate_segments(progress, [segment_id], voice, in_batch=False, record_errors=False)
        if outcome.failed:
            raise TaskFailure(outcome.failed[0][1], segment_id=segment_id)

    return task_fn


def build_batch_task(task_id: str, segment_ids: list, voice: VoiceSettings, finished_ids: set[str] = frozenset()):
    """Closure for a batch task over ``segment_ids`` in order (spec 03.02.04).

    Before each segment: stop if cancellation was requested, then update the
    spec's progress (``current = i + 1``). A segment's error is recorded (in
    memory and in the journal) and the batch goes on; the task fails only if
    the loop itself crashes. Segments in ``finished_ids`` (a batch resumed
    after a restart) are skipped: each segment is synthesized once.
    """

    def batch_task_fn() -> None:
        progress = get_task_manager().progress(task_id)
        narrate_segments(progress, segment_ids, voice, finished_ids=finished_ids, in_batch=True, spec_progress=True)

    return batch_task_fn


@dataclass
class NarrationOutcome:
    """What :func:`narrate_segments` did: segment ids narrated, ``(segment id, error)`` failed, and whether it was cancelled."""

    done: list[str]
    failed: list[tuple[str, str]]
    cancelled: bool = False


def segment_lengths(segment_ids: list) -> dict[str, int]:
    """Characters of each segment's current text (missing segments are left out)."""
    rows = Segment.objects.filter(id__in=[str(sid) for sid in segment_ids]).values_list("id", "text_content")
    return {str(sid): len(text or "") for sid, text in rows}


def narrate_segments(
    progress: TaskProgress,
    segment_ids: list,
    voice: VoiceSettings,
    *,
    finished_ids: set[str] = frozenset(),
    in_batch: bool = True,
    spec_progress: bool = False,
    record_errors: bool = True,
    whole_task: bool = True,
) -> NarrationOutcome:
    """Synthesize ``segment_ids`` in order, reporting each chunk and segment through ``progress``.

    Runs on the worker thread. When the segments are the ``whole_task`` it plans
    one synthesis phase over their characters and words the task's outcome
    ("Completed: 4 segments narrated"); otherwise (an export, whose plan has
    more phases) it enters the caller's synthesis phase and leaves the outcome
    to the caller. Cancellation is checked
    before each segment (the one being synthesized finishes). A segment's
    failure is recorded (``record_errors``: in ``errors`` and the journal) and
    the loop goes on. ``spec_progress`` keeps the spec's ``progress`` object at
    ``{"current": i, "total": n, "current_segment_id"}``.

    Returns:
        The ids done and failed, and whether it stopped for a cancel.
    """
    lengths = segment_lengths(segment_ids)
    ids = [str(sid) for sid in segment_ids]
    total = len(ids)
    done_chars = sum(lengths.get(sid, 0) for sid in ids if sid in finished_ids)
    if whole_task:
        progress.plan([synthesis_phase(voice, sum(lengths.values()), done_chars)])
    else:
        progress.phase(PHASE_SYNTHESIS)
    outcome = NarrationOutcome(done=[], failed=[])
    for index, segment_id in enumerate(ids, start=1):
        if segment_id in finished_ids:
            continue
        if progress.cancelled:
            logger.info("Cancelled before segment %d of %d", index, total)
            outcome.cancelled = True
            break
        if spec_progress:
            progress.set_progress(index, total, current_segment_id=segment_id)
        label = f"segment {index} of {total}" if in_batch else "segment"
        started = time.monotonic()
        try:
            result = synthesize_segment(segment_id, voice, progress=progress, label=label, base_chars=done_chars)
        except Exception as exc:  # one bad segment must not stop the batch
            logger.exception("Segment %d of %d (%s) failed", index, total, segment_id)
            result = {"success": False, "error": f"{exc.__class__.__name__}: {exc}"}
        chars = lengths.get(segment_id, 0)
        done_chars += chars
        if result["success"]:
            outcome.done.append(segment_id)
            progress.item_done(
                segment_id,
                {"segment_id": segment_id, "audio_url": result["audio_url"], "duration": result["duration"] or 0},
                done=done_chars,
                seconds=time.monotonic() - started,
                audio_seconds=float(result["duration"] or 0.0),
                release=segment_claim(segment_id),
            )
        else:
            outcome.failed.append((segment_id, result["error"]))
            if record_errors:
                logger.error("Segment %d of %d (%s) failed: %s", index, total, segment_id, result["error"])
                if get_task_manager().is_journaled(progress.task_id):
                    record_segment_result(progress.task_id, segment_id, error=result["error"])
                progress.item_failed(segment_id, result["error"], done=done_chars, unmeasured=chars, release=segment_claim(segment_id))
            else:
                progress.advance(done_chars)
        narrated = len(outcome.done)
        if whole_task:
            progress.outcome(
                completed=f"Completed: {narrated} segment{'s' if narrated != 1 else ''} narrated"
                + (f", {len(outcome.failed)} failed" if outcome.failed else ""),
                cancelled=f"Cancelled after {narrated} segment{'s' if narrated != 1 else ''}",
            )
    return outcome


def synthesize_segment(
    segment_id,
    voice: VoiceSettings,
    *,
    progress: TaskProgress | None = None,
    label: str = "segment",
    base_chars: int = 0,
) -> dict[str, Any]:
    """Generate one segment's WAV and point the segment at it. Runs on the worker thread.

    Order of writes: the WAV is written atomically (temp file, then rename) by
    ``generate_audio``; then, in one transaction, ``audio_file``,
    ``audio_duration`` and ``audio_cues`` are updated and (for a journaled task)
    the segment's result is journaled, so a crash leaves either both or
    neither. If the segment was deleted meanwhile, the new file is removed.

    With ``progress``, the task's stage, current step and chunk progress follow
    the engine: ``base_chars`` characters of the phase are done before this
    segment; ``label`` names it in the step text ("segment 3 of 10").

    Returns:
        ``generate_audio``'s result dict plus ``audio_url`` (the ``/media/...``
        path) on success; ``{"success": False, "error": ...}`` otherwise.
    """
    try:
        segment = Segment.objects.only("id", "project_id", "text_content").get(id=segment_id)
    except Segment.DoesNotExist:
        return {"success": False, "audio_path": None, "duration": None, "error": "Segment was deleted before synthesis."}

    text_chars = len(segment.text_content)
    on_progress = None
    if progress is not None:
        progress.advance(base_chars, stage=STAGE_PREPARING, step=f"Preparing {label}")

        def on_progress(chunks_done: int, chunks_total: int, chars_done: int, chars_total: int) -> None:
            if chunks_done == 0:
                logger.info(
                    "%s: %d characters in %d chunk%s",
                    label.capitalize(), text_chars, chunks_total, "" if chunks_total == 1 else "s",
                )
            scale = text_chars / chars_total if chars_total else 0.0
            done = min(text_chars, round(chars_done * scale))
            if chunks_done < chunks_total:
                inflight = (text_chars - done) / max(1, chunks_total - chunks_done)
                progress.advance(
                    base_chars + done, inflight=inflight, stage=STAGE_SYNTHESIZING,
                    step=f"Synthesizing {label} (chunk {chunks_done + 1} of {chunks_total})",
                )
            else:
                progress.advance(base_chars + done, stage=STAGE_WRITING, step=f"Writing {label}")

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
    cues = result.get("cues") or []
    journaled = progress is not None and get_task_manager().is_journaled(progress.task_id)
    with transaction.atomic():
        updated = Segment.objects.filter(id=segment.id).update(
            audio_file=audio_url, audio_duration=result["duration"], audio_cues=cues
        )
        if updated and journaled:
            record_segment_result(progress.task_id, segment.id, audio_url=audio_url, duration=result["duration"])
    if not updated:
        # Deleted during synthesis: leave no file the database does not point to.
        remove_file(output_path)
        remove_empty_dirs(Path(output_path).parent, Path(settings.MEDIA_ROOT))
        return {**result, "success": False, "error": "Segment was deleted during synthesis; its audio was discarded."}
    wall = time.monotonic() - started
    logger.info(
        "%s: %d characters -> %.2f s of audio in %.2f s (RTF %.3f), %s",
        label.capitalize(), text_chars, result["duration"], wall,
        wall / result["duration"] if result["duration"] else float("nan"), audio_url,
    )
    return {**result, "audio_url": audio_url}
