"""A task's live state (:class:`TaskState`) and the status body computed from it.

The TaskManager keeps one ``TaskState`` per task in its lock-guarded registry.
``TaskState`` has ``__slots__`` (10,000 tracked tasks must fit in 30 MB) and is
only touched under the manager's lock; readers get :func:`status_body`, a plain
dict computed at read time, so interpolated values (``overall_progress``,
``eta_seconds``) are fresh on every read.

Status body (spec ``audio-generation-api.md`` §3.2.3 fields first, then
StoryFlow's progress fields)::

    {
      "task_id": str, "status": "PENDING|PROCESSING|COMPLETED|FAILED|CANCELLED",
      "progress": {"current": int, "total": int, "percentage": int, ...},
      "completed_segments": [{"segment_id", "audio_url", "duration"}],
      "errors": [{"segment_id": str | None, "error": str}],
      "kind": "segment|batch|task", "project_id": str | None, "segment_id": str | None,
      "segment_ids": [str],
      "stage": "queued|preparing|synthesizing|writing|finished",
      "current_step": str,
      "overall_progress": float,   # 0-100, character-weighted, includes the chunk in flight
      "eta_seconds": float | None, # seconds left; None until a speed is known
      "elapsed_seconds": float,    # since the task started (0 while queued)
      "audio_seconds": float,      # audio generated so far
      "realtime_factor": float | None,  # wall seconds per audio second of finished segments
      "created_at": str, "started_at": str | None, "completed_at": str | None,  # ISO 8601, UTC
    }
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from api.tasks.eta import blend_speed, estimate_eta, interpolate_inflight

TASK_PENDING = "PENDING"
TASK_PROCESSING = "PROCESSING"
TASK_COMPLETED = "COMPLETED"
TASK_FAILED = "FAILED"
TASK_CANCELLED = "CANCELLED"

#: Statuses after which a task never changes again.
TERMINAL_STATUSES = frozenset({TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED})
#: Statuses of a task that still holds its claims (dedupe) and resumes after a restart.
ACTIVE_STATUSES = frozenset({TASK_PENDING, TASK_PROCESSING})

STAGE_QUEUED = "queued"
STAGE_PREPARING = "preparing"
STAGE_SYNTHESIZING = "synthesizing"
STAGE_WRITING = "writing"
STAGE_FINISHED = "finished"
STAGES = (STAGE_QUEUED, STAGE_PREPARING, STAGE_SYNTHESIZING, STAGE_WRITING, STAGE_FINISHED)


@dataclass(slots=True)
class TaskState:
    """Everything the manager knows about one task. Mutated only under the manager's lock.

    Times: ``*_at`` are wall-clock ``time.time()`` seconds; ``*_mono`` are
    ``time.monotonic()`` seconds, used for durations. Characters are Python
    string lengths of segment texts.
    """

    task_id: str
    kind: str = "task"
    project_id: str | None = None
    segment_id: str | None = None
    segment_ids: tuple[str, ...] = ()
    #: Characters of each of ``segment_ids`` at submit time (same order).
    segment_chars_planned: tuple[int, ...] = ()
    voice_id: str | None = None
    speed: float | None = None
    status: str = TASK_PENDING
    stage: str = STAGE_QUEUED
    current_step: str = "Queued"
    progress: dict[str, Any] = field(default_factory=lambda: {"current": 0, "total": 0, "percentage": 0})
    completed_segments: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    cancel_requested: bool = False
    claims: tuple[str, ...] = ()
    #: Bumped on every change; the event stream waits for it to move.
    version: int = 0
    # ---- character accounting for overall_progress and the ETA
    chars_total: int = 0
    chars_finished: int = 0  # segments done or failed
    segment_chars_total: int = 0  # the segment in progress
    segment_chars_done: int = 0  # its chunks reported done
    chunks_done: int = 0
    chunks_total: int = 0
    segment_index: int = 0  # 1-based position of the segment in progress
    segment_total: int = 0
    segment_started_mono: float | None = None
    chunk_started_mono: float | None = None  # when the chunk in flight began
    # ---- measured work, for the ETA and the real-time factor
    prior_cps: float | None = None  # learned chars/s for voice+speed at submit time
    work_chars: int = 0  # characters of finished segments (successful ones)
    work_seconds: float = 0.0  # wall seconds those segments took
    audio_seconds: float = 0.0
    #: Frozen overall_progress of a task that ended (FAILED/CANCELLED keep where they stopped).
    final_progress: float | None = None

    def planned_chars(self, segment_id: str) -> int | None:
        """Characters ``segment_id`` had at submit time, or None if not planned."""
        try:
            return self.segment_chars_planned[self.segment_ids.index(segment_id)]
        except (ValueError, IndexError):
            return None

    def touch(self) -> None:
        """Mark a change (the event stream sends a new event)."""
        self.version += 1


def iso(ts: float | None) -> str | None:
    """``time.time()`` seconds -> ISO 8601 UTC with milliseconds, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def current_speed(state: TaskState) -> float | None:
    """Expected chars/s: the learned prior blended with what this task has measured so far.

    The measurement counts finished segments plus, for the segment in flight,
    the chunks done and the time up to the last chunk report.
    """
    chars = state.work_chars
    seconds = state.work_seconds
    if state.segment_started_mono is not None and state.segment_chars_done and state.chunk_started_mono:
        chars += state.segment_chars_done
        seconds += state.chunk_started_mono - state.segment_started_mono
    return blend_speed(state.prior_cps, chars, seconds)


def done_chars(state: TaskState, now_mono: float, cps: float | None) -> float:
    """Characters counted as done now, with the chunk in flight interpolated."""
    done = float(state.chars_finished + state.segment_chars_done)
    if state.stage == STAGE_SYNTHESIZING and state.chunk_started_mono is not None and state.chunks_total:
        remaining_chunks = max(1, state.chunks_total - state.chunks_done)
        expected_chunk = (state.segment_chars_total - state.segment_chars_done) / remaining_chunks
        done += interpolate_inflight(now_mono - state.chunk_started_mono, cps, expected_chunk)
    return min(done, float(state.chars_total))


def status_body(state: TaskState, now: float | None = None, now_mono: float | None = None) -> dict[str, Any]:
    """The task's status body (see the module docstring), computed at ``now``.

    The returned dict owns all its nested dicts and lists. Call under the
    manager's lock (it reads the live state).
    """
    now = time.time() if now is None else now
    now_mono = time.monotonic() if now_mono is None else now_mono
    terminal = state.status in TERMINAL_STATUSES
    cps = current_speed(state)

    if state.status == TASK_COMPLETED:
        overall, eta = 100.0, 0.0
    elif terminal:
        overall, eta = (state.final_progress or 0.0), None
    elif state.chars_total > 0:
        done = done_chars(state, now_mono, cps)
        overall = min(99.9, done / state.chars_total * 100.0)
        eta = estimate_eta(state.chars_total - done, cps)
    else:
        overall, eta = 0.0, None

    if state.started_at is None:
        elapsed = 0.0
    else:
        elapsed = (state.completed_at if state.completed_at is not None else now) - state.started_at

    return {
        "task_id": state.task_id,
        "status": state.status,
        "progress": dict(state.progress),
        "completed_segments": [dict(entry) for entry in state.completed_segments],
        "errors": [dict(entry) for entry in state.errors],
        "kind": state.kind,
        "project_id": state.project_id,
        "segment_id": state.segment_id,
        "segment_ids": list(state.segment_ids),
        "stage": state.stage,
        "current_step": state.current_step,
        "overall_progress": round(overall, 1),
        "eta_seconds": eta,
        "elapsed_seconds": round(max(0.0, elapsed), 1),
        "audio_seconds": round(state.audio_seconds, 2),
        "realtime_factor": round(state.work_seconds / state.audio_seconds, 3) if state.audio_seconds > 0 else None,
        "created_at": iso(state.created_at),
        "started_at": iso(state.started_at),
        "completed_at": iso(state.completed_at),
    }
