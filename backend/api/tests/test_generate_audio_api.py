"""POST /api/segments/{id}/generate-audio/ — spec §3.2.1 and §8.1, with the fake engine."""
import threading
import uuid
from pathlib import Path

import pytest
import soundfile as sf

from api.models import GlobalSettings, Segment
from api.tests.conftest import wait_for_task, wait_until
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def generate(api_client, segment_id):
    return api_client.post(f"/api/segments/{segment_id}/generate-audio/")


def test_returns_202_with_spec_body(api_client, fake_engine, segments):
    segment = segments[0]
    response = generate(api_client, segment.id)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"task_id", "segment_id", "status", "message"}
    assert body["segment_id"] == str(segment.id)
    assert body["status"] == "PENDING"
    assert body["message"] == "Audio generation started"
    prefix = f"tts_{segment.id}_"
    assert body["task_id"].startswith(prefix) and len(body["task_id"]) == len(prefix) + 8


def test_background_task_writes_wav_and_updates_segment(api_client, fake_engine, segments, media_root):
    segment = segments[1]
    task_id = generate(api_client, segment.id).json()["task_id"]
    final = wait_for_task(task_id)
    assert final["status"] == "COMPLETED"

    expected_path = Path(media_root) / "projects" / str(segment.project_id) / "audio" / f"{segment.id}.wav"
    assert expected_path.is_file()
    info = sf.info(expected_path)
    assert info.samplerate == 24000 and info.channels == 1

    segment.refresh_from_db()
    assert segment.audio_file == f"/media/projects/{segment.project_id}/audio/{segment.id}.wav"
    assert segment.audio_duration == pytest.approx(info.duration, abs=0.01)
    assert final["completed_segments"] == [
        {"segment_id": str(segment.id), "audio_url": segment.audio_file, "duration": segment.audio_duration}
    ]
    # Single-segment tasks keep the spec's initial progress (task-progress-tracking.md step 5).
    assert final["progress"] == {"current": 0, "total": 0, "percentage": 0}


def test_uses_global_settings_voice_and_speed(api_client, fake_engine, segments):
    GlobalSettings.objects.update_or_create(pk=1, defaults={"default_voice_id": "jm_kumo", "tts_speed": 1.5})
    wait_for_task(generate(api_client, segments[0].id).json()["task_id"])
    assert fake_engine.calls[0]["voice_id"] == "jm_kumo"
    assert fake_engine.calls[0]["speed"] == 1.5
    assert fake_engine.calls[0]["text"] == segments[0].text_content


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_400(api_client, fake_engine, project, text):
    segment = SegmentFactory(project=project, text_content=text)
    response = generate(api_client, segment.id)
    assert response.status_code == 400
    assert response.json() == {"error": "Segment has no text content to generate audio from."}
    assert fake_engine.calls == []


def test_locked_segment_is_409(api_client, fake_engine, project):
    segment = SegmentFactory(project=project, is_locked=True)
    response = generate(api_client, segment.id)
    assert response.status_code == 409
    assert response.json() == {"error": "Segment is locked. Unlock before generating audio."}


def test_missing_model_is_503(api_client, segments, no_model):
    response = generate(api_client, segments[0].id)
    assert response.status_code == 503
    assert response.json() == {"error": "TTS model not available. Please install kokoro-v0_19.onnx."}


def test_unknown_segment_is_404(api_client, fake_engine, db):
    response = generate(api_client, uuid.uuid4())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_non_uuid_segment_id_is_404(api_client, fake_engine, db):
    assert generate(api_client, "not-a-uuid").status_code == 404


def test_voice_not_in_model_is_400(api_client, fake_engine, segments):
    GlobalSettings.objects.update_or_create(pk=1, defaults={"default_voice_id": "af_removed"})
    response = generate(api_client, segments[0].id)
    assert response.status_code == 400
    assert "af_removed" in response.json()["error"]
    assert response.json()["available_voices"] == ["jf_alpha", "jm_kumo"]


def test_engine_failure_fails_task_with_segment_error(api_client, fake_engine, project):
    segment = SegmentFactory(project=project, text_content="This will FAIL.")
    final = wait_for_task(generate(api_client, segment.id).json()["task_id"])
    assert final["status"] == "FAILED"
    assert final["errors"] == [{"segment_id": str(segment.id), "error": "fake engine failure"}]
    segment.refresh_from_db()
    assert segment.audio_file is None and segment.audio_duration is None


def test_shutdown_task_manager_gives_503(api_client, fake_engine, segments, task_manager):
    task_manager.shutdown()
    response = generate(api_client, segments[0].id)
    assert response.status_code == 503
    assert "shut down" in response.json()["error"]


def test_segment_deleted_during_synthesis_leaves_no_file(api_client, fake_engine, segments, media_root):
    segment = segments[0]
    fake_engine.gate = threading.Event()
    task_id = generate(api_client, segment.id).json()["task_id"]
    assert fake_engine.started.wait(5)
    assert api_client.delete(f"/api/segments/{segment.id}/").status_code == 204
    fake_engine.gate.set()
    final = wait_for_task(task_id)
    assert final["status"] == "FAILED"
    assert "deleted" in final["errors"][0]["error"]
    assert list((Path(media_root) / "projects").rglob("*.wav")) == []


def test_regenerate_replaces_audio_in_place(api_client, fake_engine, segments, media_root):
    segment = segments[0]
    wait_for_task(generate(api_client, segment.id).json()["task_id"])
    segment.refresh_from_db()
    first_duration = segment.audio_duration
    api_client.patch(f"/api/segments/{segment.id}/", {"text_content": segment.text_content * 3})
    wait_for_task(generate(api_client, segment.id).json()["task_id"])
    segment.refresh_from_db()
    assert segment.audio_duration > first_duration
    assert len(list((Path(media_root) / "projects").rglob("*.wav"))) == 1


def test_status_is_processing_while_synthesizing(api_client, fake_engine, segments):
    fake_engine.gate = threading.Event()
    task_id = generate(api_client, segments[0].id).json()["task_id"]
    assert fake_engine.started.wait(5)
    assert api_client.get(f"/api/tasks/{task_id}/status/").json()["status"] == "PROCESSING"
    fake_engine.gate.set()
    wait_until(lambda: api_client.get(f"/api/tasks/{task_id}/status/").json()["status"] == "COMPLETED")
    assert Segment.objects.get(id=segments[0].id).audio_file
