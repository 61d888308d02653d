"""A task's live state (:class:`TaskState`), its weighted phases (:class:`Phase`) and the status body.

The runner (``manager.py``) keeps one ``TaskState`` per task in its lock-guarded
registry. ``TaskState`` has ``__slots__`` (10,000 tracked tasks must fit in
30 MB) and is only touched under the runner's lock; readers get
:func:`status_body`, a plain dict computed at read time, so interpolated values
(``overall_progress``, ``eta_seconds``) are fresh on every read.

Nothing here knows what a segment, a batch or an export is. A task's work is
divided into **phases** (``synthesis`` in characters, ``encoding`` in seconds
of audio, …), each with a weight (its share of ``overall_progress``), a unit
total, the units done, and optionally a *rate key* under which its speed
(units per wall second) is learned across tasks (``eta.py``). The ETA is the
sum over the phases still to run of their remaining units divided by their
expected rate.

Status body (spec ``audio-generation-api.md`` §3.2.3 fields first, then
StoryFlow's progress fields)::

    {
      "task_id": str, "status": "PENDING|PROCESSING|COMPLETED|FAILED|CANCELLED",
      "progress": {"current": int, "total": int, "percentage": int, ...},
      "completed_segments": [{"segment_id", "audio_url", "duration"}],
      "errors": [{"segment_id": str | None, "error": str}],
      "kind": "segment|batch|export|task", "project_id": str | None, "segment_id": str | None,
      "segment_ids": [str],
      "stage": "queued|preparing|synthesizing|writing|assembling|encoding|captions|packaging|finished",
      "current_step": str,
      "overall_progress": float,   # 0-100, weighted over the phases, includes the piece in flight
      "eta_seconds": float | None, # seconds left; None until every remaining phase has a speed
      "elapsed_seconds": float,    # since the task started (0 while queued)
      "audio_seconds": float,      # audio generated so far
      "realtime_factor": float | None,  # wall seconds per audio second of finished segments
      "created_at": str, "started_at": str | None, "completed_at": str | None,  # ISO 8601, UTC
      "result": dict | None,       # what a finished task made (an export: {"export_id", "url"})
    }
"""
from __future__ import annotations

import json
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
STAGE_ASSEMBLING = "assembling"
STAGE_ENCODING = "encoding"
STAGE_CAPTIONS = "captions"
STAGE_PACKAGING = "packaging"
STAGE_FINISHED = "finished"
STAGES = (
    STAGE_QUEUED, STAGE_PREPARING, STAGE_SYNTHESIZING, STAGE_WRITING, STAGE_ASSEMBLING,
    STAGE_ENCODING, STAGE_CAPTIONS, STAGE_PACKAGING, STAGE_FINISHED,
)


@dataclass(slots=True)
class Phase:
    """One weighted part of a task's work, measured in its own units.

    Attributes:
        name: e.g. ``"synthesis"`` (characters) or ``"encoding"`` (seconds of audio).
        units_total: units of work in the phase (> 0 to count).
        weight: share of ``overall_progress`` (the weights of a task are normalized).
        rate_key: ``(key, factor)`` under which the phase's speed is learned
            (``SpeedProfiles``), e.g. ``("jf_alpha", 1.0)``; None = not learned.
        default_rate: units per second assumed before anything is measured or
            learned; None = the ETA stays unknown until a speed is known.
        prior_rate: the learned speed looked up when the phase was planned.
        units_done: units finished (items done or failed).
        base_units: units already done when this run of the phase started
            (a resumed task); they are not part of the measured speed.
        unmeasured_units: units finished without real work (failed items), kept
            out of the measured speed.
        started_mono / last_mono: monotonic seconds of the phase's start in this
            run and of its last progress report.
        inflight_units / inflight_mono: expected units of the piece now being
            worked on and when it started (interpolated between reports).
    """

    name: str
    units_total: float = 0.0
    weight: float = 1.0
    rate_key: tuple[str, float] | None = None
    default_rate: float | None = None
    prior_rate: float | None = None
    units_done: float = 0.0
    base_units: float = 0.0
    unmeasured_units: float = 0.0
    started_mono: float | None = None
    last_mono: float | None = None
    inflight_units: float = 0.0
    inflight_mono: float | None = None

    def start(self, now_mono: float | None = None) -> None:
        """Start (or restart) this run of the phase: timers from now, units so far unmeasured."""
        now = time.monotonic() if now_mono is None else now_mono
        self.started_mono = self.last_mono = now
        self.base_units = self.units_done
        self.unmeasured_units = 0.0
        self.inflight_units, self.inflight_mono = 0.0, None

    def measured(self) -> tuple[float, float]:
        """``(units, seconds)`` of real work measured in this run of the phase."""
        if self.started_mono is None or self.last_mono is None:
            return 0.0, 0.0
        units = self.units_done - self.base_units - self.unmeasured_units
        return max(0.0, units), max(0.0, self.last_mono - self.started_mono)

    def rate(self) -> float | None:
        """Expected units per second: learned prior blended with this run's measurement, else the default."""
        units, seconds = self.measured()
        rate = blend_speed(self.prior_rate, units, seconds)
        return rate if rate is not None else self.default_rate

    def done_now(self, now_mono: float, rate: float | None) -> float:
        """Units counted as done now, with the piece in flight interpolated at ``rate``."""
        done = self.units_done
        if self.inflight_mono is not None and self.inflight_units > 0:
            done += interpolate_inflight(now_mono - self.inflight_mono, rate, self.inflight_units)
        return min(done, self.units_total)

    def to_json(self) -> dict[str, Any]:
        """The phase as journaled (plan and progress; timers are per run and not kept)."""
        return {
            "name": self.name, "units_total": self.units_total, "weight": self.weight,
            "rate_key": list(self.rate_key) if self.rate_key else None, "default_rate": self.default_rate,
            "units_done": self.units_done,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Phase":
        """Inverse of :meth:`to_json`."""
        key = data.get("rate_key")
        return cls(
            name=data["name"], units_total=float(data.get("units_total") or 0.0), weight=float(data.get("weight") or 0.0),
            rate_key=(str(key[0]), float(key[1])) if key else None, default_rate=data.get("default_rate"),
            units_done=float(data.get("units_done") or 0.0),
        )


@dataclass(slots=True)
class TaskState:
    """Everything the runner knows about one task. Mutated only under the runner's lock.

    Times: ``*_at`` are wall-clock ``time.time()`` seconds; ``*_mono`` are
    ``time.monotonic()`` seconds, used for durations.

    ``kind``, ``project_id``, ``segment_id`` and ``segment_ids`` describe what the
    task is about (they are status body fields); ``params`` holds what its
    service needs to run it again after a restart (voice, speed, format, …).
    """

    task_id: str
    kind: str = "task"
    project_id: str | None = None
    segment_id: str | None = None
    segment_ids: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    status: str = TASK_PENDING
    stage: str = STAGE_QUEUED
    current_step: str = "Queued"
    progress: dict[str, Any] = field(default_factory=lambda: {"current": 0, "total": 0, "percentage": 0})
    completed_segments: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    cancel_requested: bool = False
    claims: tuple[str, ...] = ()
    soft_claims: tuple[str, ...] = ()
    #: Bumped on every change; the event stream waits for it to move.
    version: int = 0
    phases: list[Phase] = field(default_factory=list)
    phase_index: int = 0
    #: Wall seconds spent on the items that produced audio, and that audio's length.
    work_seconds: float = 0.0
    audio_seconds: float = 0.0
    #: Texts for the final ``current_step``, set by the service as it goes.
    outcome_completed: str = "Completed"
    outcome_cancelled: str = "Cancelled"
    #: Frozen overall_progress of a task that ended (FAILED/CANCELLED keep where they stopped).
    final_progress: float | None = None
    #: ``((version, tick), JSON bytes)`` of the last status body served (``status_json``).
    status_cache: tuple[tuple, bytes] | None = field(default=None, repr=False, compare=False)
    #: ``(tick, answers)``: status answers given in the current 100 ms tick (``TaskManager`` pacing).
    status_answers: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)

    def touch(self) -> None:
        """Mark a change (the event stream sends a new event)."""
        self.version += 1

    @property
    def interpolating(self) -> bool:
        """True while a piece of work is in flight: progress and ETA move between reports."""
        phase = self.phase
        return phase is not None and phase.inflight_mono is not None and self.status == TASK_PROCESSING

    @property
    def phase(self) -> Phase | None:
        """The phase now running (or planned first), None if the task planned none."""
        if 0 <= self.phase_index < len(self.phases):
            return self.phases[self.phase_index]
        return None


def iso(ts: float | None) -> str | None:
    """``time.time()`` seconds -> ISO 8601 UTC with milliseconds, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def overall_and_eta(state: TaskState, now_mono: float) -> tuple[float, float | None]:
    """``(overall progress 0–100, ETA seconds or None)`` of a running or queued task.

    Overall progress is the weighted mean of the phases' done fractions (the
    piece in flight interpolated); the ETA sums each unfinished phase's
    remaining units over its expected rate, and is None if one of them has no
    rate yet. A task without phases is at 0 with no ETA.
    """
    total_weight = sum(p.weight for p in state.phases if p.units_total > 0)
    if total_weight <= 0:
        return 0.0, None
    overall = 0.0
    eta: float | None = 0.0
    for phase in state.phases:
        if phase.units_total <= 0:
            continue
        rate = phase.rate()
        done = phase.done_now(now_mono, rate)
        overall += phase.weight / total_weight * (done / phase.units_total)
        remaining = phase.units_total - done
        if eta is not None and remaining > 0:
            left = estimate_eta(remaining, rate)
            eta = None if left is None else eta + left
    return overall * 100.0, (None if eta is None else round(eta, 1))


def status_body(state: TaskState, now: float | None = None, now_mono: float | None = None) -> dict[str, Any]:
    """The task's status body (see the module docstring), computed at ``now``.

    The returned dict owns all its nested dicts and lists. Call under the
    runner's lock (it reads the live state).
    """
    now = time.time() if now is None else now
    now_mono = time.monotonic() if now_mono is None else now_mono

    if state.status == TASK_COMPLETED:
        overall, eta = 100.0, 0.0
    elif state.status in TERMINAL_STATUSES:
        overall, eta = (state.final_progress or 0.0), None
    else:
        overall, eta = overall_and_eta(state, now_mono)
        overall = min(99.9, overall)

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
        "result": dict(state.result) if state.result is not None else None,
    }


#: How long a live task's serialized status body is reused, seconds: the event stream's
#: interpolation tick (100 ms), finer than any field of the body moves (``elapsed_seconds``
#: and ``overall_progress`` are rounded to 0.1).
STATUS_JSON_TTL = 0.1


def status_json(state: TaskState, now_mono: float | None = None) -> bytes:
    """``status_body(state)`` as compact UTF-8 JSON bytes, serialized once per change.

    The bytes are cached on the state under ``(version, tick)``: every change goes through
    the runner's ``_notify``, which bumps ``version`` (the event stream relies on the same),
    and ``tick`` is the 100 ms slot (``STATUS_JSON_TTL``) of a live task, None for a
    finished one. So any number of pollers between two changes cost one
    ``json.dumps``; a live body is at most 100 ms old. The JSON is what DRF's
    ``JSONRenderer`` writes (compact separators, non-ASCII kept). Call under the
    runner's lock.
    """
    now_mono = time.monotonic() if now_mono is None else now_mono
    tick = None if state.status in TERMINAL_STATUSES else int(now_mono / STATUS_JSON_TTL)
    key = (state.version, tick)
    cached = state.status_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    data = encode_status(status_body(state, now_mono=now_mono))
    state.status_cache = (key, data)
    return data


def encode_status(body: dict[str, Any]) -> bytes:
    """A status body as the JSON bytes the status endpoint sends (DRF ``JSONRenderer``'s form)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
