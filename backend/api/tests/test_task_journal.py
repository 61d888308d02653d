"""The task journal: retention after the in-memory cleanup, logs, the project's tasks, resume after a restart."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from api.models import TaskLogEntry, TaskRecord, TaskSegmentResult
from api.services.task_recovery import remove_interrupted_writes, resume_interrupted_tasks
from api.tasks import TaskManager
from api.tests.conftest import journal_interrupted_batch, wait_for_task, wait_until
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _expire_in_memory(manager: TaskManager, settings) -> None:
    settings.TASK_CLEANUP_THRESHOLD = 0
    time.sleep(0.01)
    assert manager._cleanup_old_tasks() >= 1


def test_finished_task_is_answered_from_the_journal_after_cleanup(api_client, fake_engine, project, segments, settings):
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    final = wait_for_task(task_id)
    manager = TaskManager()
    manager.journal.flush()
    live = api_client.get(f"/api/tasks/{task_id}/status/").json()
    _expire_in_memory(manager, settings)
    assert manager.get_task_status(task_id) is None

    response = api_client.get(f"/api/tasks/{task_id}/status/")
    assert response.status_code == 200
    stored = response.json()
    for field in ("task_id", "status", "progress", "completed_segments", "errors", "kind", "project_id",
                  "segment_ids", "stage", "overall_progress", "audio_seconds", "created_at", "started_at", "completed_at"):
        assert stored[field] == live[field], field
    assert stored["status"] == final["status"] == "COMPLETED"
    assert len(stored["completed_segments"]) == len(segments)


def test_status_is_404_after_the_retention(api_client, fake_engine, project, segments, settings):
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    wait_for_task(task_id)
    manager = TaskManager()
    manager.journal.flush()
    _expire_in_memory(manager, settings)
    TaskRecord.objects.filter(pk=task_id).update(completed_at=datetime.now(timezone.utc) - timedelta(hours=25))
    assert api_client.get(f"/api/tasks/{task_id}/status/").status_code == 404
    assert manager.journal.prune() == 1
    assert not TaskRecord.objects.filter(pk=task_id).exists()
    assert not TaskSegmentResult.objects.filter(task_id=task_id).exists()
    assert not TaskLogEntry.objects.filter(task_id=task_id).exists()


def test_logs_give_chunking_timing_and_errors_with_their_cause(api_client, fake_engine, project):
    SegmentFactory(project=project, sequence_index=0, text_content="Fine words. More words.")
    SegmentFactory(project=project, sequence_index=1, text_content="This one will FAIL.")
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    wait_for_task(task_id)
    response = api_client.get(f"/api/tasks/{task_id}/logs/")
    assert response.status_code == 200
    body = response.json()
    assert body["task_id"] == task_id
    lines = body["logs"]
    assert all(set(line) == {"timestamp", "level", "message"} for line in lines)
    messages = [line["message"] for line in lines]
    assert any("Segment 1 of 2: 23 characters in 2 chunks" in m for m in messages)
    assert any("Segment 1 of 2: 23 characters ->" in m and "RTF" in m for m in messages)
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert errors and "fake engine failure" in errors[0]["message"]
    assert lines == sorted(lines, key=lambda line: line["timestamp"])
    assert api_client.get("/api/tasks/tts_unknown/logs/").status_code == 404


def test_project_tasks_list_active_and_recent_tasks_newest_first(api_client, fake_engine, project, segments, settings):
    first = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()["task_id"]
    wait_for_task(first)
    manager = TaskManager()
    manager.journal.flush()
    _expire_in_memory(manager, settings)  # the finished one now lives only in the journal
    settings.TASK_CLEANUP_THRESHOLD = 3600
    fake_engine.gate = threading.Event()
    batch = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {"force_regenerate": True}, format="json")
    batch_id = batch.json()["task_id"]

    body = api_client.get(f"/api/projects/{project.id}/tasks/").json()
    assert body["project_id"] == str(project.id)
    assert [t["task_id"] for t in body["tasks"]] == [batch_id, first]
    assert body["tasks"][0]["status"] in {"PENDING", "PROCESSING"} and body["tasks"][0]["kind"] == "batch"
    assert body["tasks"][1]["status"] == "COMPLETED" and body["tasks"][1]["kind"] == "segment"
    fake_engine.gate.set()
    wait_for_task(batch_id)
    other = api_client.get(f"/api/projects/{SegmentFactory().project_id}/tasks/").json()
    assert other["tasks"] == []


def test_resume_continues_an_interrupted_batch_under_the_same_id(fake_engine, project, tmp_path, settings):
    """The journal of a batch killed after its first segment: resume runs only the rest."""
    segments = [SegmentFactory(project=project, sequence_index=i, text_content=f"Part {i}.") for i in range(3)]
    ids = [str(s.id) for s in segments]
    task_id = journal_interrupted_batch(project, ids, [7, 7, 7], 1.0, {"current": 2, "total": 3, "percentage": 66})
    audio_dir = tmp_path / "media" / "projects" / str(project.id) / "audio"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    audio_dir.mkdir(parents=True)
    leftover = audio_dir / f".{ids[1]}.wav.abc123.tmp"
    leftover.write_bytes(b"partial")

    assert resume_interrupted_tasks() == [task_id]
    assert not leftover.exists()
    final = wait_for_task(task_id)
    assert final["status"] == "COMPLETED"
    assert [c["segment_id"] for c in final["completed_segments"]] == ids
    assert [call["text"] for call in fake_engine.calls] == ["Part 1.", "Part 2."]  # segment 0 not redone
    assert final["progress"] == {"current": 3, "total": 3, "percentage": 100, "current_segment_id": ids[2]}
    TaskManager().journal.flush()
    assert TaskRecord.objects.get(pk=task_id).status == "COMPLETED"
    assert TaskSegmentResult.objects.filter(task_id=task_id).count() == 3
    assert resume_interrupted_tasks() == []  # nothing left to resume


def test_remove_interrupted_writes_keeps_complete_files(tmp_path):
    audio = tmp_path / "projects" / "p" / "audio"
    audio.mkdir(parents=True)
    (audio / "s.wav").write_bytes(b"RIFF")
    (audio / ".s.wav.x1.tmp").write_bytes(b"")
    assert remove_interrupted_writes(tmp_path) == 1
    assert [p.name for p in audio.iterdir()] == ["s.wav"]


def test_interrupted_shutdown_keeps_tasks_resumable(api_client, fake_engine, project, segments):
    """Ctrl-C on the server (interrupted shutdown) must not journal the queued tasks as CANCELLED."""
    fake_engine.gate = threading.Event()
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)
    manager = TaskManager()
    threading.Timer(0.2, fake_engine.gate.set).start()
    manager.shutdown(wait=True, interrupted=True)
    record = TaskRecord.objects.get(pk=task_id)
    assert record.status == "PROCESSING"
    # The segment in flight finished and was recorded, so a resume skips it.
    assert TaskSegmentResult.objects.filter(task_id=task_id).count() == 1
