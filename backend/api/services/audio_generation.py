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

Prefetch: in a batch, once a segment's chunks are queued on the engine's
inference sessions, the next segment's chunks are queued behind them
(:func:`prefetch_segment`), so a short paragraph's last chunk does not leave
the other sessions idle.

Audio cache (``core_engine.audio_cache``): before calling the model,
``synthesize_segment`` looks the segment up by :func:`cache_key_for` (its audio
identity, its written text and the model file's SHA-256). A hit copies the cached
WAV into place (milliseconds, no model call); a miss synthesizes and stores the
result. ``force_regenerate`` (generate-all's flag, kept in the task's params so a
resumed batch honours it too) bypasses the lookup and refreshes the entry.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable
from uuid import uuid4

from django.conf import settings
from django.db import OperationalError, transaction

from api.models import Project, Segment
from api.services import remote_synthesis
from api.services.errors import (
    BatchAlreadyRunning, BrokerUnavailable, EmptyText, ModelDamaged, ModelMissing, ModelUnavailable, SegmentLocked,
    TasksShutDown,
)
from api.services.media_files import remove_empty_dirs, remove_file
from api.services.narration import NarrationContext, VoiceSettings, check_voice_settings
from api.tasks import DuplicateTaskError, Phase, TaskFailure, TaskManagerShutdownError, TaskProgress, TaskState, get_task_manager
from api.tasks.journal import record_segment_result
from api.tasks.state import STAGE_PREPARING, STAGE_SYNTHESIZING, STAGE_WRITING
from core_engine import audio_cache, tts_wrapper
from core_engine.atomic_files import storage_error_message
from core_engine.model_loader import KokoroModelLoader

logger = logging.getLogger(__name__)

MESSAGE_ALREADY_RUNNING = "Audio generation already in progress"

#: Name of the synthesis phase in a task's progress plan (units: characters of text).
PHASE_SYNTHESIS = "synthesis"


# --------------------------------------------------------------------- checks


def require_model() -> None:
    """Raise :class:`ModelUnavailable` unless a TTS model is installed, and in ``celery`` mode
    :class:`BrokerUnavailable` (503, naming the broker) unless Redis answers, or
    :class:`NoSynthesisWorkers` (503) unless a worker does.

    Two cases get their own 503 message: :class:`ModelMissing` when the model file this
    server loaded was deleted since (run ``install_model``), :class:`ModelDamaged` when the
    installed file already failed to load (truncated or corrupt; the first generation
    finds out, as a FAILED task, and later requests are refused at once).
    """
    if not KokoroModelLoader.is_model_available():
        missing = KokoroModelLoader.missing_model_file()
        raise ModelMissing(missing) if missing is not None else ModelUnavailable()
    damaged = KokoroModelLoader.load_error()
    if damaged is not None:
        raise ModelDamaged(str(damaged))
    if remote_synthesis.is_remote():
        remote_synthesis.check_broker()
        remote_synthesis.check_workers()


def check_voices(context: NarrationContext, segments: list[Segment]) -> VoiceSettings:
    """Check every voice ``segments`` are read with; return the one a task's plan is timed with.

    The plan's voice (whose learned speed times the ETA) is the voice of the first
    segment; each segment is still read with its own (``NarrationContext.voice_for``).

    Raises:
        UnknownVoice: a voice or blend is not available (the message names it).
        SpeedOutOfRange: a speed is outside 0.5–2.0.
    """
    used = [check_voice_settings(voice) for voice in context.voices_used(segments)]
    return used[0] if used else check_voice_settings(context.project_voice)


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
    then the segment's voice (its own, the project's or GlobalSettings') must exist (400). If an active task (a single
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
    voice = check_voices(NarrationContext.for_project(segment.project), [segment])

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
) -> tuple[int, dict[str, Any]]:
    """Select a project's segments and queue one batch task (``POST /api/projects/{id}/generate-all-audio/``).

    Segments are taken in ``sequence_index`` order: those without audio and those
    whose audio is stale (made from other text, voice, speed, lexicon or model; see
    ``api.services.narration``) are narrated; locked ones are skipped when
    ``skip_locked``, empty ones always, and ones with up-to-date audio unless
    ``force_regenerate``. Each segment is read with its own voice (``NarrationContext``).

    Returns:
        ``(200, {"message": "No segments to process", ...})`` when nothing is left,
        else ``(202, {"task_id", "project_id", "status", "total_segments",
        "segments_to_process", "segments_missing_audio", "segments_stale", "message"})``.

    Raises:
        BatchAlreadyRunning: the project has an active batch (its ``task_id`` is in the body).
        ModelUnavailable, UnknownVoice, SpeedOutOfRange, TasksShutDown.
    """
    active = get_task_manager().claim_holder(batch_claim(project.id))
    if active is not None:
        raise BatchAlreadyRunning(active)

    context = NarrationContext.for_project(project)
    segments = list(
        project.segments.order_by("sequence_index", "id").only(
            "id", "project_id", "is_locked", "audio_file", "text_content", "voice", "speed", "audio_identity"
        )
    )
    total_segments = len(segments)
    to_process: list[Segment] = []
    missing = stale = 0
    skipped = {"locked": 0, "already has audio": 0, "empty text": 0}
    for segment in segments:
        if skip_locked and segment.is_locked:
            skipped["locked"] += 1
        elif not segment.text_content or not segment.text_content.strip():
            skipped["empty text"] += 1
        elif not segment.audio_file:
            missing += 1
            to_process.append(segment)
        elif context.is_stale(segment):
            stale += 1
            to_process.append(segment)
        elif force_regenerate:
            to_process.append(segment)
        else:
            skipped["already has audio"] += 1
    skip_count = total_segments - len(to_process)

    if not to_process:
        return 200, {
            "message": "No segments to process",
            "total_segments": total_segments,
            "segments_to_process": 0,
            "skipped": skip_count,
        }

    require_model()
    voice = check_voices(context, to_process)

    task_id = f"tts_batch_{project.id}_{uuid4().hex[:8]}"
    segment_ids = tuple(str(segment.id) for segment in to_process)
    state = TaskState(
        task_id=task_id,
        kind="batch",
        project_id=str(project.id),
        segment_ids=segment_ids,
        params={**voice.as_params(), "force_regenerate": bool(force_regenerate)},
        phases=[synthesis_phase(voice, sum(len(segment.text_content) for segment in to_process))],
        current_step=f"Queued: {len(segment_ids)} segments",
    )
    try:
        submit_journaled(
            build_batch_task(task_id, list(segment_ids), voice, force_regenerate=force_regenerate),
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
        "segments_missing_audio": missing,
        "segments_stale": stale,
        "message": f"Bulk audio generation started{_work_message(missing, stale)}{_skip_message(skip_count, skipped)}",
    }


def _work_message(missing: int, stale: int) -> str:
    """`` for 3 out-of-date segments`` when some of the work is regenerating stale audio, else ""."""
    if not stale:
        return ""
    noun = "segment" if stale == 1 else "segments"
    return f" ({missing} without audio, {stale} out-of-date {noun})" if missing else f" ({stale} out-of-date {noun})"


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


def build_batch_task(
    task_id: str,
    segment_ids: list,
    voice: VoiceSettings,
    finished_ids: set[str] = frozenset(),
    *,
    force_regenerate: bool = False,
):
    """Closure for a batch task over ``segment_ids`` in order (spec 03.02.04).

    Before each segment: stop if cancellation was requested, then update the
    spec's progress (``current = i + 1``). A segment's error is recorded (in
    memory and in the journal) and the batch goes on; the task fails only if
    the loop itself crashes. Segments in ``finished_ids`` (a batch resumed
    after a restart) are skipped: each segment is synthesized once.
    ``force_regenerate`` makes every segment go through the model (no audio cache).
    """

    def batch_task_fn() -> None:
        progress = get_task_manager().progress(task_id)
        narrate_segments(
            progress, segment_ids, voice, finished_ids=finished_ids, in_batch=True, spec_progress=True,
            use_cache=not force_regenerate,
        )

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
    use_cache: bool = True,
) -> NarrationOutcome:
    """Synthesize ``segment_ids`` in order, reporting each chunk and segment through ``progress``.

    Runs on the worker thread. When the segments are the ``whole_task`` it plans
    one synthesis phase over their characters and words the task's outcome
    ("Completed: 4 segments narrated"); otherwise (an export, whose plan has
    more phases) it enters the caller's synthesis phase and leaves the outcome
    to the caller. Cancellation is checked
    before each segment (the one being synthesized finishes). A segment's
    failure is recorded (``record_errors``: in ``errors`` and the journal) and
    the loop goes on, except for a failure every next segment would share (no model or
    a damaged one, a full or unwritable disk, Redis gone: the result's ``fatal`` /
    ``broker_unavailable``), and in a batch when not one of its segments is left (the
    project was deleted): those raise :class:`TaskFailure` with the message saying
    what to do, and the task ends FAILED once instead of failing every segment alike.
    ``spec_progress`` keeps the spec's ``progress`` object at
    ``{"current": i, "total": n, "current_segment_id"}``. ``use_cache`` False
    synthesizes every segment with the model (``synthesize_segment``).

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
    remote = remote_synthesis.is_remote()
    window = remote_synthesis.submit_window() if remote else 0
    refill = max(1, window // 4)
    last_id = next((sid for sid in reversed(ids) if sid not in finished_ids), None)
    submitted: set[str] = set()
    contexts: dict = {}  # read once per batch for the requests sent ahead
    for index, segment_id in enumerate(ids, start=1):
        if segment_id in finished_ids:
            continue
        if progress.cancelled:
            logger.info("Cancelled before segment %d of %d", index, total)
            outcome.cancelled = True
            break
        if remote:  # keep the pool busy: this segment and the next ones are queued on the workers
            ahead = [sid for sid in islice((sid for sid in islice(ids, index - 1, None) if sid not in finished_ids), window)
                     if sid not in submitted]
            # Refill in bulk (one query per refill, not per segment), but never leave this one, or
            # the batch's last ones, unsent.
            if ahead and (ahead[0] == segment_id or len(ahead) >= refill or ahead[-1] == last_id):
                submitted.update(ahead)
                submit_segments(ahead, use_cache=use_cache, contexts=contexts)
        if spec_progress:
            progress.set_progress(index, total, current_segment_id=segment_id)
        label = f"segment {index} of {total}" if in_batch else "segment"
        started = time.monotonic()
        following = next((sid for sid in islice(ids, index, None) if sid not in finished_ids), None)
        try:
            # Local mode: queue the next segment's chunks behind this one's (celery mode sent it ahead already).
            prefetch = (lambda: None) if remote else (lambda: prefetch_segment(following, use_cache=use_cache))
            with tts_wrapper.after_chunks_submitted(prefetch):
                result = synthesize_segment(
                    segment_id, progress=progress, label=label, base_chars=done_chars, use_cache=use_cache
                )
        except Exception as exc:  # one bad segment must not stop the batch
            storage = storage_error_message(exc, retry="generate again")
            if storage is None:
                logger.exception("Segment %d of %d (%s) failed", index, total, segment_id)
                result = {"success": False, "error": f"{exc.__class__.__name__}: {exc}"}
            else:
                logger.error("Segment %d of %d (%s): %s", index, total, segment_id, exc)
                result = {"success": False, "error": storage, "fatal": True}
        if result.get("cancelled"):
            logger.info("Cancelled during segment %d of %d", index, total)
            outcome.cancelled = True
            break
        if result.get("broker_unavailable") or result.get("fatal"):
            # Every next segment would fail the same way (Redis gone, no model or a damaged one, a full
            # or unwritable disk): fail the task once, with the message that says what to fix. The
            # segments done keep their audio; generate-all-audio again narrates the rest.
            if remote:
                remote_synthesis.discard_submitted()
            raise TaskFailure(result["error"], segment_id=segment_id)
        if in_batch and result.get("segment_gone") and not Segment.objects.filter(id__in=ids).exists():
            # Not one of the batch's segments is left, those done included: the project was deleted.
            raise TaskFailure(
                "The project was deleted while its audio was being generated; the batch stopped "
                "and kept no audio of it.",
                segment_id=segment_id,
            )
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
    tts_wrapper.discard_prefetched()  # a cancel or a failure may leave the next segment's chunks queued
    if remote:
        remote_synthesis.discard_submitted()  # segments submitted ahead and not reached (a cancel)
    return outcome


def prefetch_segment(segment_id, *, use_cache: bool = True) -> int:
    """Queue the chunks of the segment that comes next (``tts_wrapper.prefetch``), so they run on
    the inference sessions the current segment's last chunks leave idle. Runs on the worker
    thread, from inside the current segment's synthesis. Nothing is queued when there is no
    next segment, when it is empty or gone, or when its audio is in the cache.

    Returns:
        The number of chunks queued.
    """
    upcoming = _upcoming_segment(segment_id, use_cache=use_cache)
    if upcoming is None:
        return 0
    segment, context, voice = upcoming
    return tts_wrapper.prefetch(segment.text_content, voice.voice_id, voice.speed, lexicon=context.lexicon)


def _upcoming_segment(segment_id, *, use_cache: bool):
    """:func:`_upcoming` for a segment read now by id (None: there is no next segment)."""
    if segment_id is None:
        return None
    return _upcoming(Segment.objects.select_related("project").filter(id=segment_id).first(), use_cache=use_cache, contexts={})


def _upcoming(segment: Segment | None, *, use_cache: bool, contexts: dict):
    """``(segment, NarrationContext, VoiceSettings)`` of a segment to start ahead of its turn, or
    None when it is gone (None), empty, or (``use_cache``) its audio is in the cache.
    ``contexts`` (project id -> ``NarrationContext``) reuses contexts already read."""
    if segment is None or not (segment.text_content or "").strip():
        return None
    context = contexts.get(segment.project_id)
    if context is None:
        context = contexts[segment.project_id] = NarrationContext.for_project(segment.project)
    voice = context.voice_for(segment)
    if use_cache:
        key = cache_key_for(context.identity_for(segment).digest, segment.text_content)
        if key and audio_cache.lookup(key) is not None:
            return None
    return segment, context, voice


def submit_segments(segment_ids: list, *, use_cache: bool = True, contexts: dict | None = None) -> None:
    """``celery`` mode: send the synthesis requests of ``segment_ids`` to the pool ahead of their
    turn (``remote_synthesis.submit``), in order, reading the segments in one query. A segment
    is skipped when it is empty or gone, or when its audio is in the cache (answered here,
    with no round trip). ``contexts`` (project id -> ``NarrationContext``) reuses contexts
    already read. Never raises: a broker error stops the sending (the rest would fail
    alike) and shows when the segment's turn comes.
    """
    contexts = {} if contexts is None else contexts
    rows = Segment.objects.select_related("project").in_bulk([str(sid) for sid in segment_ids])
    by_id = {str(key): row for key, row in rows.items()}
    for segment_id in segment_ids:
        upcoming = _upcoming(by_id.get(str(segment_id)), use_cache=use_cache, contexts=contexts)
        if upcoming is None:
            continue
        segment, context, voice = upcoming
        if tts_wrapper.validate_request(segment.text_content, voice.voice_id, voice.speed):
            continue
        request = remote_synthesis.build_request(
            segment.text_content, voice.voice_id, voice.speed, context.lexicon, KokoroModelLoader.model_sha256(),
        )
        try:
            remote_synthesis.submit(request)
        except BrokerUnavailable:
            logger.warning("Could not submit segment %s ahead: the broker is unreachable", segment_id)
            return


def synthesize_segment(
    segment_id,
    *,
    progress: TaskProgress | None = None,
    label: str = "segment",
    base_chars: int = 0,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Generate one segment's WAV and point the segment at it. Runs on the worker thread.

    With ``use_cache`` an audio-cache hit (same identity, written text and model
    file; :func:`cache_key_for`) is copied into place instead of calling the model;
    a miss, or ``use_cache`` False, synthesizes and stores the new audio in the cache.
    The result says which (``"cached": bool``).

    Order of writes: the WAV is written atomically (temp file, then rename) by
    ``generate_audio``; then, in one transaction, ``audio_file``,
    ``audio_duration``, ``audio_cues`` and the audio identity are updated and
    (for a journaled task) the segment's result is journaled, so a crash leaves
    either both or neither. If the segment was deleted meanwhile, the new file is removed.
    A write that finds SQLite locked is tried again (:func:`retry_when_locked`); if it stays
    locked the segment fails with a message saying so, and a new file nothing points to is removed.

    The voice, speed, lexicon and identity are read now, from the segment, its
    project and GlobalSettings (``NarrationContext``), so edits made while the task
    waited are honoured; an edit made during synthesis leaves the audio stale.

    With ``progress``, the task's stage, current step and chunk progress follow
    the engine: ``base_chars`` characters of the phase are done before this
    segment; ``label`` names it in the step text ("segment 3 of 10").

    Returns:
        ``generate_audio``'s result dict plus ``audio_url`` (the ``/media/...``
        path) on success; ``{"success": False, "error": ...}`` otherwise, with
        ``"fatal": True`` when every next segment would fail alike (no model or a damaged
        one, a full or unwritable disk) and ``"segment_gone": True`` when the segment was
        deleted (before or during synthesis).
    """
    try:
        segment = Segment.objects.select_related("project").get(id=segment_id)
    except Segment.DoesNotExist:
        return {
            "success": False, "audio_path": None, "duration": None, "error": "Segment was deleted before synthesis.",
            "segment_gone": True,
        }
    # At first use on this CPU this times the model variants (``engine_calibration``), so
    # the identity below already names the variant the audio will be made with.
    if KokoroModelLoader.needs_calibration():
        if progress is not None:
            progress.advance(base_chars, stage=STAGE_PREPARING, step="Measuring the fastest model set-up for this CPU (once)")
        KokoroModelLoader.ensure_calibrated()
    context = NarrationContext.for_project(segment.project)
    voice = context.voice_for(segment)
    identity = context.identity_for(segment)

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
    cache_key = cache_key_for(identity.digest, segment.text_content)
    result = restore_cached_audio(cache_key, output_path) if use_cache and cache_key else None
    if result is not None:
        if progress is not None:
            progress.advance(base_chars + text_chars, stage=STAGE_WRITING, step=f"Writing {label} (from the audio cache)")
    else:
        result = render_audio(segment.text_content, voice, context.lexicon, output_path, on_progress, progress)
        if not result["success"]:
            if not remote_synthesis.is_remote() and (
                not KokoroModelLoader.is_model_available() or KokoroModelLoader.load_error() is not None
            ):
                result = {**result, "fatal": True}  # the model is gone or damaged: so is every next segment
            return result
        result["cached"] = False
        if cache_key:
            store_cached_audio(cache_key, output_path, result["duration"], result.get("cues") or [])

    audio_url = tts_wrapper.construct_audio_url(segment.project_id, segment.id)
    cues = result.get("cues") or []
    journaled = progress is not None and get_task_manager().is_journaled(progress.task_id)

    def record() -> int:
        with transaction.atomic():
            updated = Segment.objects.filter(id=segment.id).update(
                audio_file=audio_url, audio_duration=result["duration"], audio_cues=cues,
                audio_identity=identity.digest, audio_source=identity.source,
            )
            if updated and journaled:
                record_segment_result(progress.task_id, segment.id, audio_url=audio_url, duration=result["duration"])
        return updated

    try:
        updated = retry_when_locked(record)
    except OperationalError as exc:
        logger.error("Could not record the audio of %s: %s", label, exc)
        if segment.audio_file != audio_url:
            # Nothing points at the new file: leave none the database does not point to. (A segment that
            # had audio keeps its pointer at the same path, now the new file: it is still a whole WAV.)
            remove_file(output_path)
            remove_empty_dirs(Path(output_path).parent, Path(settings.MEDIA_ROOT))
        return {
            **result, "success": False,
            "error": "The database stayed locked (another program is writing to db.sqlite3?), so this segment's "
            "audio could not be saved. Close the other program and generate again.",
        }
    if not updated:
        # Deleted during synthesis: leave no file the database does not point to.
        remove_file(output_path)
        remove_empty_dirs(Path(output_path).parent, Path(settings.MEDIA_ROOT))
        return {
            **result, "success": False, "error": "Segment was deleted during synthesis; its audio was discarded.",
            "segment_gone": True,
        }
    wall = time.monotonic() - started
    logger.info(
        "%s: %d characters -> %.2f s of audio in %.2f s (RTF %.3f%s), %s",
        label.capitalize(), text_chars, result["duration"], wall,
        wall / result["duration"] if result["duration"] else float("nan"),
        ", audio cache" if result["cached"] else "", audio_url,
    )
    if result.get("worker"):
        worker = result["worker"]
        logger.info("%s was synthesized on worker %s (pid %s)", label.capitalize(), worker.get("hostname"), worker.get("pid"))
    return {**result, "audio_url": audio_url}


#: Waits between tries of a database write that found SQLite locked (seconds; ``retry_when_locked``).
#: On top of SQLite's own 30 s busy timeout (settings.DATABASES), which a lock held across it outlasts.
LOCKED_RETRY_DELAYS = (0.1, 0.5, 1.0)


def retry_when_locked(write: Callable[[], Any], delays: tuple[float, ...] = LOCKED_RETRY_DELAYS) -> Any:
    """Run ``write()`` (a function opening its own transaction); when SQLite says "database is
    locked", wait and run it again, once per entry of ``delays`` (seconds). Returns what it returns.

    Raises:
        OperationalError: still locked after the last try, or any other operational error at once.
    """
    for delay in (*delays, None):
        try:
            return write()
        except OperationalError as exc:
            if delay is None or "database is locked" not in str(exc):
                raise
            logger.warning("Database locked; writing again in %.1f s", delay)
            time.sleep(delay)


def render_audio(
    text: str,
    voice: VoiceSettings,
    lexicon,
    output_path: str,
    on_progress=None,
    progress: TaskProgress | None = None,
) -> dict[str, Any]:
    """Synthesize ``text`` and write its WAV at ``output_path``, here or on the workers; never raises.

    ``local`` mode: ``tts_wrapper.generate_audio``. ``celery`` mode
    (``remote_synthesis``): the request goes to the pool (or takes the one a batch
    submitted ahead), ``on_progress`` follows the worker's chunks, and the result is
    written here with ``tts_wrapper.write_synthesis`` (the same file as local mode).

    Returns:
        ``generate_audio``'s dict; in ``celery`` mode plus ``"worker"`` ({"hostname",
        "pid", "variant", "model_sha256"}), and ``"cancelled": True`` when the task was
        cancelled while the segment ran (nothing is written then), ``"broker_unavailable":
        True`` when Redis went away (nothing is written then either), ``"fatal": True`` when
        the storage refused the WAV (``atomic_files.storage_error_message`` words it).
    """
    if not remote_synthesis.is_remote():
        return tts_wrapper.generate_audio(
            text=text, voice_id=voice.voice_id, speed=voice.speed, output_path=output_path,
            on_progress=on_progress, lexicon=lexicon,
        )
    failed = {"success": False, "audio_path": None, "duration": None, "cues": []}
    error = tts_wrapper.validate_request(text, voice.voice_id, voice.speed)
    if error:
        return {**failed, "error": error}
    request = remote_synthesis.build_request(text, voice.voice_id, voice.speed, lexicon, KokoroModelLoader.model_sha256())
    try:
        synthesis, worker = remote_synthesis.synthesize_remote(
            request, on_progress, cancelled=lambda: progress is not None and progress.cancelled,
        )
        result = tts_wrapper.write_synthesis(synthesis, output_path)
    except tts_wrapper.SynthesisCancelled:
        return {**failed, "error": "Cancelled while the segment was being synthesized.", "cancelled": True}
    except remote_synthesis.RemoteSynthesisFailed as exc:
        return {**failed, "error": str(exc)}
    except BrokerUnavailable as exc:
        return {**failed, "error": exc.message, "broker_unavailable": True}
    except Exception as exc:  # never raise to the task manager
        storage = storage_error_message(exc, output_path, retry="generate again")
        if storage is not None:
            return {**failed, "error": storage, "fatal": True}
        logger.exception("Remote synthesis failed")
        return {**failed, "error": f"Audio generation failed: {type(exc).__name__}: {exc}"}
    return {**result, "worker": worker}


# ---------------------------------------------------------------- audio cache


def cache_key_for(identity_digest: str, text: str) -> str | None:
    """Audio-cache key of a segment: SHA-256 hex over its audio identity digest, its written
    text (the cues carry the written sentences) and the model file's SHA-256
    (``KokoroModelLoader.model_sha256``), so a replaced model file never serves old audio.

    Returns None when no model is installed (nothing can be cached or served).
    """
    model_sha = KokoroModelLoader.model_sha256()
    if not model_sha:
        return None
    payload = json.dumps([identity_digest, text, model_sha], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def restore_cached_audio(cache_key: str, output_path: str | Path) -> dict[str, Any] | None:
    """Copy the cached WAV of ``cache_key`` to ``output_path`` (atomically); None on a miss.

    Returns ``generate_audio``'s success dict (``duration`` in seconds, ``cues``) plus
    ``"cached": True``. An entry evicted or unreadable between lookup and copy is a miss.
    """
    entry = audio_cache.lookup(cache_key)
    if entry is None:
        return None
    try:
        audio_cache.copy_to(entry, output_path)
    except OSError:
        logger.warning("Audio cache entry %s vanished during the copy: synthesizing", cache_key, exc_info=True)
        return None
    return {
        "success": True, "audio_path": str(output_path), "duration": entry["duration"], "error": None,
        "cues": entry["cues"], "cached": True,
    }


def store_cached_audio(cache_key: str, wav_path: str | Path, duration: float, cues: list) -> None:
    """Put a freshly written segment WAV in the audio cache; a failure is logged, never raised
    (the segment's own file is already in place)."""
    try:
        audio_cache.store(cache_key, wav_path, duration, cues)
    except OSError:
        logger.warning("Could not store %s in the audio cache", wav_path, exc_info=True)
