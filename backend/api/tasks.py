"""The background task system: a singleton TaskManager around one worker thread.

Design (spec ``audio-generation-api.md`` §3.3–3.4, tasks 03.02.01/02/06/12):

- ONE ``ThreadPoolExecutor(max_workers=1)``: TTS is CPU-bound and espeak-ng is
  not thread-safe, so tasks run one after another; later submissions wait in
  the executor's queue as ``PENDING``.
- An in-memory registry ``_tasks`` (task_id -> state dict) guarded by
  ``_tasks_lock``. Request threads read it, the worker writes it; every access
  goes through the lock and readers get snapshots, never the live dicts.
- Statuses: ``PENDING`` -> ``PROCESSING`` -> ``COMPLETED`` | ``FAILED`` |
  ``CANCELLED``. ``CANCELLED`` is StoryFlow's fifth status: a cancelled PENDING
  task never runs; a PROCESSING one stops at its next cancellation check (the
  segment being synthesized finishes first).
- Finished tasks are dropped ``settings.TASK_CLEANUP_THRESHOLD`` seconds
  (default 3600) after they finish; PENDING and PROCESSING tasks never are.
- The worker wrapper follows healthchecks' ``sendalerts``: it calls
  ``close_old_connections()`` before a job and closes the thread's database
  connections after it; task functions receive ids, never ORM objects.

The state dict of a task::

    {
        "status": "PENDING",
        "progress": {"current": 0, "total": 0, "percentage": 0},
        "completed_segments": [{"segment_id": str, "audio_url": str, "duration": float}],
        "errors": [{"segment_id": str | None, "error": str}],
        "created_at": float,        # time.time() seconds
        "started_at": float | None,
        "completed_at": float | None,
        "cancel_requested": bool,
    }
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from uuid import uuid4

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

TASK_PENDING = "PENDING"
TASK_PROCESSING = "PROCESSING"
TASK_COMPLETED = "COMPLETED"
TASK_FAILED = "FAILED"
TASK_CANCELLED = "CANCELLED"

#: Statuses after which a task never changes again.
TERMINAL_STATUSES = frozenset({TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED})

#: Default age in seconds after which finished tasks are dropped (spec 03.02.12).
DEFAULT_CLEANUP_THRESHOLD = 3600

#: How often, in seconds, the background sweeper drops expired tasks, in
#: addition to the sweep piggybacked on every ``submit_task`` (spec 03.02.12 step 3).
CLEANUP_INTERVAL = 600


class TaskManagerShutdownError(RuntimeError):
    """Raised by :meth:`TaskManager.submit_task` after :meth:`TaskManager.shutdown`."""


class TaskFailure(Exception):
    """An error a task function raises to fail its task with a segment attached.

    The wrapper records it in ``errors`` as ``{"segment_id": segment_id, "error": message}``;
    any other exception is recorded with ``segment_id`` None.
    """

    def __init__(self, message: str, segment_id: Any = None):
        super().__init__(message)
        self.segment_id = None if segment_id is None else str(segment_id)


class TaskManager:
    """Process-wide singleton running background tasks on one worker thread.

    ``TaskManager()`` always returns the same instance (double-checked locking);
    ``get_task_manager()`` is the usual accessor.
    """

    _instance: "TaskManager | None" = None
    _lock = threading.Lock()

    def __new__(cls) -> "TaskManager":
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    instance = super().__new__(cls)
                    instance._init()
                    cls._instance = instance
        return cls._instance

    def _init(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storyflow-tts")
        self._tasks: dict[str, dict[str, Any]] = {}
        self._tasks_lock = threading.Lock()
        self._is_shut_down = False
        self._sweeper_stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="storyflow-task-sweeper", daemon=True)
        self._sweeper.start()
        _register_exit_hook(self._on_interpreter_exit)

    # ------------------------------------------------------------------ submit

    @property
    def cleanup_threshold(self) -> float:
        """Seconds a finished task is kept: ``settings.TASK_CLEANUP_THRESHOLD`` (default 3600)."""
        return getattr(settings, "TASK_CLEANUP_THRESHOLD", DEFAULT_CLEANUP_THRESHOLD)

    def submit_task(self, task_fn: Callable[[], None], task_id: str | None = None) -> str:
        """Register a task as PENDING and queue ``task_fn`` on the worker thread.

        Args:
            task_fn: a no-argument callable run on the worker thread. Returning
                means success (COMPLETED, or CANCELLED if cancel was requested
                meanwhile); raising means FAILED with the error recorded.
            task_id: the id to register; ``task_<12 hex>`` when omitted.

        Returns:
            The task id.

        Raises:
            TaskManagerShutdownError: the manager was shut down.
            ValueError: ``task_id`` is already registered.
        """
        if task_id is None:
            task_id = f"task_{uuid4().hex[:12]}"
        with self._tasks_lock:
            if self._is_shut_down:
                raise TaskManagerShutdownError("The task manager is shut down; restart the server to run new tasks.")
            if task_id in self._tasks:
                raise ValueError(f"Task id {task_id!r} is already registered.")
            self._tasks[task_id] = new_task_state()
        try:
            self._executor.submit(self._run, task_id, task_fn)
        except RuntimeError as exc:  # executor shut down between the check and the submit
            with self._tasks_lock:
                self._tasks.pop(task_id, None)
            raise TaskManagerShutdownError("The task manager is shut down; restart the server to run new tasks.") from exc
        self._cleanup_old_tasks()
        return task_id

    def _run(self, task_id: str, task_fn: Callable[[], None]) -> None:
        """Worker-thread wrapper: status transitions, error capture, DB connection hygiene."""
        close_old_connections()
        try:
            with self._tasks_lock:
                task = self._tasks.get(task_id)
                if task is None or task["status"] != TASK_PENDING:
                    return  # cancelled while queued (or cleaned up): never runs
                task["status"] = TASK_PROCESSING
                task["started_at"] = time.time()
            try:
                task_fn()
            except Exception as exc:  # an unhandled error in a future would be swallowed silently
                logger.exception("Task %s failed", task_id)
                segment_id = exc.segment_id if isinstance(exc, TaskFailure) else None
                with self._tasks_lock:
                    task = self._tasks.get(task_id)
                    if task is not None:
                        task["status"] = TASK_FAILED
                        task["errors"].append({"segment_id": segment_id, "error": str(exc) or exc.__class__.__name__})
                        task["completed_at"] = time.time()
                return
            with self._tasks_lock:
                task = self._tasks.get(task_id)
                if task is not None:
                    task["status"] = TASK_CANCELLED if task["cancel_requested"] else TASK_COMPLETED
                    task["completed_at"] = time.time()
        finally:
            # This thread's connections only (Django connections are thread-local).
            connections.close_all()

    # ------------------------------------------------------------------- reads

    def get_task_status(self, task_id: str) -> dict[str, Any] | None:
        """Return a snapshot of the task's state, or None if unknown.

        The snapshot owns its ``progress`` dict and its ``completed_segments``
        and ``errors`` lists (entries copied too), so work done after the call
        never changes it.
        """
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            return _snapshot(task)

    def is_cancelled(self, task_id: str) -> bool:
        """True if cancellation was requested for the task (False for unknown ids)."""
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            return bool(task and task["cancel_requested"])

    def task_count(self) -> int:
        """Number of tasks currently tracked in memory."""
        with self._tasks_lock:
            return len(self._tasks)

    # ------------------------------------------------------------------ writes

    def update_task_progress(self, task_id: str, current: int, total: int, **kwargs: Any) -> None:
        """Set ``progress`` to ``{"current", "total", "percentage", **kwargs}``.

        ``percentage`` is the integer ``int(current / total * 100)``, 0 when
        ``total`` is 0. Unknown task ids are ignored silently (the task may have
        been cleaned up).
        """
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is None:
                return
            task["progress"] = {
                "current": current,
                "total": total,
                "percentage": int((current / total) * 100) if total > 0 else 0,
                **kwargs,
            }

    def add_completed_segment(self, task_id: str, segment_id: Any, result: dict[str, Any]) -> None:
        """Append ``{"segment_id", "audio_url", "duration"}`` to the task's completed segments.

        ``result`` is a generation result; its ``audio_url`` (the ``/media/...``
        URL path) is used, falling back to ``audio_path``. Unknown ids are ignored.
        """
        entry = {
            "segment_id": str(segment_id),
            "audio_url": result.get("audio_url") or result.get("audio_path") or "",
            "duration": result.get("duration") or 0,
        }
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is not None:
                task["completed_segments"].append(entry)

    def add_error(self, task_id: str, segment_id: Any, error_message: str) -> None:
        """Append ``{"segment_id", "error"}`` to the task's errors. Unknown ids are ignored."""
        entry = {"segment_id": None if segment_id is None else str(segment_id), "error": str(error_message)}
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is not None:
                task["errors"].append(entry)

    def cancel_task(self, task_id: str) -> dict[str, Any] | None:
        """Request cancellation; return the task's snapshot after it, or None if unknown.

        - PENDING: becomes CANCELLED at once and never runs.
        - PROCESSING: flagged; the task function sees :meth:`is_cancelled` at its
          next check (before the next segment) and the task ends CANCELLED.
        - Finished tasks are left as they are.
        """
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            if task["status"] == TASK_PENDING:
                task["cancel_requested"] = True
                task["status"] = TASK_CANCELLED
                task["completed_at"] = time.time()
            elif task["status"] == TASK_PROCESSING:
                task["cancel_requested"] = True
            return _snapshot(task)

    # ---------------------------------------------------------------- lifetime

    def _cleanup_old_tasks(self) -> int:
        """Drop finished tasks older than :attr:`cleanup_threshold`; return how many."""
        threshold = self.cleanup_threshold
        now = time.time()
        with self._tasks_lock:
            expired = [
                tid
                for tid, task in self._tasks.items()
                if task["status"] in TERMINAL_STATUSES
                and task["completed_at"] is not None
                and (now - task["completed_at"]) > threshold
            ]
            for tid in expired:
                del self._tasks[tid]
        if expired:
            logger.info("Cleaned up %d expired task records", len(expired))
        return len(expired)

    def _sweep_forever(self) -> None:
        while not self._sweeper_stop.wait(CLEANUP_INTERVAL):
            try:
                self._cleanup_old_tasks()
            except Exception:  # the sweeper must never die
                logger.exception("Task cleanup failed")

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks, cancel queued ones, and stop the worker.

        PENDING tasks become CANCELLED; a PROCESSING task is asked to cancel and,
        with ``wait=True``, its current segment finishes before this returns.
        Later :meth:`submit_task` calls raise :class:`TaskManagerShutdownError`.
        """
        with self._tasks_lock:
            self._is_shut_down = True
            now = time.time()
            for task in self._tasks.values():
                if task["status"] == TASK_PENDING:
                    task["status"] = TASK_CANCELLED
                    task["cancel_requested"] = True
                    task["completed_at"] = now
                elif task["status"] == TASK_PROCESSING:
                    task["cancel_requested"] = True
        self._sweeper_stop.set()
        self._executor.shutdown(wait=wait, cancel_futures=True)


    def _on_interpreter_exit(self) -> None:
        """At interpreter exit (Ctrl-C on the server): stop after the current segment, not after the batch."""
        if not self._is_shut_down:
            logger.info("Shutting down: queued tasks are cancelled, the running one stops after its current segment")
            self.shutdown(wait=False)


def _register_exit_hook(hook: Callable[[], None]) -> None:
    """Run ``hook`` at interpreter exit *before* the executor joins its worker thread.

    ``concurrent.futures`` joins its non-daemon workers from a
    ``threading._register_atexit`` hook, which runs before ``atexit`` hooks; a
    plain ``atexit`` hook would only run after a whole batch had finished.
    Hooks registered later run first, so this one precedes the executor's.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython has it since 3.9
        import atexit

        atexit.register(hook)
        return
    try:
        register(hook)
    except RuntimeError:  # the interpreter is already shutting down
        pass


def new_task_state() -> dict[str, Any]:
    """The state of a task just submitted: PENDING, no progress, created now."""
    return {
        "status": TASK_PENDING,
        "progress": {"current": 0, "total": 0, "percentage": 0},
        "completed_segments": [],
        "errors": [],
        "created_at": time.time(),
        "started_at": None,
        "completed_at": None,
        "cancel_requested": False,
    }


def _snapshot(task: dict[str, Any]) -> dict[str, Any]:
    return {
        **task,
        "progress": dict(task["progress"]),
        "completed_segments": [dict(entry) for entry in task["completed_segments"]],
        "errors": [dict(entry) for entry in task["errors"]],
    }


def get_task_manager() -> TaskManager:
    """Return the process-wide :class:`TaskManager`."""
    return TaskManager()
