"""The SSE endpoint in-process (live_server, fake engine): heartbeats while queued, 404, event format.

The real-model stream with a disconnect and a Last-Event-ID reconnect through
``manage.py runserver`` is in ``test_task_server.py``.
"""
from __future__ import annotations

import json
import threading

import pytest
import requests

from api.tasks.events import format_event, parse_last_event_id
from api.tests.conftest import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_event_format_and_last_event_id_parsing():
    text = format_event(7, {"a": 1})
    assert text == 'id: 7\nevent: status\ndata: {"a":1}\n\n'
    assert parse_last_event_id("12") == 12
    assert parse_last_event_id(None) == 0
    assert parse_last_event_id("garbage") == 0


def test_queued_task_stream_sends_heartbeats_then_runs_to_the_terminal_event(live_server, fake_engine, project, segments, settings):
    settings.SSE_HEARTBEAT_SECONDS = 0.3
    fake_engine.gate = threading.Event()
    first = requests.post(f"{live_server.url}/api/segments/{segments[0].id}/generate-audio/", timeout=10).json()["task_id"]
    queued = requests.post(f"{live_server.url}/api/segments/{segments[1].id}/generate-audio/", timeout=10).json()["task_id"]
    lines = []
    with requests.get(f"{live_server.url}/api/tasks/{queued}/events/", stream=True, timeout=30) as response:
        assert response.headers["Cache-Control"] == "no-cache"
        for line in response.iter_lines(decode_unicode=True):
            lines.append(line)
            if sum(1 for l in lines if l == ": heartbeat") == 2 and not fake_engine.gate.is_set():
                fake_engine.gate.set()  # let the queue move once two heartbeats came
    data = [json.loads(l[len("data: "):]) for l in lines if l.startswith("data: ")]
    assert data[0]["status"] == "PENDING" and data[0]["stage"] == "queued"
    assert data[-1]["status"] == "COMPLETED"
    ids = [int(l[len("id: "):]) for l in lines if l.startswith("id: ")]
    assert ids == list(range(1, len(ids) + 1))
    assert wait_for_task(first)["status"] == "COMPLETED"


def test_unknown_task_stream_is_404_json(live_server, db):
    response = requests.get(f"{live_server.url}/api/tasks/ghost/events/", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "Task not found"}
