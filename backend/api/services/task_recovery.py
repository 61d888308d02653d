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
   once if its result was already recorded).
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from api.models import TaskRecord
from api.services.audio_generation import (
    VoiceSettings,
    batch_claim,
    build_batch_task,
    build_segment_task,
    segment_claim,
)
from api.tasks import ACTIVE_STATUSES, get_task_manager
from api.tasks.journal import rebuild_state
from core_engine.atomic_files import remove_stale_temp_files

logger = logging.getLogger(__name__)


def remove_interrupted_writes(media_root: str | Path | None = None) -> int:
    """Delete leftover temp files of atomic writes under ``<MEDIA_ROOT>/projects``; return how many."""
    root = Path(media_root or settings.MEDIA_ROOT) / "projects"
    removed = sum(remove_stale_temp_files(folder) for folder in root.glob("*/audio"))
    if removed:
        logger.info("Removed %d temp files of interrupted audio writes", removed)
    return removed


def resume_interrupted_tasks() -> list[str]:
    """Queue again every journaled PENDING/PROCESSING task; return their ids in queue order."""
    remove_interrupted_writes()
    manager = get_task_manager()
    resumed: list[str] = []
    for record in TaskRecord.objects.filter(status__in=ACTIVE_STATUSES).order_by("created_at"):
        state, finished = rebuild_state(record)
        voice = VoiceSettings(voice_id=record.voice_id, speed=record.speed)
        remaining = [sid for sid in state.segment_ids if sid not in finished]
        # A fresh run: stage, chunk and cancel state start over; results so far are kept.
        state.stage, state.cancel_requested, state.final_progress, state.completed_at = "queued", False, None, None
        message = f"Resumed after a restart: {len(finished)} of {len(state.segment_ids)} segments already done"
        state.current_step = message
        if record.kind == "batch":
            task_fn = build_batch_task(record.task_id, list(state.segment_ids), voice, finished_ids=finished)
            claims = [batch_claim(record.project_id)] if record.project_id else []
        else:
            task_fn = build_segment_task(record.task_id, state.segment_id, voice, finished_ids=finished)
            claims = [segment_claim(state.segment_id)] if state.segment_id else []
        manager.submit_task(
            task_fn,
            state=state,
            claims=claims,
            soft_claims=[segment_claim(sid) for sid in remaining] if record.kind == "batch" else (),
            journal=True,
        )
        manager.journal.log(record.task_id, "INFO", message)
        logger.info("Task %s resumed: %d segments left", record.task_id, len(remaining))
        resumed.append(record.task_id)
    return resumed
