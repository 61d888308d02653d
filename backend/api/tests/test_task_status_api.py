"""GET /api/tasks/{id}/status/ and POST /api/tasks/{id}/cancel/ — spec §3.2.3 and §8.3."""
import threading

import pytest

from api.tasks import TERMINAL_STATUSES
from api.tests.conftest import wait_for_task, wait_until
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(api_client, task_id):
    return api_client.get(f"/api/tasks/{task_id}/status/")


SPEC_FIELDS = ["task_id", "status", "progress", "completed_segments", "errors"]
PROGRESS_FIELDS = {
    "kind", "project_id", "segment_id", "segment_ids", "stage", "current_step", "overall_progress",
    "eta_seconds", "elapsed_seconds", "audio_seconds", "realtime_factor", "created_at", "started_at", "completed_at",
    "result",
}


def test_status_body_has_the_spec_fields_first_then_only_the_documented_extras(api_client, fake_engine, project, segments):
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    response = status_of(api_client, task_id)
    assert response.status_code == 200
    body = response.json()
    assert list(body)[:5] == SPEC_FIELDS
    assert set(body) - set(SPEC_FIELDS) == PROGRESS_FIELDS
    assert body["task_id"] == task_id
    assert body["status"] in {"PENDING", "PROCESSING", "COMPLETED"}
    assert {"current", "total", "percentage"} <= set(body["progress"])
    wait_for_task(task_id)


def test_unknown_task_is_404(api_client, db):
    response = status_of(api_client, "tts_nothing_here")
    assert response.status_code == 404
    assert response.json() == {"error": "Task not found"}


def test_cancel_unknown_task_is_404(api_client, db):
    response = api_client.post("/api/tasks/tts_nothing_here/cancel/")
    assert response.status_code == 404
    assert response.json() == {"error": "Task not found"}


def test_transitions_pending_processing_completed(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    first = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)
    second = api_client.post(f"/api/segments/{segments[1].id}/generate-audio/").json()["task_id"]
    assert status_of(api_client, first).json()["status"] == "PROCESSING"
    assert status_of(api_client, second).json()["status"] == "PENDING"  # queued behind the first
    fake_engine.gate.set()
    assert wait_for_task(first)["status"] == "COMPLETED"
    assert wait_for_task(second)["status"] == "COMPLETED"
    assert status_of(api_client, second).json()["status"] == "COMPLETED"


def test_completed_segments_grow_and_errors_are_reported(api_client, fake_engine, project):
    for index, text in enumerate(["One.", "Two FAIL.", "Three.", "Four."]):
        SegmentFactory(project=project, sequence_index=index, text_content=text)
    fake_engine.delay = 0.05
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    seen_counts = []
    while True:
        body = status_of(api_client, task_id).json()
        seen_counts.append(len(body["completed_segments"]))
        if body["status"] in TERMINAL_STATUSES:
            break
    assert seen_counts == sorted(seen_counts)  # never shrinks
    assert len(set(seen_counts)) >= 2  # observed while growing
    assert body["status"] == "COMPLETED"
    assert len(body["completed_segments"]) == 3
    assert len(body["errors"]) == 1 and body["errors"][0]["error"] == "fake engine failure"


def test_cancel_returns_202_with_status_body(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)
    response = api_client.post(f"/api/tasks/{task_id}/cancel/")
    assert response.status_code == 202
    assert list(response.json())[:5] == SPEC_FIELDS
    assert response.json()["current_step"].startswith("Cancelling")
    fake_engine.gate.set()
    wait_until(lambda: status_of(api_client, task_id).json()["status"] == "CANCELLED")


def test_concurrent_readers_always_see_consistent_snapshots(api_client, fake_engine, project):
    """Several threads poll get_task_status while a 30-segment batch runs; every snapshot is consistent."""
    from api.tasks import TaskManager

    for index in range(30):
        text = f"Segment {index} FAIL." if index % 7 == 3 else f"Segment {index}."
        SegmentFactory(project=project, sequence_index=index, text_content=text)
    fake_engine.delay = 0.01
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    manager = TaskManager()
    problems, snapshots = [], [0]
    stop = threading.Event()

    def reader():
        previous_done = 0
        while not stop.is_set():
            state = manager.get_task_status(task_id)
            snapshots[0] += 1
            done = len(state["completed_segments"]) + len(state["errors"])
            progress = state["progress"]
            if state["status"] == "PROCESSING" and progress["total"]:
                # progress is set before each segment: current is the one in flight
                if not (done <= progress["current"] <= done + 1):
                    problems.append(("current vs done", progress, done))
                if progress["percentage"] != int(progress["current"] / progress["total"] * 100):
                    problems.append(("percentage", progress))
            if done < previous_done:
                problems.append(("went backwards", done, previous_done))
            previous_done = done
            if state["status"] == "COMPLETED" and done != 30:
                problems.append(("completed early", done))
            if state["status"] in TERMINAL_STATUSES:
                return

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    final = wait_for_task(task_id, timeout=30)
    stop.set()
    for thread in threads:
        thread.join(5)
    assert problems == []
    assert snapshots[0] > 100
    assert final["status"] == "COMPLETED"
    failing = sum(1 for index in range(30) if index % 7 == 3)  # 3, 10, 17, 24
    assert len(final["errors"]) == failing == 4
    assert len(final["completed_segments"]) == 30 - failing
