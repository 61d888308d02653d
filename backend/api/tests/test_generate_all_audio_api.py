"""POST /api/projects/{id}/generate-all-audio/ — spec §3.2.2 and §8.2, with the fake engine."""
import threading
import uuid
from pathlib import Path

import pytest

from api.models import Segment
from api.tests.conftest import wait_for_task, wait_until
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def generate_all(api_client, project_id, body=None):
    return api_client.post(f"/api/projects/{project_id}/generate-all-audio/", body, format="json")


def test_returns_202_with_counts(api_client, fake_engine, project, segments):
    response = generate_all(api_client, project.id)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {
        "task_id", "project_id", "status", "total_segments", "segments_to_process", "message",
        "segments_missing_audio", "segments_stale",
    }
    assert body["project_id"] == str(project.id)
    assert body["status"] == "PENDING"
    assert body["total_segments"] == 3 and body["segments_to_process"] == 3
    assert body["message"] == "Bulk audio generation started"
    prefix = f"tts_batch_{project.id}_"
    assert body["task_id"].startswith(prefix) and len(body["task_id"]) == len(prefix) + 8
    wait_for_task(body["task_id"])


def test_processes_all_segments_in_sequence_order(api_client, fake_engine, project, media_root):
    created = [SegmentFactory(project=project, sequence_index=i, text_content=f"Text {i}.") for i in (2, 0, 1)]
    final = wait_for_task(generate_all(api_client, project.id).json()["task_id"])
    assert final["status"] == "COMPLETED"
    assert [c["text"] for c in fake_engine.calls] == ["Text 0.", "Text 1.", "Text 2."]
    by_index = {s.sequence_index: s for s in created}
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(by_index[i].id) for i in range(3)]
    for segment in Segment.objects.filter(project=project):
        assert segment.audio_file == f"/media/projects/{project.id}/audio/{segment.id}.wav"
        assert (Path(media_root) / "projects" / str(project.id) / "audio" / f"{segment.id}.wav").is_file()
        assert segment.audio_duration > 0
    for entry in final["completed_segments"]:
        assert entry["audio_url"].startswith("/media/projects/")
    assert final["progress"]["current"] == 3 and final["progress"]["percentage"] == 100


def test_locked_segments_skipped_by_default(api_client, fake_engine, project, segments):
    Segment.objects.filter(id__in=[segments[0].id, segments[2].id]).update(is_locked=True)
    body = generate_all(api_client, project.id).json()
    assert body["segments_to_process"] == 1
    assert body["message"] == "Bulk audio generation started (2 segments skipped: locked)"
    wait_for_task(body["task_id"])
    assert [c["text"] for c in fake_engine.calls] == [segments[1].text_content]


def test_skip_locked_false_includes_locked(api_client, fake_engine, project, segments):
    Segment.objects.filter(id=segments[0].id).update(is_locked=True)
    body = generate_all(api_client, project.id, {"skip_locked": False}).json()
    assert body["segments_to_process"] == 3
    wait_for_task(body["task_id"])


def test_existing_audio_skipped_unless_force_regenerate(api_client, fake_engine, project, segments):
    wait_for_task(generate_all(api_client, project.id).json()["task_id"])
    assert len(fake_engine.calls) == 3

    response = generate_all(api_client, project.id)
    assert response.status_code == 200
    assert response.json() == {
        "message": "No segments to process",
        "total_segments": 3,
        "segments_to_process": 0,
        "skipped": 3,
    }

    body = generate_all(api_client, project.id, {"force_regenerate": True}).json()
    assert body["segments_to_process"] == 3
    wait_for_task(body["task_id"])
    assert len(fake_engine.calls) == 6


def test_mixed_skip_reasons_in_message(api_client, fake_engine, project, segments):
    Segment.objects.filter(id=segments[0].id).update(is_locked=True)
    Segment.objects.filter(id=segments[1].id).update(audio_file="/media/x.wav", audio_duration=1.0)
    body = generate_all(api_client, project.id).json()
    assert body["message"] == "Bulk audio generation started (2 segments skipped: 1 locked, 1 already has audio)"
    wait_for_task(body["task_id"])


def test_empty_segments_are_skipped(api_client, fake_engine, project):
    SegmentFactory(project=project, sequence_index=0, text_content="  ")
    SegmentFactory(project=project, sequence_index=1, text_content="Words.")
    body = generate_all(api_client, project.id).json()
    assert body["segments_to_process"] == 1
    assert body["message"] == "Bulk audio generation started (1 segment skipped: empty text)"
    wait_for_task(body["task_id"])


def test_project_without_segments_is_200(api_client, fake_engine, project):
    response = generate_all(api_client, project.id)
    assert response.status_code == 200
    assert response.json()["segments_to_process"] == 0


def test_unknown_project_is_404(api_client, fake_engine, db):
    assert generate_all(api_client, uuid.uuid4()).status_code == 404
    assert generate_all(api_client, "nope").status_code == 404


def test_missing_model_is_503(api_client, project, segments, no_model):
    response = generate_all(api_client, project.id)
    assert response.status_code == 503
    assert response.json() == {"error": "TTS model not available. Please install kokoro-v0_19.onnx."}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"skip_locked": "false"}, 3),
        ({"skip_locked": "TRUE", "force_regenerate": "false"}, 2),
        ({"skip_locked": True, "force_regenerate": True}, 2),
    ],
)
def test_boolean_options_accept_json_and_strings(api_client, fake_engine, project, segments, body, expected):
    Segment.objects.filter(id=segments[0].id).update(is_locked=True)
    response = generate_all(api_client, project.id, body)
    assert response.status_code == 202
    assert response.json()["segments_to_process"] == expected
    wait_for_task(response.json()["task_id"])


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, "1", [], {"a": 1}])
def test_other_option_values_are_400(api_client, fake_engine, project, segments, bad):
    response = generate_all(api_client, project.id, {"skip_locked": bad})
    assert response.status_code == 400
    assert "skip_locked" in response.json()
    assert fake_engine.calls == []


def test_non_object_body_is_400(api_client, fake_engine, project, segments):
    response = generate_all(api_client, project.id, [1, 2])
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]


def test_segment_error_does_not_stop_batch(api_client, fake_engine, project):
    ok1 = SegmentFactory(project=project, sequence_index=0, text_content="Fine.")
    bad = SegmentFactory(project=project, sequence_index=1, text_content="This will FAIL.")
    ok2 = SegmentFactory(project=project, sequence_index=2, text_content="Also fine.")
    final = wait_for_task(generate_all(api_client, project.id).json()["task_id"])
    assert final["status"] == "COMPLETED"
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(ok1.id), str(ok2.id)]
    assert final["errors"] == [{"segment_id": str(bad.id), "error": "fake engine failure"}]


def test_segment_deleted_before_its_turn_is_an_error_not_a_crash(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    task_id = generate_all(api_client, project.id).json()["task_id"]
    assert fake_engine.started.wait(5)
    Segment.objects.filter(id=segments[2].id).delete()
    fake_engine.gate.set()
    final = wait_for_task(task_id)
    assert final["status"] == "COMPLETED"
    assert len(final["completed_segments"]) == 2
    assert final["errors"] == [{"segment_id": str(segments[2].id), "error": "Segment was deleted before synthesis."}]


def test_progress_updates_before_each_segment(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    task_id = generate_all(api_client, project.id).json()["task_id"]
    assert fake_engine.started.wait(5)
    status = api_client.get(f"/api/tasks/{task_id}/status/").json()
    assert status["status"] == "PROCESSING"
    assert status["progress"] == {
        "current": 1,
        "total": 3,
        "percentage": 33,
        "current_segment_id": str(segments[0].id),
    }
    assert status["completed_segments"] == []
    fake_engine.gate.set()
    final = wait_for_task(task_id)
    assert final["progress"]["current_segment_id"] == str(segments[2].id)


def test_cancel_stops_batch_after_current_segment(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    task_id = generate_all(api_client, project.id).json()["task_id"]
    assert fake_engine.started.wait(5)
    response = api_client.post(f"/api/tasks/{task_id}/cancel/")
    assert response.status_code == 202
    assert response.json()["task_id"] == task_id
    fake_engine.gate.set()
    final = wait_for_task(task_id)
    assert final["status"] == "CANCELLED"
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(segments[0].id)]
    assert Segment.objects.exclude(audio_file=None).count() == 1  # finished work is kept


def test_cancel_pending_batch_never_runs(api_client, fake_engine, project, segments):
    fake_engine.gate = threading.Event()
    first = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()["task_id"]
    assert fake_engine.started.wait(5)
    queued = generate_all(api_client, project.id, {"force_regenerate": True}).json()["task_id"]
    assert api_client.post(f"/api/tasks/{queued}/cancel/").json()["status"] == "CANCELLED"
    fake_engine.gate.set()
    wait_for_task(first)
    wait_until(lambda: api_client.get(f"/api/tasks/{queued}/status/").json()["status"] == "CANCELLED")
    assert len(fake_engine.calls) == 1
