"""Dedupe: one active task per segment and one active batch per project, also under concurrent requests.

Concurrency goes through the real HTTP server (pytest-django's ``live_server``,
a threaded WSGI server) with ``requests``; the engine is the fast fake.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from api.tests.conftest import wait_for_task
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _post_concurrently(url: str, count: int) -> list[requests.Response]:
    barrier = threading.Barrier(count)

    def post(_):
        barrier.wait()
        return requests.post(url, json={}, timeout=10)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def test_concurrent_generate_audio_for_one_segment_runs_one_synthesis(live_server, fake_engine, project):
    segment = SegmentFactory(project=project, text_content="Only once, please.")
    fake_engine.gate = threading.Event()
    responses = _post_concurrently(f"{live_server.url}/api/segments/{segment.id}/generate-audio/", 8)
    assert [r.status_code for r in responses] == [202] * 8
    task_ids = {r.json()["task_id"] for r in responses}
    assert len(task_ids) == 1
    assert sum(r.json()["message"] == "Audio generation started" for r in responses) == 1
    fake_engine.gate.set()
    final = wait_for_task(task_ids.pop())
    assert final["status"] == "COMPLETED"
    assert len(fake_engine.calls) == 1


def test_concurrent_generate_all_gives_one_batch_and_409s_naming_it(live_server, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    responses = _post_concurrently(f"{live_server.url}/api/projects/{project.id}/generate-all-audio/", 6)
    accepted = [r for r in responses if r.status_code == 202]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(accepted) == 1 and len(conflicts) == 5
    task_id = accepted[0].json()["task_id"]
    for response in conflicts:
        body = response.json()
        assert set(body) == {"error", "task_id"} and body["task_id"] == task_id
        assert "already has a batch" in body["error"]
    fake_engine.gate.set()
    wait_for_task(task_id)
    assert len(fake_engine.calls) == len(segments)


def test_generate_audio_for_a_segment_the_batch_has_not_reached_joins_the_batch(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    batch_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)  # segment 0 in flight, 1 and 2 still to come
    response = api_client.post(f"/api/segments/{segments[2].id}/generate-audio/")
    assert response.status_code == 202
    assert response.json()["task_id"] == batch_id
    assert response.json()["status"] == "PROCESSING"
    fake_engine.gate.set()
    wait_for_task(batch_id)
    assert len(fake_engine.calls) == len(segments)  # no second synthesis of segment 2


def test_a_finished_task_no_longer_blocks_new_ones(api_client, fake_engine, project, segments):
    first = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()["task_id"]
    wait_for_task(first)
    second = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()["task_id"]
    assert second != first
    batch = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {"force_regenerate": True}, format="json")
    assert batch.status_code == 202
    wait_for_task(batch.json()["task_id"])
    again = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {"force_regenerate": True}, format="json")
    assert again.status_code == 202


def test_a_cancelled_batch_releases_the_project(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    batch_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)
    api_client.post(f"/api/tasks/{batch_id}/cancel/")
    fake_engine.gate.set()
    assert wait_for_task(batch_id)["status"] == "CANCELLED"
    assert api_client.post(f"/api/projects/{project.id}/generate-all-audio/").status_code == 202
