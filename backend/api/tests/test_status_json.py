"""The status path serializes a task's body once per change (issue 10, item 4)."""
import json

import pytest

from api.tasks.state import STATUS_JSON_TTL, TASK_COMPLETED, TASK_PROCESSING, TaskState, status_body, status_json


def test_status_json_is_the_status_body_and_is_reused_between_changes():
    state = TaskState(task_id="t1", status=TASK_PROCESSING)
    first = status_json(state, now_mono=100.0)
    assert json.loads(first) == json.loads(json.dumps(status_body(state, now_mono=100.0)))
    # another poller inside the same 100 ms slot gets the very same bytes (no json.dumps)
    assert status_json(state, now_mono=100.0 + STATUS_JSON_TTL / 2) is first


def test_a_change_or_a_new_tick_reserializes():
    state = TaskState(task_id="t1", status=TASK_PROCESSING)
    first = status_json(state, now_mono=100.0)
    state.current_step = "Synthesizing segment 2 of 3"
    state.touch()
    changed = status_json(state, now_mono=100.0)
    assert changed is not first
    assert json.loads(changed)["current_step"] == "Synthesizing segment 2 of 3"
    assert status_json(state, now_mono=100.0 + 3 * STATUS_JSON_TTL) is not changed


def test_a_finished_task_is_serialized_once():
    state = TaskState(task_id="t1", status=TASK_COMPLETED)
    first = status_json(state, now_mono=100.0)
    assert status_json(state, now_mono=5000.0) is first
    assert json.loads(first)["status"] == TASK_COMPLETED


@pytest.mark.django_db
def test_status_endpoint_sends_the_cached_bytes(client, task_manager):
    import threading

    gate = threading.Event()
    task_id = task_manager.submit_task(lambda: gate.wait(5))
    try:
        response = client.get(f"/api/tasks/{task_id}/status/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.content == task_manager.get_task_status_json(task_id)
    finally:
        gate.set()
    assert client.get("/api/tasks/no-such-task/status/").json() == {"error": "Task not found"}


def _at_tick_start() -> None:
    """Sleep until just after a 100 ms tick boundary, so a burst of calls fits in one tick."""
    import time

    while (time.monotonic() % STATUS_JSON_TTL) > 0.005:
        time.sleep(0.001)


def _submit_running(task_manager, gate) -> str:
    """Submit a task that waits for ``gate``; return its id once it is PROCESSING.

    A change (PENDING -> PROCESSING when the worker picks the task up) releases a held
    status call at once, by design; under load it came mid-tick and broke the pacing tests.
    """
    import time

    task_id = task_manager.submit_task(lambda: gate.wait(5))
    deadline = time.monotonic() + 5
    while json.loads(task_manager.get_task_status_json(task_id, pace=False))["status"] != "PROCESSING":
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.001)
    return task_id


@pytest.mark.django_db
def test_a_tight_loop_is_held_to_the_next_tick(task_manager):
    import threading
    import time

    from api.tasks.manager import STATUS_ANSWERS_PER_TICK

    gate = threading.Event()
    task_id = _submit_running(task_manager, gate)
    try:
        _at_tick_start()
        started = time.monotonic()
        for _ in range(STATUS_ANSWERS_PER_TICK):
            task_manager.get_task_status_json(task_id)
        assert time.monotonic() - started < 0.02  # the burst is answered at once
        tick_end = (int(started / STATUS_JSON_TTL) + 1) * STATUS_JSON_TTL
        body = task_manager.get_task_status_json(task_id)  # one too many in this tick: waits
        assert time.monotonic() >= tick_end - 0.001
        assert json.loads(body)["task_id"] == task_id
        # unpaced reads (internal callers) never wait
        _at_tick_start()
        started = time.monotonic()
        for _ in range(3 * STATUS_ANSWERS_PER_TICK):
            task_manager.get_task_status_json(task_id, pace=False)
        assert time.monotonic() - started < 0.05
    finally:
        gate.set()


@pytest.mark.django_db
def test_a_held_request_is_answered_at_the_next_change(task_manager):
    import threading
    import time

    from api.tasks.manager import STATUS_ANSWERS_PER_TICK

    gate = threading.Event()
    task_id = _submit_running(task_manager, gate)
    try:
        _at_tick_start()
        for _ in range(STATUS_ANSWERS_PER_TICK):
            task_manager.get_task_status_json(task_id)
        answered = {}

        def held():
            body = task_manager.get_task_status_json(task_id)
            answered["at"], answered["body"] = time.monotonic(), json.loads(body)

        thread = threading.Thread(target=held)
        thread.start()
        time.sleep(0.01)
        assert thread.is_alive()  # held
        progress = task_manager.progress(task_id)
        changed_at = time.monotonic()
        progress.advance(0, step="Synthesizing chunk 2 of 5")
        thread.join(1)
        assert answered["at"] - changed_at < 0.05  # released by the change, not by the tick
        assert answered["body"]["current_step"] == "Synthesizing chunk 2 of 5"
    finally:
        gate.set()
