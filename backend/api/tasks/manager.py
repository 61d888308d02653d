"""The task runner: a singleton TaskManager around one worker thread.

Design (spec ``audio-generation-api.md`` §3.3–3.4, tasks 03.02.01/02/06/12;
``shared/design/task-system.md``):

- ONE ``ThreadPoolExecutor(max_workers=1)``: TTS is CPU-bound and espeak-ng is
  not thread-safe, so tasks run one after another; later submissions wait in
  the executor's queue as ``PENDING``.
- An in-memory registry ``_tasks`` (task_id -> :class:`TaskState`) guarded by
  ``_tasks_lock``. It is the live source of truth: request threads read it,
  the worker writes it, every access goes through the lock and readers get
  status bodies computed from it, never the live objects. A condition on the
  same lock (``_changed``) wakes event-stream readers on every change.
- The runner is generic: it owns the queue, the state, claims, cancel, the
  journal, events and the status body. What a task *does* (a segment, a batch,
  an export) lives in a service, which reports through
  :class:`api.tasks.progress.TaskProgress` (stage, step text, weighted phases
  with done and total units, items done or failed) — a new kind of task adds a
  service, not runner methods.
- Statuses: ``PENDING`` -> ``PROCESSING`` -> ``COMPLETED`` | ``FAILED`` |
  ``CANCELLED``. ``CANCELLED`` is StoryFlow's fifth status: a cancelled PENDING
  task never runs; a PROCESSING one stops at its next cancellation check.
- Claims (dedupe): a task may claim keys such as ``segment:<id>`` or
  ``batch:<project_id>``; while it is active, a second submit with a claimed
  key raises :class:`DuplicateTaskError` naming the holder. Soft claims are
  taken only if free and may be released one by one while the task runs.
- Journal (``journal.py``): tasks submitted with ``journal=True`` are written
  behind to the database, so their status outlives the in-memory cleanup and
  they resume after a restart (``api.services.task_recovery``). The journal is
  a store handed plain rows; it does not know this class.
- Learned speeds (``eta.py``): when a task ends, each phase with a rate key
  folds its measured units per second into the profile for the next ETA.
- Finished tasks are dropped from memory ``settings.TASK_CLEANUP_THRESHOLD``
  seconds (default 3600) after they finish; PENDING and PROCESSING never are.
- The worker wrapper follows healthchecks' ``sendalerts``: it calls
  ``close_old_connections()`` before a job and closes the thread's database
  connections after it; task functions receive ids, never ORM objects.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable
from uuid import uuid4

from django.conf import settings
from django.db import close_old_connections, connections

from api.tasks import journal as journal_module
from api.tasks.eta import SpeedProfiles
from api.tasks.progress import TaskProgress, resolve_phases
from api.tasks.state import (
    STAGE_FINISHED,
    STAGE_PREPARING,
    TASK_CANCELLED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PENDING,
    TASK_PROCESSING,
    TERMINAL_STATUSES,
    TaskState,
    overall_and_eta,
    status_body,
    STATUS_JSON_TTL,
    status_json,
)

logger = logging.getLogger(__name__)

#: Default age in seconds after which finished tasks are dropped from memory (spec 03.02.12).
DEFAULT_CLEANUP_THRESHOLD = 3600

#: How often, in seconds, the background sweeper drops expired tasks (and prunes
#: the journal), in addition to the sweep piggybacked on every ``submit_task``.
CLEANUP_INTERVAL = 600

#: Most tasks listed per project by :meth:`TaskManager.list_project_tasks`.
PROJECT_TASKS_LIMIT = 20


class TaskManagerShutdownError(RuntimeError):
    """Raised by :meth:`TaskManager.submit_task` after :meth:`TaskManager.shutdown`."""


class DuplicateTaskError(RuntimeError):
    """A submit claimed a key an active task already holds; ``task_id`` is the holder."""

    def __init__(self, claim: str, task_id: str):
        super().__init__(f"{claim} is already claimed by active task {task_id}")
        self.claim = claim
        self.task_id = task_id


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
        # Start the worker now, in the creating thread: a thread inherits its creator's CPU
        # priority, and a request thread may run at a lower one (runserver's StoryFlowWSGIServer).
        self._executor.submit(_start_worker).result()
        self._tasks: dict[str, TaskState] = {}
        self._tasks_lock = threading.Lock()
        self._changed = threading.Condition(self._tasks_lock)
        self._claims: dict[str, str] = {}  # claim key -> task id
        self._by_project: dict[str, list[str]] = {}  # project id -> task ids, oldest first
        self._journaled: set[str] = set()
        self._is_shut_down = False
        self.speed_profiles = SpeedProfiles()
        self.journal = journal_module.TaskJournal(self._journal_rows)
        self._sweeper_stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="storyflow-task-sweeper", daemon=True)
        self._sweeper.start()
        _register_exit_hook(self._on_interpreter_exit)

    # ------------------------------------------------------------------ submit

    @property
    def cleanup_threshold(self) -> float:
        """Seconds a finished task is kept in memory: ``settings.TASK_CLEANUP_THRESHOLD`` (default 3600)."""
        return getattr(settings, "TASK_CLEANUP_THRESHOLD", DEFAULT_CLEANUP_THRESHOLD)

    def submit_task(
        self,
        task_fn: Callable[[], None],
        task_id: str | None = None,
        *,
        state: TaskState | None = None,
        claims: Iterable[str] = (),
        soft_claims: Iterable[str] = (),
        journal: bool = False,
    ) -> str:
        """Register a task as PENDING and queue ``task_fn`` on the worker thread.

        Args:
            task_fn: a no-argument callable run on the worker thread. Returning
                means success (COMPLETED, or CANCELLED if cancel was requested
                meanwhile); raising means FAILED with the error recorded.
            task_id: the id to register; ``task_<12 hex>`` when omitted
                (``state.task_id`` when a state is given).
            state: the task's initial :class:`TaskState` (kind, project, segments,
                params, planned phases); a bare one when omitted. A state
                rebuilt from the journal resumes an interrupted task.
            claims: dedupe keys this task holds while active; a key another
                active task holds makes the submit fail.
            soft_claims: keys taken only if free (a batch's segments: a single
                generate-audio for one of them then joins the batch); released
                one by one as items finish (``TaskProgress.item_done(release=...)``)
                and all at the end.
            journal: write the task behind to the database (needs migrated tables).

        Returns:
            The task id.

        Raises:
            TaskManagerShutdownError: the manager was shut down.
            DuplicateTaskError: an active task holds one of ``claims``.
            ValueError: ``task_id`` is already registered.
        """
        if state is None:
            state = TaskState(task_id=task_id or f"task_{uuid4().hex[:12]}")
        elif task_id is not None:
            state.task_id = task_id
        task_id = state.task_id
        claims = tuple(claims)
        soft_claims = tuple(soft_claims)
        # Outside the lock: the first lookup of a rate key reads the database.
        state.phases = resolve_phases(state.phases, self.speed_profiles)
        with self._tasks_lock:
            if self._is_shut_down:
                raise TaskManagerShutdownError("The task manager is shut down; restart the server to run new tasks.")
            if task_id in self._tasks:
                raise ValueError(f"Task id {task_id!r} is already registered.")
            for claim in claims:
                holder = self._claims.get(claim)
                if holder is not None:
                    raise DuplicateTaskError(claim, holder)
            state.status = TASK_PENDING
            state.claims = claims
            state.soft_claims = soft_claims
            for claim in claims:
                self._claims[claim] = task_id
            for claim in soft_claims:
                self._claims.setdefault(claim, task_id)
            self._tasks[task_id] = state
            if state.project_id:
                self._by_project.setdefault(state.project_id, []).append(task_id)
            if journal:
                self._journaled.add(task_id)
            state.touch()
        if journal:
            try:
                self.journal.create(task_id)
            except Exception:
                self._forget(task_id)
                raise
        try:
            self._executor.submit(self._run, task_id, task_fn)
        except RuntimeError as exc:  # executor shut down between the check and the submit
            self._forget(task_id)
            raise TaskManagerShutdownError("The task manager is shut down; restart the server to run new tasks.") from exc
        self._cleanup_old_tasks()
        return task_id

    def _forget(self, task_id: str) -> None:
        with self._tasks_lock:
            state = self._tasks.pop(task_id, None)
            self._journaled.discard(task_id)
            if state is not None:
                self._release_claims(state)
                if state.project_id in self._by_project:
                    self._by_project[state.project_id].remove(task_id)

    def _run(self, task_id: str, task_fn: Callable[[], None]) -> None:
        """Worker-thread wrapper: status transitions, error capture, DB connection hygiene."""
        close_old_connections()
        try:
            with self._tasks_lock:
                state = self._tasks.get(task_id)
                if state is None or state.status != TASK_PENDING:
                    return  # cancelled while queued (or cleaned up): never runs
                state.status = TASK_PROCESSING
                state.stage = STAGE_PREPARING
                state.current_step = "Starting"
                if state.started_at is None:
                    state.started_at = time.time()
                if state.phase is not None:
                    state.phase.start()
                self._notify(state)
            journal_module.set_current_task(task_id if self.is_journaled(task_id) else None)
            logger.info("Task %s started", task_id)
            error: dict[str, Any] | None = None
            try:
                task_fn()
            except Exception as exc:  # an unhandled error in a future would be swallowed silently
                logger.exception("Task %s failed: %s", task_id, exc)
                segment_id = exc.segment_id if isinstance(exc, TaskFailure) else None
                error = {"segment_id": segment_id, "error": str(exc) or exc.__class__.__name__}
            # Learned before the terminal status is visible: a finished task's speed is always in the profile.
            self._learn_speed(task_id)
            with self._tasks_lock:
                state = self._tasks.get(task_id)
                if state is None:
                    return
                if error is not None:
                    state.errors.append(error)
                    self._finish(state, TASK_FAILED)
                else:
                    self._finish(state, TASK_CANCELLED if state.cancel_requested else TASK_COMPLETED)
            logger.info("Task %s %s: %s", task_id, state.status.lower(), state.current_step)
        finally:
            journal_module.set_current_task(None)
            # This thread's connections only (Django connections are thread-local).
            connections.close_all()

    def _finish(self, state: TaskState, status: str) -> None:
        """Move a task to a terminal status (call under the lock).

        The final ``current_step`` is the service's outcome text for COMPLETED
        and CANCELLED (``TaskProgress.outcome``) and ``Failed: <last error>``.
        """
        if status != TASK_COMPLETED:
            state.final_progress = round(min(99.9, overall_and_eta(state, time.monotonic())[0]), 1)
        state.status = status
        state.stage = STAGE_FINISHED
        state.completed_at = time.time()
        if status == TASK_COMPLETED:
            state.current_step = state.outcome_completed
        elif status == TASK_CANCELLED:
            state.current_step = state.outcome_cancelled
        else:
            last = state.errors[-1]["error"] if state.errors else "unknown error"
            state.current_step = f"Failed: {last}"
        self._release_claims(state)
        self._notify(state)

    def _learn_speed(self, task_id: str) -> None:
        """Fold each phase's measured speed into its profile (phases with a rate key only)."""
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is None:
                return
            samples = [(p.rate_key, *p.measured()) for p in state.phases if p.rate_key is not None]
        for rate_key, units, seconds in samples:
            if units <= 0 or seconds <= 0:
                continue
            try:
                self.speed_profiles.record(rate_key[0], rate_key[1], units, seconds)
            except Exception:
                logger.exception("Could not update the speed profile %s", rate_key)

    # ------------------------------------------------------------------- reads

    def get_task_status(self, task_id: str) -> dict[str, Any] | None:
        """Return the task's status body (``state.status_body``), or None if not in memory.

        The body owns all its nested dicts and lists, so work done after the
        call never changes it.
        """
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            return None if state is None else status_body(state)

    def get_task_status_json(self, task_id: str, *, pace: bool = True) -> bytes | None:
        """The task's status body as JSON bytes (``state.status_json``: serialized once per
        change, so pollers cost no recomputation), or None if not in memory.

        Pacing (``pace``): at most ``STATUS_ANSWERS_PER_TICK`` answers per task are given
        at once in each 100 ms tick (``STATUS_JSON_TTL``, the body's own resolution); a
        request beyond that, which could only get the same bytes, waits (without CPU)
        for the task's next change or the next tick, at most 100 ms. Pollers at any
        sane rate (50 clients every 2 s are 2.5 per tick on average; even at random
        times more than 6 fall in a tick in ~1.4 % of ticks) are almost never held;
        clients in a tight loop are held to 6 answers per tick (60/s) instead of taking
        the CPU that synthesis needs. Measured with ``bench/status_benchmark.py
        --slowdown``, Intel Xeon, 2 cores, avx512_vnni + avx_vnni, 8 tight-loop pollers, each
        ratio against the unloaded batches of the same run: unpaced 1.24–1.29×; at 10 per
        tick median 1.15×; at 6 per tick median 1.03× (50 pollers every 2 s: 0.99×, p99 6.1 ms).
        """
        with self._changed:
            state = self._tasks.get(task_id)
            if state is None:
                return None
            if pace:
                tick = int(time.monotonic() / STATUS_JSON_TTL)
                answers = state.status_answers[1] if state.status_answers[0] == tick else 0
                if answers >= STATUS_ANSWERS_PER_TICK:
                    version = state.version
                    deadline = (tick + 1) * STATUS_JSON_TTL
                    while state.version == version and (remaining := deadline - time.monotonic()) > 0:
                        self._changed.wait(remaining)
                    state = self._tasks.get(task_id)
                    if state is None:
                        return None
                    tick = int(time.monotonic() / STATUS_JSON_TTL)
                    answers = state.status_answers[1] if state.status_answers[0] == tick else 0
                state.status_answers = (tick, answers + 1)
            return status_json(state)

    def wait_for_change(
        self, task_id: str, seen_version: int | None, timeout: float
    ) -> tuple[dict | None, int | None, bool]:
        """Block up to ``timeout`` seconds until the task's version differs from ``seen_version``.

        Returns:
            ``(status body, version, interpolating)`` after the change or the
            timeout — ``interpolating`` is True while a piece of work is in
            flight, so the body moves between changes — or ``(None, None,
            False)`` if the task is not in memory.
        """
        with self._changed:
            state = self._tasks.get(task_id)
            if state is not None and state.version == seen_version:
                self._changed.wait(timeout)
                state = self._tasks.get(task_id)
            if state is None:
                return None, None, False
            return status_body(state), state.version, state.interpolating

    def list_project_tasks(self, project_id: str) -> list[dict[str, Any]]:
        """Status bodies of the project's in-memory tasks, newest first (at most :data:`PROJECT_TASKS_LIMIT`)."""
        with self._tasks_lock:
            ids = self._by_project.get(str(project_id), [])[-PROJECT_TASKS_LIMIT:]
            return [status_body(self._tasks[tid]) for tid in reversed(ids) if tid in self._tasks]

    def is_cancelled(self, task_id: str) -> bool:
        """True if cancellation was requested for the task (False for unknown ids)."""
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            return bool(state and state.cancel_requested)

    def is_journaled(self, task_id: str) -> bool:
        """True if the task is written behind to the database."""
        with self._tasks_lock:
            return task_id in self._journaled

    def task_count(self) -> int:
        """Number of tasks currently tracked in memory."""
        with self._tasks_lock:
            return len(self._tasks)

    def _journal_rows(self, task_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The journal rows (``TaskRecord`` fields) of those tasks still in memory, as of now."""
        with self._tasks_lock:
            return [journal_module.record_fields(self._tasks[tid]) for tid in task_ids if tid in self._tasks]

    def progress(self, task_id: str) -> TaskProgress:
        """The progress reporter a task function reports through (see ``progress.py``)."""
        return TaskProgress(self, task_id)

    # ------------------------------------------------------------------ writes

    def _notify(self, state: TaskState) -> None:
        """After a change (under the lock): bump the version, wake streams, schedule a journal write."""
        state.touch()
        self._changed.notify_all()
        if state.task_id in self._journaled:
            self.journal.mark_dirty(state.task_id)

    def update_task_progress(self, task_id: str, current: int, total: int, **kwargs: Any) -> None:
        """Set the spec's ``progress`` to ``{"current", "total", "percentage", **kwargs}``.

        ``percentage`` is the integer ``int(current / total * 100)``, 0 when
        ``total`` is 0. Unknown task ids are ignored silently (the task may have
        been cleaned up).
        """
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is None:
                return
            state.progress = {
                "current": current,
                "total": total,
                "percentage": int((current / total) * 100) if total > 0 else 0,
                **kwargs,
            }
            self._notify(state)

    def update(self, task_id: str, mutate: Callable[[TaskState], None], *, notify: bool = True) -> bool:
        """Apply ``mutate(state)`` to the task under the lock, as one change; False if the task is unknown.

        This is how :class:`TaskProgress` changes a task. ``notify=False`` for
        changes nobody needs to see at once (they go out with the next one).
        """
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is None:
                return False
            mutate(state)
            if notify:
                self._notify(state)
            return True

    def add_completed_segment(self, task_id: str, segment_id: Any, result: dict[str, Any]) -> None:
        """Append ``{"segment_id", "audio_url", "duration"}`` to the task's completed segments.

        ``result`` is a generation result; its ``audio_url`` (the ``/media/...``
        URL path) is used, falling back to ``audio_path``. Unknown ids are ignored.
        """
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is not None:
                state.completed_segments.append(_completed_entry(segment_id, result))
                self._notify(state)

    def add_error(self, task_id: str, segment_id: Any, error_message: str) -> None:
        """Append ``{"segment_id", "error"}`` to the task's errors. Unknown ids are ignored."""
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is not None:
                state.errors.append(_error_entry(segment_id, error_message))
                self._notify(state)

    def cancel_task(self, task_id: str) -> dict[str, Any] | None:
        """Request cancellation; return the task's status body after it, or None if unknown.

        - PENDING: becomes CANCELLED at once and never runs.
        - PROCESSING: flagged; the task function sees :meth:`is_cancelled` at its
          next check (before the next segment) and the task ends CANCELLED.
        - Finished tasks are left as they are.
        """
        with self._tasks_lock:
            state = self._tasks.get(task_id)
            if state is None:
                return None
            if state.status == TASK_PENDING:
                state.cancel_requested = True
                self._finish(state, TASK_CANCELLED)
            elif state.status == TASK_PROCESSING and not state.cancel_requested:
                state.cancel_requested = True
                state.current_step = f"Cancelling: {state.current_step}"
                self._notify(state)
            return status_body(state)

    def _release_claim(self, claim: str, task_id: str) -> None:
        """Drop ``claim`` if ``task_id`` holds it (call under the lock)."""
        if self._claims.get(claim) == task_id:
            del self._claims[claim]

    def release_claim_locked(self, claim: str, task_id: str) -> None:
        """Drop ``claim`` if ``task_id`` holds it. Call with the lock held (inside :meth:`update`)."""
        self._release_claim(claim, task_id)

    def _release_claims(self, state: TaskState) -> None:
        """Drop every claim the task holds, hard and soft (call under the lock)."""
        for claim in (*state.claims, *state.soft_claims):
            self._release_claim(claim, state.task_id)

    def claim_holder(self, claim: str) -> str | None:
        """The id of the active task holding ``claim``, or None."""
        with self._tasks_lock:
            return self._claims.get(claim)

    # ---------------------------------------------------------------- lifetime

    def _cleanup_old_tasks(self) -> int:
        """Drop finished tasks older than :attr:`cleanup_threshold` from memory; return how many.

        Journaled tasks are flushed first, so their final state stays answerable
        from the database for ``TASK_RETENTION_SECONDS``.
        """
        threshold = self.cleanup_threshold
        now = time.time()
        with self._tasks_lock:
            expired = [
                tid
                for tid, state in self._tasks.items()
                if state.status in TERMINAL_STATUSES
                and state.completed_at is not None
                and (now - state.completed_at) > threshold
            ]
        if not expired:
            return 0
        if any(tid in self._journaled for tid in expired):
            self.journal.flush(timeout=5)
        with self._tasks_lock:
            for tid in expired:
                state = self._tasks.pop(tid, None)
                self._journaled.discard(tid)
                if state is not None and state.project_id in self._by_project:
                    ids = self._by_project[state.project_id]
                    ids.remove(tid)
                    if not ids:
                        del self._by_project[state.project_id]
        logger.info("Cleaned up %d expired task records", len(expired))
        return len(expired)

    def _sweep_forever(self) -> None:
        while not self._sweeper_stop.wait(CLEANUP_INTERVAL):
            try:
                self._cleanup_old_tasks()
                self.journal.prune()
            except Exception:  # the sweeper must never die
                logger.exception("Task cleanup failed")

    def shutdown(self, wait: bool = True, *, interrupted: bool = False) -> None:
        """Stop accepting tasks, cancel queued ones, and stop the worker.

        PENDING tasks become CANCELLED; a PROCESSING task is asked to cancel and,
        with ``wait=True``, its current segment finishes before this returns.
        Later :meth:`submit_task` calls raise :class:`TaskManagerShutdownError`.

        With ``interrupted=True`` (the server is exiting) the journal is flushed
        and stopped first, so the database keeps those tasks PENDING/PROCESSING
        and they resume at the next start; segment results finished meanwhile
        are still recorded.
        """
        if interrupted:
            self.journal.stop(flush=True)
        with self._tasks_lock:
            self._is_shut_down = True
            for state in self._tasks.values():
                if state.status == TASK_PENDING:
                    state.cancel_requested = True
                    self._finish(state, TASK_CANCELLED)
                elif state.status == TASK_PROCESSING:
                    state.cancel_requested = True
        self._sweeper_stop.set()
        self._executor.shutdown(wait=wait, cancel_futures=True)
        if not interrupted:
            self.journal.stop(flush=True)

    def _on_interpreter_exit(self) -> None:
        """At interpreter exit (Ctrl-C on the server): stop after the current segment, not after the batch."""
        if not self._is_shut_down:
            logger.info("Shutting down: the running task stops after its current segment and resumes at the next start")
            self.shutdown(wait=False, interrupted=True)


def _completed_entry(segment_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "segment_id": str(segment_id),
        "audio_url": result.get("audio_url") or result.get("audio_path") or "",
        "duration": result.get("duration") or 0,
    }


def _error_entry(segment_id: Any, message: str) -> dict[str, Any]:
    return {"segment_id": None if segment_id is None else str(segment_id), "error": str(message)}


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


#: Status answers per task given at once in one 100 ms tick (``get_task_status_json``);
#: each answer costs the server and its client ~1.5 ms of CPU (a new connection, a thread).
STATUS_ANSWERS_PER_TICK = 6


def _start_worker() -> None:
    """Run once on the new worker thread so it exists from the start (see ``TaskManager._init``)."""


def get_task_manager() -> TaskManager:
    """Return the process-wide :class:`TaskManager`."""
    return TaskManager()
