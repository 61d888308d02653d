"""The real Kokoro-82M model through the real HTTP server (pytest-django's live_server).

No fakes here: the request goes over a socket to Django, the batch runs on the
TaskManager's worker thread, and kokoro-onnx synthesizes the audio.
"""
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

pytestmark = [pytest.mark.real_model, pytest.mark.django_db(transaction=True)]


def poll_until_finished(base: str, task_id: str, timeout: float = 300) -> list[dict]:
    """Poll the status endpoint every 0.25 s; return every body seen (the last one is terminal)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{base}/api/tasks/{task_id}/status/", timeout=10)
        assert response.status_code == 200
        seen.append(response.json())
        if seen[-1]["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return seen
        time.sleep(0.25)
    raise AssertionError(f"task {task_id} still running after {timeout} s: {seen[-1]}")


def test_two_segment_batch_over_http_with_real_model(live_server, installed_model, media_root):
    base = live_server.url
    text = "The harbour lights came on one by one.\n\nBy morning, the fog had swallowed the whole town."
    created = requests.post(f"{base}/api/projects/import/", json={"title": "Harbour", "text": text}, timeout=10)
    assert created.status_code == 201
    project = created.json()
    assert len(project["segments"]) == 2

    started = requests.post(f"{base}/api/projects/{project['id']}/generate-all-audio/", json={}, timeout=10)
    assert started.status_code == 202
    assert started.json()["segments_to_process"] == 2

    history = poll_until_finished(base, started.json()["task_id"])
    final = history[-1]
    assert final["status"] == "COMPLETED", final
    assert final["errors"] == []
    assert final["progress"] == {
        "current": 2,
        "total": 2,
        "percentage": 100,
        "current_segment_id": project["segments"][1]["id"],
    }
    assert any(body["status"] == "PROCESSING" for body in history)

    detail = requests.get(f"{base}/api/projects/{project['id']}/", timeout=10).json()
    for segment, completed in zip(detail["segments"], final["completed_segments"]):
        assert completed["segment_id"] == segment["id"]
        assert completed["audio_url"] == segment["audio_file"]
        path = Path(media_root) / segment["audio_file"].removeprefix("/media/")
        assert path.is_file()
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
        assert segment["audio_duration"] == pytest.approx(info.duration, abs=0.02)
        assert 1.0 < info.duration < 8.0

        # The URL in the response plays: /media/ is served by the same server.
        download = requests.get(f"{base}{segment['audio_file']}", timeout=10)
        assert download.status_code == 200
        assert download.content[:4] == b"RIFF"
        audio, rate = sf.read(path)
        assert np.sqrt(np.mean(audio**2)) > 0.01  # not silence
