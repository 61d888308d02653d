"""A lexicon phoneme rule, a blended project voice and a voice sample through the real server and model."""
import io
import time
from pathlib import Path

import pytest
import requests
import soundfile as sf

pytestmark = [pytest.mark.real_model, pytest.mark.django_db(transaction=True)]

DANTES_IPA = "dɑːntˈɛs"


def wait(base: str, task_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{base}/api/tasks/{task_id}/status/", timeout=10).json()
        if body["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"task {task_id} still running after {timeout} s")


def test_a_segment_with_a_phoneme_rule_and_a_blend_is_narrated(live_server, installed_model, media_root):
    base = live_server.url
    project = requests.post(
        f"{base}/api/projects/import/", json={"title": "Marseilles", "text": "Edmond Dantès smiled at Mr. Morrel."}, timeout=10
    ).json()
    rule = requests.post(
        f"{base}/api/projects/{project['id']}/lexicon/", json={"pattern": "Dantès", "replacement": f"/{DANTES_IPA}/"}, timeout=10
    )
    assert rule.status_code == 201, rule.text
    assert requests.patch(
        f"{base}/api/projects/{project['id']}/", json={"voice": "jf_alpha:0.6+jm_kumo:0.4"}, timeout=10
    ).status_code == 200

    preview = requests.post(
        f"{base}/api/speech/preview/", json={"text": project["segments"][0]["text_content"], "project": project["id"]}, timeout=30
    ).json()
    assert preview["spoken_text"] == f"Edmond /{DANTES_IPA}/ smiled at Mister Morrel."
    assert DANTES_IPA in preview["phonemes"]

    segment_id = project["segments"][0]["id"]
    task = requests.post(f"{base}/api/segments/{segment_id}/generate-audio/", timeout=10).json()
    assert wait(base, task["task_id"])["status"] == "COMPLETED"
    segment = requests.get(f"{base}/api/segments/{segment_id}/", timeout=10).json()
    assert segment["audio_stale"] is False and segment["audio_duration"] > 1.0
    audio, rate = sf.read(Path(media_root) / segment["audio_file"].removeprefix("/media/"))
    assert rate == 24000 and len(audio) / rate == pytest.approx(segment["audio_duration"], abs=0.01)

    # changing the rule makes exactly this audio out of date
    requests.patch(f"{base}/api/projects/{project['id']}/lexicon/{rule.json()['id']}/", json={"replacement": "Dahn-tess"}, timeout=10)
    assert requests.get(f"{base}/api/segments/{segment_id}/", timeout=10).json()["audio_stale"] is True


def test_a_voice_sample_is_a_wav_and_is_cached(live_server, installed_model, media_root):
    base = live_server.url
    body = {"voice": "jm_kumo:1+jf_alpha:1", "text": "Shall we begin?"}
    first = requests.post(f"{base}/api/voices/preview/", json=body, timeout=60)
    assert first.status_code == 200 and first.headers["Content-Type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(first.content))
    assert rate == 24000 and 0.5 < len(audio) / rate < 5.0
    cached = list((Path(media_root) / "cache" / "voice-samples").glob("*.wav"))
    assert len(cached) == 1
    again = requests.post(f"{base}/api/voices/preview/", json={"voice": "jf_alpha:0.5+jm_kumo:0.5", "text": "Shall we begin?"}, timeout=60)
    assert again.content == first.content  # the same blend written otherwise: the cached file
    assert list((Path(media_root) / "cache" / "voice-samples").glob("*.wav")) == cached
