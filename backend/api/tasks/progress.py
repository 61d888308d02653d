"""The small interface a task's work reports through: :class:`TaskProgress`.

A service's task function gets one from the runner
(``get_task_manager().progress(task_id)``) and never touches the registry or the
lock itself. Everything it says is one atomic change of the task's state (readers
and the event stream never see half of it)::

    progress.plan([Phase("synthesis", units_total=1200, rate_key=("jf_alpha", 1.0))])
    progress.phase("synthesis")
    progress.advance(done=480, inflight=120,      # units of the current phase
                     stage="synthesizing", step="Synthesizing segment 3 of 10 (chunk 2 of 4)")
    progress.item_done(segment_id, {"segment_id", "audio_url", "duration"}, done=900, seconds=4.1, audio_seconds=19.2)
    progress.item_failed(segment_id, "why", done=1200, unmeasured=300)
    if progress.cancelled: ...

The shape follows the task-system design note (``shared/design/task-system.md``
§1) and Celery's ``Task.update_state``: the work reports through a narrow
interface and never learns how the status is shown.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Protocol

from api.tasks.state import Phase, TaskState

#: Units per second assumed for weighting a phase that has neither a learned
#: nor a default rate (only its share of ``overall_progress`` depends on it).
FALLBACK_WEIGHT_RATE = 1.0


class Runner(Protocol):
    """What a reporter needs of the runner (``TaskManager`` provides it); no import of the runner here."""

    speed_profiles: Any

    def update(self, task_id: str, mutate: Callable[[TaskState], None], *, notify: bool = True) -> bool: ...

    def is_cancelled(self, task_id: str) -> bool: ...

    def update_task_progress(self, task_id: str, current: int, total: int, **kwargs: Any) -> None: ...

    def release_claim_locked(self, claim: str, task_id: str) -> None: ...


class TaskProgress:
    """A task's progress reporter, bound to one task id of one runner.

    Calls for a task the runner no longer knows are ignored (it may have been
    cleaned up), so a reporter never raises because of the task's life cycle.
    """

    def __init__(self, runner: Runner, task_id: str):
        self._runner = runner
        self.task_id = task_id

    # ---------------------------------------------------------------- reads

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested: stop at the next safe point."""
        return self._runner.is_cancelled(self.task_id)

    # ----------------------------------------------------------------- plan

    def plan(self, phases: Iterable[Phase]) -> None:
        """Declare the task's phases (replacing any earlier plan) and start at the first.

        Each phase's learned speed is looked up by its ``rate_key`` and its
        weight becomes its expected share of the wall time (units / rate, using
        the learned rate, else ``default_rate``), so ``overall_progress`` moves evenly.
        Units already done (``units_done``, e.g. a resumed batch) are kept out
        of the measured speed.
        """
        phases = resolve_phases(phases, self._runner.speed_profiles)

        def apply(state: TaskState) -> None:
            state.phases = phases
            state.phase_index = 0
            if phases:
                phases[0].start()

        self._runner.update(self.task_id, apply)

    def phase(self, name: str) -> None:
        """Enter the planned phase ``name``; the phases before it count as done.

        Raises:
            KeyError: no planned phase has that name.
        """

        def apply(state: TaskState) -> None:
            names = [p.name for p in state.phases]
            index = names.index(name) if name in names else None
            if index is None:
                raise KeyError(f"No phase {name!r} in the plan {names}")
            for earlier in state.phases[:index]:
                earlier.units_done = earlier.units_total
                earlier.inflight_units, earlier.inflight_mono = 0.0, None
            state.phase_index = index
            state.phases[index].start()

        self._runner.update(self.task_id, apply)

    # ------------------------------------------------------------- progress

    def advance(
        self,
        done: float,
        total: float | None = None,
        *,
        inflight: float = 0.0,
        stage: str | None = None,
        step: str | None = None,
    ) -> None:
        """Units done so far in the current phase (and its new total, if it changed).

        ``inflight``: the expected units of the piece now starting (a chunk being
        synthesized); progress moves through it, interpolated at the expected
        speed, until the next report. ``stage``/``step`` change in the same update.
        """

        def apply(state: TaskState) -> None:
            phase = state.phase
            if phase is not None:
                now = time.monotonic()
                if total is not None:
                    phase.units_total = max(0.0, float(total))
                phase.units_done = max(0.0, min(float(done), phase.units_total or float(done)))
                phase.last_mono = now
                phase.inflight_units = max(0.0, float(inflight))
                phase.inflight_mono = now if inflight > 0 else None
            if stage is not None:
                state.stage = stage
            if step is not None:
                state.current_step = step

        self._runner.update(self.task_id, apply)

    def item_done(
        self,
        item_id: Any,
        entry: dict[str, Any],
        *,
        done: float | None = None,
        seconds: float = 0.0,
        audio_seconds: float = 0.0,
        release: str | None = None,
    ) -> None:
        """An item (a segment) finished: append ``entry`` to ``completed_segments``.

        ``done``: the current phase's units done after this item (absolute, as
        in :meth:`advance`); ``seconds`` of wall time produced ``audio_seconds``
        of audio (the real-time factor); the claim ``release`` (the item's
        dedupe key) is dropped in the same change.
        """

        def apply(state: TaskState) -> None:
            state.completed_segments.append(dict(entry))
            state.audio_seconds += float(audio_seconds or 0.0)
            state.work_seconds += float(seconds or 0.0)
            _finish_item(state, done)
            if release:
                self._runner.release_claim_locked(release, self.task_id)

        self._runner.update(self.task_id, apply)

    def item_failed(
        self,
        item_id: Any,
        message: str,
        *,
        done: float | None = None,
        unmeasured: float = 0.0,
        release: str | None = None,
    ) -> None:
        """An item failed: append ``{"segment_id", "error"}`` to ``errors``.

        ``done`` as in :meth:`item_done`; ``unmeasured``: the item's units,
        which count as done but not as measured work (a failure is fast).
        """

        def apply(state: TaskState) -> None:
            state.errors.append({"segment_id": None if item_id is None else str(item_id), "error": str(message)})
            _finish_item(state, done)
            if state.phase is not None:
                state.phase.unmeasured_units += float(unmeasured)
            if release:
                self._runner.release_claim_locked(release, self.task_id)

        self._runner.update(self.task_id, apply)

    def set_progress(self, current: int, total: int, **extra: Any) -> None:
        """The spec's ``progress`` object (``update_task_progress``)."""
        self._runner.update_task_progress(self.task_id, current, total, **extra)

    def outcome(self, *, completed: str | None = None, cancelled: str | None = None) -> None:
        """The ``current_step`` texts to show if the task ends COMPLETED or CANCELLED now."""

        def apply(state: TaskState) -> None:
            if completed is not None:
                state.outcome_completed = completed
            if cancelled is not None:
                state.outcome_cancelled = cancelled

        self._runner.update(self.task_id, apply, notify=False)

    def set_result(self, result: dict[str, Any]) -> None:
        """What the task made (status body ``result``), e.g. ``{"export_id", "url"}``."""

        def apply(state: TaskState) -> None:
            state.result = dict(result)

        self._runner.update(self.task_id, apply)


def resolve_phases(phases: Iterable[Phase], speed_profiles) -> list[Phase]:
    """Look up each phase's learned speed (``speed_profiles.lookup(*rate_key)``) and weigh the
    phases by their expected wall time (units / rate).

    Reads the database the first time a rate key is seen: call outside the runner's lock.
    """
    phases = list(phases)
    for phase in phases:
        if phase.rate_key is not None:
            phase.prior_rate = speed_profiles.lookup(*phase.rate_key)
    for phase in phases:
        rate = phase.prior_rate or phase.default_rate or FALLBACK_WEIGHT_RATE
        phase.weight = phase.units_total / rate if phase.units_total > 0 else 0.0
    return phases


def _finish_item(state: TaskState, done: float | None) -> None:
    phase = state.phase
    if phase is None:
        return
    if done is not None:
        phase.units_done = max(0.0, min(float(done), phase.units_total))
    phase.last_mono = time.monotonic()
    phase.inflight_units, phase.inflight_mono = 0.0, None
