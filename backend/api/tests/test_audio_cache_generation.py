"""The audio cache in segment generation (issue 10, item 3), through the API with the fake engine.

The fake engine stands in for the model (too slow here); its call list is what
shows whether the model was asked. The cache itself is the real one, under the
test's own MEDIA_ROOT.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from api.models import Segment, TaskRecord
from api.services.audio_generation import cache_key_for
from api.services.narration import NarrationContext
from api.services.task_recovery import resume_interrupted_tasks
from api.tests.conftest import wait_for_task
from api.tests.factories import SegmentFactory
from core_engine import audio_cache

pytestmark = pytest.mark.django_db(transaction=True)


def generate(api_client, segment_id) -> dict:
    response = api_client.post(f"/api/segments/{segment_id}/generate-audio/")
    assert response.status_code == 202, response.content
    return wait_for_task(response.json()["task_id"])


def generate_all(api_client, project_id, **body) -> dict:
    response = api_client.post(f"/api/projects/{project_id}/generate-all-audio/", body, format="json")
    assert response.status_code == 202, response.content
    return wait_for_task(response.json()["task_id"])


def wav_bytes(segment: Segment, media_root) -> bytes:
    segment.refresh_from_db()
    return (Path(media_root) / segment.audio_file.removeprefix("/media/")).read_bytes()


def test_regenerating_an_unchanged_segment_makes_no_model_call(api_client, fake_engine, segments, media_root):
    segment = segments[0]
    generate(api_client, segment.id)
    first = wav_bytes(segment, media_root)
    duration, cues = segment.audio_duration, segment.audio_cues
    assert len(fake_engine.calls) == 1

    final = generate(api_client, segment.id)
    assert final["status"] == "COMPLETED"
    assert len(fake_engine.calls) == 1  # served from the cache
    assert wav_bytes(segment, media_root) == first
    assert (segment.audio_duration, segment.audio_cues) == (duration, cues)


def test_a_repeated_paragraph_is_synthesized_once(api_client, fake_engine, project, media_root):
    text = "The same refrain comes back. Again and again."
    first = SegmentFactory(project=project, sequence_index=0, text_content=text)
    SegmentFactory(project=project, sequence_index=1, text_content="Something else entirely.")
    repeat = SegmentFactory(project=project, sequence_index=2, text_content=text)

    final = generate_all(api_client, project.id)
    assert final["status"] == "COMPLETED" and len(final["completed_segments"]) == 3
    assert [call["text"] for call in fake_engine.calls] == [text, "Something else entirely."]
    assert wav_bytes(first, media_root) == wav_bytes(repeat, media_root)
    first.refresh_from_db(), repeat.refresh_from_db()
    assert repeat.audio_cues == first.audio_cues and repeat.audio_duration == first.audio_duration
    assert repeat.audio_identity == first.audio_identity


def test_force_regenerate_bypasses_the_cache(api_client, fake_engine, project, segments):
    generate_all(api_client, project.id)
    assert len(fake_engine.calls) == 3
    final = generate_all(api_client, project.id, force_regenerate=True)
    assert final["status"] == "COMPLETED"
    assert len(fake_engine.calls) == 6  # every segment went to the model again
    record = TaskRecord.objects.get(pk=final["task_id"])
    assert record.state["params"]["force_regenerate"] is True


def test_a_changed_voice_or_text_is_a_miss(api_client, fake_engine, project, segments):
    segment = segments[0]
    generate(api_client, segment.id)
    api_client.patch(f"/api/segments/{segment.id}/", {"speed": 1.25}, format="json")
    generate(api_client, segment.id)
    api_client.patch(f"/api/segments/{segment.id}/", {"text_content": "A new sentence entirely."}, format="json")
    generate(api_client, segment.id)
    assert [call["speed"] for call in fake_engine.calls] == [1.0, 1.25, 1.25]
    assert fake_engine.calls[-1]["text"] == "A new sentence entirely."


def test_same_spoken_text_with_other_written_text_is_a_miss(api_client, fake_engine, project):
    """"1st" and "first" sound the same, but cues carry the written sentence: no shared entry."""
    a = SegmentFactory(project=project, sequence_index=0, text_content="He came 1st.")
    b = SegmentFactory(project=project, sequence_index=1, text_content="He came first.")
    generate_all(api_client, project.id)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.audio_identity == b.audio_identity  # same spoken form
    assert len(fake_engine.calls) == 2
    assert b.audio_cues[0]["text"] == "He came first."


def test_a_corrupt_entry_is_resynthesized(api_client, fake_engine, segments, media_root):
    segment = segments[0]
    generate(api_client, segment.id)
    key = cache_key_for(NarrationContext.for_project(segment.project).identity_for(segment).digest, segment.text_content)
    wav, meta = audio_cache.cache_dir() / f"{key}.wav", audio_cache.cache_dir() / f"{key}.json"
    assert wav.is_file() and meta.is_file()
    meta.write_text("{not json", encoding="utf-8")

    assert generate(api_client, segment.id)["status"] == "COMPLETED"
    assert len(fake_engine.calls) == 2
    assert audio_cache.lookup(key) is not None  # stored again, readable


@pytest.mark.parametrize("forced, model_calls", [(False, 0), (True, 2)])
def test_a_resumed_batch_keeps_its_force_regenerate(fake_engine, project, forced, model_calls):
    """A batch resumed after a restart reads ``force_regenerate`` back from its journaled params."""
    from api.services.audio_generation import synthesize_segment

    segments = [SegmentFactory(project=project, sequence_index=i, text_content=f"Part {i}.") for i in range(2)]
    ids = [str(s.id) for s in segments]
    for sid in ids:  # warm the cache for both segments
        assert synthesize_segment(sid)["success"]
    fake_engine.calls.clear()
    task_id = f"tts_batch_{project.id}_0000000{int(forced)}"
    TaskRecord.objects.create(
        task_id=task_id, kind="batch", project_id=project.id, segment_ids=ids, voice_id="jf_alpha", speed=1.0,
        status="PROCESSING", stage="synthesizing", created_at=datetime.now(timezone.utc),
        state={"params": {"voice_id": "jf_alpha", "speed": 1.0, "force_regenerate": forced}},
    )
    assert resume_interrupted_tasks() == [task_id]
    assert wait_for_task(task_id)["status"] == "COMPLETED"
    assert len(fake_engine.calls) == model_calls
