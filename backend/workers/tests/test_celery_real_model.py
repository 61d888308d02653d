"""The real Kokoro-82M model on a Celery worker gives the very samples embedded mode gives.

Both sides run the same variant and session layout (engine calibration is off in the
tests, so one session with onnxruntime's threads, on the same CPU): the engine is
deterministic there (``../shared/design/engine-facts.md``), and the FLAC round trip is
lossless (``audio_utils.pcm16``), so the WAVs must be equal sample for sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from api.models import Segment
from api.tests.conftest import wait_for_task
from api.tests.factories import SegmentFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_model]

TEXTS = [
    "Many years ago, there was an Emperor.",
    "He was so excessively fond of new clothes, that he spent all his money in dress.",
    "The swindlers set up two looms.",
]


def _samples(project, media_root) -> dict[str, np.ndarray]:
    folder = Path(media_root) / "projects" / str(project.id) / "audio"
    return {s.text_content: sf.read(str(folder / f"{s.id}.wav"), dtype="int16")[0]
            for s in Segment.objects.filter(project=project)}


def test_three_segments_on_one_real_worker_match_embedded_mode(
    api_client, installed_model, own_redis, settings, project, media_root, tmp_path,
):
    from workers.local_pool import Worker, wait_for_workers

    worker = Worker("real", own_redis.url, tmp_path / "real.log", fake=False)
    try:
        wait_for_workers(own_redis.url, ["real"], timeout=120)
        for index, text in enumerate(TEXTS):
            SegmentFactory(project=project, sequence_index=index, text_content=text)
        response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
        final = wait_for_task(response.json()["task_id"], timeout=300)
        assert final["status"] == "COMPLETED" and final["errors"] == [], final
        remote = _samples(project, media_root)
        remote_cues = {s.text_content: s.audio_cues for s in Segment.objects.filter(project=project)}
        assert "synthesized on worker" in "".join(
            line["message"] for line in api_client.get(f"/api/tasks/{final['task_id']}/logs/").json()["logs"]
        )
    finally:
        worker.stop()

    settings.STORYFLOW_SYNTHESIS = "local"
    response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {"force_regenerate": True}, format="json")
    final = wait_for_task(response.json()["task_id"], timeout=300)
    assert final["status"] == "COMPLETED", final
    local = _samples(project, media_root)
    for text in TEXTS:
        assert remote[text].size > 24000
        np.testing.assert_array_equal(remote[text], local[text])
    assert remote_cues == {s.text_content: s.audio_cues for s in Segment.objects.filter(project=project)}
