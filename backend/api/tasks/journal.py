"""The task journal: write-behind persistence of the TaskManager's tasks.

The in-memory registry stays the live source of truth (the status endpoint
reads only memory for live tasks). This module copies it to the database
(``api.models.TaskRecord``, ``TaskSegmentResult``, ``TaskLogEntry``) so that:

- a finished task's status is still answered after the in-memory cleanup,
  for ``settings.TASK_RETENTION_SECONDS`` (default 86,400 s = 24 h);
- a task that was PENDING or PROCESSING when the server died resumes at the
  next start under the same id (``api.services.task_recovery``);
- ``GET /api/tasks/{id}/logs/`` has the task's log lines.

How each part is written:

- the record is created synchronously at submit (the request thread), so a
  task whose 202 reached the client is always resumable;
- later state changes are *written behind*: the manager marks the task dirty
  and one writer thread (``storyflow-task-journal``) writes the newest state of
  every dirty task in one transaction, at most every ``WRITE_INTERVAL`` s;
- a segment's success is written by the worker in the same transaction as the
  segment's audio pointer (``record_segment_result``), so after a crash the
  journal's list of finished segments matches the database exactly and a
  resumed batch neither repeats nor skips a segment;
- log lines: INFO and above from the ``api`` and ``core_engine`` loggers on the
  worker thread while it runs a journaled task, plus the manager's own lines.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from api.tasks.state import ACTIVE_STATUSES, TERMINAL_STATUSES, Phase, TaskState, iso, status_body

logger = logging.getLogger(__name__)

#: Default seconds a finished task stays answerable from the journal (24 h, issue "progress you can trust").
DEFAULT_RETENTION_SECONDS = 86_400

#: Least seconds between two journal writes; changes in between are coalesced.
WRITE_INTERVAL = 0.2

_current = threading.local()
_active_journal: "TaskJournal | None" = None


def retention_seconds() -> float:
    """``settings.TASK_RETENTION_SECONDS`` (default 86,400)."""
    return getattr(settings, "TASK_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS)


def set_current_task(task_id: str | None) -> None:
    """Route this thread's log lines to ``task_id``'s journal (None stops it). Used by the worker."""
    _current.task_id = task_id


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def record_fields(state: TaskState) -> dict[str, Any]:
    """The ``TaskRecord`` columns for ``state`` (call under the runner's lock).

    ``state`` (the JSON column) holds what is not a column: the spec's
    progress, task-level errors, the current step, the phases (plan and units
    done), the service's params, the result, the measured work and the
    outcome texts.
    """
    return {
        "task_id": state.task_id,
        "kind": state.kind,
        "project_id": state.project_id,
        "segment_id": state.segment_id,
        "segment_ids": list(state.segment_ids),
        "voice_id": str(state.params.get("voice_id") or ""),
        "speed": float(state.params.get("speed") or 1.0),
        "status": state.status,
        "stage": state.stage,
        "state": {
            "progress": dict(state.progress),
            "task_errors": [dict(e) for e in state.errors if e.get("segment_id") is None],
            "current_step": state.current_step,
            "phases": [phase.to_json() for phase in state.phases],
            "phase_index": state.phase_index,
            "params": dict(state.params),
            "result": dict(state.result) if state.result is not None else None,
            "work_seconds": round(state.work_seconds, 3),
            "final_progress": state.final_progress,
            "cancel_requested": state.cancel_requested,
            "outcome_completed": state.outcome_completed,
            "outcome_cancelled": state.outcome_cancelled,
        },
        "created_at": _dt(state.created_at),
        "started_at": _dt(state.started_at),
        "completed_at": _dt(state.completed_at),
    }


def _legacy_phases(extra: dict[str, Any], segment_ids: tuple[str, ...], finished: set[str], record) -> list[Phase]:
    """Phases of a record journaled before phases existed (one synthesis phase in characters)."""
    planned = list(extra.get("segment_chars_planned") or ())
    total = float(extra.get("chars_total") or sum(planned))
    if total <= 0:
        return []
    done = float(sum(n for sid, n in zip(segment_ids, planned) if sid in finished))
    key = (record.voice_id, float(record.speed or 1.0)) if record.voice_id else None
    return [Phase("synthesis", units_total=total, units_done=done, rate_key=key)]


def rebuild_state(record) -> tuple[TaskState, set[str]]:
    """A :class:`TaskState` from a ``TaskRecord`` and its segment results.

    Returns:
        ``(state, finished_segment_ids)``: completed segments and errors come
        from ``TaskSegmentResult`` rows, so they are exact even if the last
        write-behind of the record was lost.
    """
    from api.models import TaskSegmentResult

    results = list(TaskSegmentResult.objects.filter(task_id=record.task_id).order_by("id"))
    extra = record.state or {}
    segment_ids = tuple(str(s) for s in record.segment_ids or ())
    finished = {str(r.segment_id) for r in results}
    completed = [
        {"segment_id": str(r.segment_id), "audio_url": r.audio_url, "duration": r.duration}
        for r in results
        if r.error is None
    ]
    errors = [{"segment_id": str(r.segment_id), "error": r.error} for r in results if r.error is not None]
    errors += [dict(e) for e in extra.get("task_errors", [])]
    params = dict(extra.get("params") or {})
    if "params" not in extra:  # journaled before params existed
        params = {"voice_id": record.voice_id, "speed": record.speed}
    if "phases" in extra:
        phases = [Phase.from_json(p) for p in extra["phases"]]
    else:
        phases = _legacy_phases(extra, segment_ids, finished, record)
    state = TaskState(
        task_id=record.task_id,
        kind=record.kind,
        project_id=str(record.project_id) if record.project_id else None,
        segment_id=str(record.segment_id) if record.segment_id else None,
        segment_ids=segment_ids,
        params=params,
        status=record.status,
        stage=record.stage,
        current_step=extra.get("current_step", ""),
        progress=dict(extra.get("progress") or {"current": 0, "total": 0, "percentage": 0}),
        completed_segments=completed,
        errors=errors,
        result=extra.get("result"),
        created_at=_ts(record.created_at),
        started_at=_ts(record.started_at),
        completed_at=_ts(record.completed_at),
        cancel_requested=bool(extra.get("cancel_requested")),
        phases=phases,
        phase_index=int(extra.get("phase_index") or 0),
        work_seconds=float(extra.get("work_seconds") or 0.0),
        audio_seconds=sum(float(e["duration"] or 0.0) for e in completed),
        outcome_completed=extra.get("outcome_completed") or "Completed",
        outcome_cancelled=extra.get("outcome_cancelled") or "Cancelled",
        final_progress=extra.get("final_progress"),
    )
    return state, finished


def load_status_body(task_id: str) -> dict[str, Any] | None:
    """The status body of a journaled task, or None if unknown or past retention.

    Used when the task is no longer (or not yet, after a restart) in memory.
    """
    from api.models import TaskRecord

    record = TaskRecord.objects.filter(pk=task_id).first()
    if record is None or _expired(record):
        return None
    state, _ = rebuild_state(record)
    return status_body(state)


def load_project_status_bodies(project_id, exclude: set[str], limit: int) -> list[dict[str, Any]]:
    """Status bodies of the project's journaled tasks within retention, newest first, minus ``exclude``."""
    from api.models import TaskRecord

    cutoff = datetime.now(timezone.utc) - timedelta(seconds=retention_seconds())
    records = (
        TaskRecord.objects.filter(project_id=project_id)
        .exclude(task_id__in=exclude)
        .exclude(completed_at__lt=cutoff)
        .order_by("-created_at")[:limit]
    )
    return [status_body(rebuild_state(record)[0]) for record in records]


def record_segment_result(task_id: str, segment_id, *, audio_url=None, duration=None, error=None) -> None:
    """Write a segment's outcome for ``task_id`` (idempotent; call inside the segment's transaction)."""
    from api.models import TaskSegmentResult

    TaskSegmentResult.objects.get_or_create(
        task_id=task_id,
        segment_id=segment_id,
        defaults={"audio_url": audio_url, "duration": duration, "error": error},
    )


def read_logs(task_id: str) -> list[dict[str, Any]] | None:
    """``[{"timestamp", "level", "message"}]`` of a journaled task, oldest first; None if unknown."""
    from api.models import TaskLogEntry, TaskRecord

    if not TaskRecord.objects.filter(pk=task_id).exists():
        return None
    return [
        {"timestamp": iso(entry.timestamp.timestamp()), "level": entry.level, "message": entry.message}
        for entry in TaskLogEntry.objects.filter(task_id=task_id).order_by("id")
    ]


def _expired(record) -> bool:
    if record.status not in TERMINAL_STATUSES or record.completed_at is None:
        return False
    return (datetime.now(timezone.utc) - record.completed_at).total_seconds() > retention_seconds()


class TaskLogHandler(logging.Handler):
    """Copies log records of the worker thread's current journaled task into the journal.

    Configured in ``settings.LOGGING`` on the ``api`` and ``core_engine`` loggers
    (configuring it there, not by code, survives the ``django.setup()`` that
    ``runserver`` runs again when it loads the WSGI application).
    """

    def emit(self, record: logging.LogRecord) -> None:
        task_id = getattr(_current, "task_id", None)
        journal = _active_journal
        if task_id is None or journal is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                cause = f"{type(exc).__name__}: {exc}"
                if cause not in message:
                    message = f"{message} ({cause})"
            journal.log(task_id, record.levelname, message, record.created)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


RowsProvider = Callable[[Iterable[str]], list[dict[str, Any]]]


class TaskJournal:
    """The write-behind writer of the task runner (one daemon thread, started lazily).

    A store: it is handed plain rows and knows nothing of the runner.
    ``fetch_rows(task_ids)`` returns the newest ``TaskRecord`` fields
    (:func:`record_fields`) of those tasks still in memory; the writer calls it
    when it writes, so coalesced changes cost one row each.
    """

    def __init__(self, fetch_rows: RowsProvider):
        global _active_journal
        self._fetch_rows = fetch_rows
        self._cond = threading.Condition()
        self._dirty: set[str] = set()
        self._logs: list[tuple[str, str, str, float]] = []
        self._queued = 0  # changes enqueued
        self._written = 0  # changes written (or dropped after an error)
        self._stopped = False
        self._thread: threading.Thread | None = None
        _active_journal = self

    # -------------------------------------------------------------- producers

    def create(self, task_id: str) -> None:
        """Write the task's record now (insert, or update a record being resumed)."""
        from api.models import TaskRecord

        rows = self._fetch_rows([task_id])
        if not rows:
            return
        fields = rows[0]
        pk = fields.pop("task_id")
        TaskRecord.objects.update_or_create(task_id=pk, defaults=fields)
        self._ensure_thread()

    def mark_dirty(self, task_id: str) -> None:
        """Schedule a write of the task's newest state (cheap; callable under the manager's lock)."""
        with self._cond:
            if self._stopped:
                return
            self._dirty.add(task_id)
            self._queued += 1
            self._cond.notify_all()

    def log(self, task_id: str, level: str, message: str, timestamp: float | None = None) -> None:
        """Queue a log line for the task (written behind)."""
        with self._cond:
            if self._stopped:
                return
            self._logs.append((task_id, level, message, time.time() if timestamp is None else timestamp))
            self._queued += 1
            self._cond.notify_all()
        self._ensure_thread()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._queued
            if self._thread is None or not self._thread.is_alive():
                return self._written >= target
            self._cond.notify_all()
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, flush: bool = True) -> None:
        """Write what is queued (``flush``) and stop the writer; later changes are not journaled."""
        if flush:
            self.flush(timeout=5)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def prune(self) -> int:
        """Delete journaled tasks that finished more than the retention ago; return how many."""
        from api.models import TaskLogEntry, TaskRecord, TaskSegmentResult

        cutoff = datetime.now(timezone.utc) - timedelta(seconds=retention_seconds())
        old = list(
            TaskRecord.objects.filter(completed_at__lt=cutoff)
            .exclude(status__in=ACTIVE_STATUSES)
            .values_list("task_id", flat=True)
        )
        if old:
            with transaction.atomic():
                TaskSegmentResult.objects.filter(task_id__in=old).delete()
                TaskLogEntry.objects.filter(task_id__in=old).delete()
                TaskRecord.objects.filter(task_id__in=old).delete()
            logger.info("Pruned %d journaled tasks older than %s s", len(old), retention_seconds())
        return len(old)

    # ----------------------------------------------------------------- writer

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._stopped or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="storyflow-task-journal", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._logs and not self._stopped:
                    self._cond.wait()
                if self._stopped and not self._dirty and not self._logs:
                    break
                dirty, self._dirty = self._dirty, set()
                logs, self._logs = self._logs, []
                target = self._queued
            try:
                self._write(dirty, logs)
            except Exception:
                logger.exception("Task journal write failed (%d tasks, %d log lines dropped)", len(dirty), len(logs))
            with self._cond:
                self._written = max(self._written, target)
                self._cond.notify_all()
            time.sleep(WRITE_INTERVAL)
        connections.close_all()

    def _write(self, dirty: set[str], logs: list[tuple[str, str, str, float]]) -> None:
        from api.models import TaskLogEntry, TaskRecord

        close_old_connections()
        rows = self._fetch_rows(dirty)
        with transaction.atomic():
            for fields in rows:
                pk = fields.pop("task_id")
                TaskRecord.objects.filter(pk=pk).update(**fields)
            if logs:
                TaskLogEntry.objects.bulk_create(
                    [TaskLogEntry(task_id=t, level=lvl, message=msg, timestamp=_dt(ts)) for t, lvl, msg, ts in logs]
                )
