"""Resume the tasks a stopped or killed server left PENDING or PROCESSING.

Called once when the server starts (``manage.py runserver`` in StoryFlow, see
``api/management/commands/runserver.py``), before any request is served:

1. Temp files of interrupted atomic writes (``.<name>.wav.<random>.tmp``
   beside the segment WAVs) are removed; the WAVs themselves are whole,
   since a WAV only ever appears by rename.
2. Every journaled task whose status is PENDING or PROCESSING is queued again
   under the same task id, oldest first, with its voice and speed. A batch
   skips the segments the journal lists as finished (written in the same
   transaction as each segment's audio pointer), so no segment is lost and
   none is done twice; a single-segment task is re-queued (or completes at
   once if its result was already recorded). A batch started with
   ``force_regenerate`` still bypasses the audio cache.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from django.conf import settings

from api.models import TaskRecord
from api.services.audio_generation import (
    batch_claim,
    build_batch_task,
    build_segment_task,
    segment_claim,
)
from api.services.narration import VoiceSettings
from api.tasks import ACTIVE_STATUSES, TaskState, get_task_manager
from api.tasks.journal import rebuild_state
from core_engine.atomic_files import remove_stale_temp_files

logger = logging.getLogger(__name__)

#: How to run each kind of task again: ``(state, finished segment ids) -> (task_fn, claims, soft_claims)``.
Resumer = Callable[[TaskState, set[str]], tuple[Callable[[], None], list[str], list[str]]]


def _resume_batch(state: TaskState, finished: set[str]):
    remaining = [sid for sid in state.segment_ids if sid not in finished]
    task_fn = build_batch_task(
        state.task_id, list(state.segment_ids), VoiceSettings.from_params(state.params), finished_ids=finished,
        force_regenerate=bool(state.params.get("force_regenerate")),
    )
    claims = [batch_claim(state.project_id)] if state.project_id else []
    return task_fn, claims, [segment_claim(sid) for sid in remaining]


def _resume_segment(state: TaskState, finished: set[str]):
    task_fn = build_segment_task(state.task_id, state.segment_id, VoiceSettings.from_params(state.params), finished_ids=finished)
    return task_fn, ([segment_claim(state.segment_id)] if state.segment_id else []), []


def _resumers() -> dict[str, Resumer]:
    from api.services.audiobook_export import resume_export_task

    return {"batch": _resume_batch, "segment": _resume_segment, "export": resume_export_task}


def remove_interrupted_writes(media_root: str | Path | None = None) -> int:
    """Delete leftover temp files of atomic writes under ``<MEDIA_ROOT>/projects``; return how many."""
    root = Path(media_root or settings.MEDIA_ROOT) / "projects"
    removed = sum(remove_stale_temp_files(folder) for pattern in ("*/audio", "*/exports") for folder in root.glob(pattern))
    if removed:
        logger.info("Removed %d temp files of interrupted writes", removed)
    return removed


def resume_interrupted_tasks() -> list[str]:
    """Queue again every journaled PENDING/PROCESSING task; return their ids in queue order.

    A task of a kind StoryFlow cannot resume is marked FAILED in the journal with
    a message saying so, instead of staying active forever.
    """
    remove_interrupted_writes()
    manager = get_task_manager()
    resumers = _resumers()
    resumed: list[str] = []
    for record in TaskRecord.objects.filter(status__in=ACTIVE_STATUSES).order_by("created_at"):
        resumer = resumers.get(record.kind)
        if resumer is None:
            TaskRecord.objects.filter(pk=record.pk).update(status="FAILED", stage="finished")
            logger.warning("Task %s of kind %r cannot be resumed; marked FAILED", record.task_id, record.kind)
            continue
        state, finished = rebuild_state(record)
        # A fresh run: stage, cancel state and the end mark start over; results so far are kept.
        state.stage, state.cancel_requested, state.final_progress, state.completed_at = "queued", False, None, None
        message = f"Resumed after a restart: {len(finished)} of {len(state.segment_ids)} segments already done"
        state.current_step = message
        task_fn, claims, soft_claims = resumer(state, finished)
        manager.submit_task(task_fn, state=state, claims=claims, soft_claims=soft_claims, journal=True)
        manager.journal.log(record.task_id, "INFO", message)
        logger.info("Task %s resumed: %d segments left", record.task_id, len(state.segment_ids) - len(finished))
        resumed.append(record.task_id)
    return resumed
