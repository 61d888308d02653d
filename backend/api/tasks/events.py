"""Server-Sent Events for a task's status (``GET /api/tasks/{id}/events/``).

Wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html)::

    retry: 2000
    id: 7
    event: status
    data: {...status body...}

    : heartbeat

- The first event is the current state, sent at once; a client reconnecting
  with ``Last-Event-ID: n`` gets it too, so nothing is lost (every event
  carries the whole state, not a delta) and ids continue from ``n + 1``.
- Then one event per change of the task (each chunk, segment and transition),
  and, while a piece of work is in flight (a chunk being synthesized), the
  interpolated ``overall_progress``/``eta_seconds`` at most every
  :data:`TICK_SECONDS`. Otherwise the stream sleeps until the next change.
- A ``: heartbeat`` comment after ``settings.SSE_HEARTBEAT_SECONDS`` (15 s)
  without an event keeps proxies from closing an idle stream.
- The stream ends after the event with a terminal status.

Each open stream holds one server thread (the threaded runserver gives each
connection its own), waiting on the TaskManager's change condition.
"""
from __future__ import annotations

import json
import time
from typing import Iterator

from django.conf import settings

from api.tasks import journal
from api.tasks.manager import TaskManager
from api.tasks.state import TERMINAL_STATUSES

#: Least seconds between two interpolation events (the product documents ask for 100 ms updates).
TICK_SECONDS = 0.1
DEFAULT_HEARTBEAT_SECONDS = 15.0
#: Reconnection delay suggested to EventSource clients, in milliseconds.
RETRY_MS = 2000


def heartbeat_seconds() -> float:
    """``settings.SSE_HEARTBEAT_SECONDS`` (default 15)."""
    return float(getattr(settings, "SSE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))


def format_event(event_id: int, body: dict, event: str = "status") -> str:
    """One SSE event: ``id``, ``event`` and a one-line JSON ``data`` field, then a blank line."""
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def parse_last_event_id(value: str | None) -> int:
    """The numeric ``Last-Event-ID`` header value, or 0 when absent or malformed."""
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return 0


def stream_task_events(
    manager: TaskManager,
    task_id: str,
    first_body: dict,
    first_version: int | None,
    last_event_id: int = 0,
    first_interpolating: bool = False,
) -> Iterator[str]:
    """Yield the SSE text of a task until its terminal event (see the module docstring).

    Args:
        manager: the TaskManager holding the task.
        task_id: the task to follow.
        first_body: its current status body, and ``first_version`` its version
            (from ``manager.wait_for_change(task_id, None, 0)``; None for a
            task answered from the journal, which is sent once), and
            ``first_interpolating`` whether it was moving then.
        last_event_id: the client's ``Last-Event-ID`` (0 on a first connect).
    """
    next_id = last_event_id + 1
    yield f"retry: {RETRY_MS}\n\n"
    yield format_event(next_id, first_body)
    next_id += 1
    if first_body["status"] in TERMINAL_STATUSES or first_version is None:
        return
    sent, version, interpolating = first_body, first_version, first_interpolating
    last_sent_at = time.monotonic()
    heartbeat = heartbeat_seconds()
    while True:
        timeout = TICK_SECONDS if interpolating else min(heartbeat, 1.0)
        body, new_version, now_interpolating = manager.wait_for_change(task_id, version, timeout)
        now = time.monotonic()
        if body is None:  # dropped from memory (cleanup): the journal has its final state
            final = journal.load_status_body(task_id)
            if final is not None:
                yield format_event(next_id, final)
            return
        changed = new_version != version
        version = new_version
        moved = interpolating and (
            body["overall_progress"] != sent["overall_progress"] or body["eta_seconds"] != sent["eta_seconds"]
        )
        interpolating = now_interpolating
        if changed or (moved and now - last_sent_at >= TICK_SECONDS):
            yield format_event(next_id, body)
            next_id += 1
            sent, last_sent_at = body, now
            if body["status"] in TERMINAL_STATUSES:
                return
        elif now - last_sent_at >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent_at = now
