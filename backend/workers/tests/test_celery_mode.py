"""STORYFLOW_SYNTHESIS=celery end to end: the API, a real Redis and real Celery worker processes.

The engine on the workers is the fake (``fake_synthesis``: the model is too slow for
these); everything else is real: the request crosses the broker as JSON, the worker
reports chunks with ``update_state``, the FLAC comes back, and the web process writes
the WAV and the rows. ``test_celery_real_model.py`` runs the real model.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import soundfile as sf

from api.models import Segment
from api.tests.conftest import follow_task, journal_interrupted_batch, wait_for_task, wait_until
from api.tests.factories import SegmentFactory
from core_engine.lexicon import EMPTY_LEXICON

pytestmark = pytest.mark.django_db(transaction=True)


def _types(value):
    """The JSON shape of ``value``: dict keys with their shapes, list item shapes, type names."""
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted({repr(_types(item)) for item in value})
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _run_batch(api_client, project, body=None):
    response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", body or {}, format="json")
    assert response.status_code == 202, response.json()
    return follow_task(response.json()["task_id"], timeout=60)


def _shape_of_run(api_client, project, body=None):
    final, bodies = _run_batch(api_client, project, body)
    http = api_client.get(f"/api/tasks/{final['task_id']}/status/").json()
    return final, bodies, http


def test_status_bodies_have_the_same_keys_and_types_in_both_modes(
    api_client, fake_engine, fake_pool, celery_mode, settings, project, media_root,
):
    texts = ["The first line. It has two chunks.", "A second segment here.", "And a third one. Short."]
    for index, text in enumerate(texts):
        SegmentFactory(project=project, sequence_index=index, text_content=text)
    remote_final, remote_bodies, remote_http = _shape_of_run(api_client, project)
    assert remote_final["status"] == "COMPLETED", remote_final
    assert fake_engine.calls == []  # nothing was synthesized in this process

    settings.STORYFLOW_SYNTHESIS = "local"
    local_final, local_bodies, local_http = _shape_of_run(
        api_client, project, {"force_regenerate": True},
    )
    assert local_final["status"] == "COMPLETED"
    assert len(fake_engine.calls) == 3

    assert _types(remote_http) == _types(local_http)
    assert set(remote_final) == set(local_final)
    running = lambda bodies: [b for b in bodies if b and b["status"] == "PROCESSING"]  # noqa: E731
    assert running(remote_bodies) and running(local_bodies)
    assert {frozenset(b) for b in running(remote_bodies)} == {frozenset(b) for b in running(local_bodies)}


def test_batch_of_20_spreads_over_both_workers_and_never_goes_backwards(
    api_client, fake_engine, fake_pool, celery_mode, project, media_root,
):
    segments = [
        SegmentFactory(project=project, sequence_index=i, text_content=f"Segment {i} starts. It goes on a little.")
        for i in range(20)
    ]
    final, bodies = _run_batch(api_client, project)
    assert final["status"] == "COMPLETED", final
    assert final["errors"] == [] and len(final["completed_segments"]) == 20
    percentages = [b["progress"]["percentage"] for b in bodies if b]
    assert percentages == sorted(percentages), "progress went backwards"
    for segment in Segment.objects.filter(project=project):
        path = Path(media_root) / "projects" / str(project.id) / "audio" / f"{segment.id}.wav"
        info = sf.info(str(path))
        assert info.samplerate == 24000 and info.channels == 1 and info.subtype == "PCM_16"
        assert segment.audio_file.endswith(f"{segment.id}.wav") and segment.audio_duration > 0
    assert len(list((Path(media_root) / "projects").rglob("*.wav"))) == len(segments)
    logs = api_client.get(f"/api/tasks/{final['task_id']}/logs/").json()["logs"]
    hosts = {line["message"].split("on worker ")[1].split(" ")[0]
             for line in logs if "synthesized on worker" in line["message"]}
    pids = {line["message"].rsplit("(pid ", 1)[1].rstrip(")")
            for line in logs if "synthesized on worker" in line["message"]}
    assert len(hosts) >= 1 and len(pids) == 2, logs[-5:]


def test_single_segment_goes_through_the_pool(api_client, fake_engine, fake_pool, celery_mode, project, media_root):
    segment = SegmentFactory(project=project, sequence_index=0, text_content="One sentence. And another.")
    response = api_client.post(f"/api/segments/{segment.id}/generate-audio/", {}, format="json")
    assert response.status_code == 202
    final = wait_for_task(response.json()["task_id"], timeout=30)
    assert final["status"] == "COMPLETED", final
    segment.refresh_from_db()
    assert segment.audio_duration == pytest.approx(len(segment.text_content) * 0.05, abs=0.02)
    assert [c["text"] for c in segment.audio_cues] == ["One sentence", "And another."]
    assert fake_engine.calls == []


def test_the_batch_sends_its_last_segments_ahead_too(
    api_client, fake_engine, fake_pool, celery_mode, project, media_root, monkeypatch, settings,
):
    """Segments are sent ahead in refills of window / 4; the batch's last ones must not wait for
    their own turn because they are fewer than a refill (11 segments, window 8: segment 11 is
    in the window from segment 4 on)."""
    from api.services import remote_synthesis

    settings.STORYFLOW_REMOTE_WINDOW = 8
    for i in range(11):
        SegmentFactory(project=project, sequence_index=i, text_content=f"Segment {i + 1}.")
    events = []
    submit, synthesize = remote_synthesis.submit, remote_synthesis.synthesize_remote
    monkeypatch.setattr(remote_synthesis, "submit", lambda request: events.append(("sent", request["text"])) or submit(request))
    monkeypatch.setattr(
        remote_synthesis, "synthesize_remote",
        lambda request, *a, **k: events.append(("turn", request["text"])) or synthesize(request, *a, **k),
    )
    final, _ = _run_batch(api_client, project)
    assert final["status"] == "COMPLETED" and len(final["completed_segments"]) == 11, final
    assert sorted(text for kind, text in events if kind == "sent") == sorted(f"Segment {i}." for i in range(1, 12))
    assert events.index(("sent", "Segment 11.")) < events.index(("turn", "Segment 5."))
    turns = [text for kind, text in events if kind == "turn"]
    assert turns == [f"Segment {i}." for i in range(1, 12)]


def test_sending_a_segment_subscribes_the_web_process_to_no_result_channel(own_redis):
    """The web process polls results (one GET per look). The stock Redis backend would also
    SUBSCRIBE it to each task's result channel when the task is sent (and UNSUBSCRIBE it when
    the sent AsyncResult is collected): two needless round trips per segment."""
    import redis

    from api.services import remote_synthesis

    client = redis.Redis.from_url(own_redis.url)

    def subscribes():
        return client.info("commandstats").get("cmdstat_subscribe", {}).get("calls", 0)

    before = subscribes()
    for index in range(3):
        remote_synthesis.submit(remote_synthesis.build_request(f"Never run {index}.", "jf_alpha", 1.0, EMPTY_LEXICON, None))
    assert subscribes() == before
    assert client.llen("storyflow.synthesis") == 3
    assert remote_synthesis.discard_submitted() == 3


def test_a_cached_segment_makes_no_round_trip(api_client, fake_engine, fake_pool, celery_mode, project, media_root, monkeypatch):
    from api.services import remote_synthesis

    segment = SegmentFactory(project=project, sequence_index=0, text_content="Cache me. Please.")
    first = api_client.post(f"/api/segments/{segment.id}/generate-audio/", {}, format="json").json()
    assert wait_for_task(first["task_id"], timeout=30)["status"] == "COMPLETED"
    sent = []
    original = remote_synthesis._send
    monkeypatch.setattr(remote_synthesis, "_send", lambda request: sent.append(request) or original(request))
    again = api_client.post(f"/api/segments/{segment.id}/generate-audio/", {}, format="json").json()
    assert wait_for_task(again["task_id"], timeout=30)["status"] == "COMPLETED"
    assert sent == []


def test_failed_segment_lands_in_errors_and_the_batch_goes_on(api_client, fake_engine, fake_pool, celery_mode, project, media_root):
    SegmentFactory(project=project, sequence_index=0, text_content="Fine text.")
    bad = SegmentFactory(project=project, sequence_index=1, text_content="This will FAIL here.")
    SegmentFactory(project=project, sequence_index=2, text_content="Also fine.")
    final, _ = _run_batch(api_client, project)
    assert final["status"] == "COMPLETED"
    assert len(final["completed_segments"]) == 2
    assert [e["segment_id"] for e in final["errors"]] == [str(bad.id)]
    assert "fake engine failure" in final["errors"][0]["error"]
    bad.refresh_from_db()
    assert not bad.audio_file


def test_broker_down_gives_503_naming_it(api_client, fake_engine, settings, project):
    from workers.local_pool import free_port

    settings.STORYFLOW_SYNTHESIS = "celery"
    settings.STORYFLOW_BROKER_URL = f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    segment = SegmentFactory(project=project, sequence_index=0, text_content="Hello there.")
    for url in (f"/api/segments/{segment.id}/generate-audio/", f"/api/projects/{project.id}/generate-all-audio/"):
        response = api_client.post(url, {}, format="json")
        assert response.status_code == 503, response.content
        body = response.json()
        assert "broker" in body["error"] and body["broker"].startswith("redis://:***@127.0.0.1:")
        assert "s3cret" not in response.content.decode()
    segment.refresh_from_db()
    assert not segment.audio_file


def test_cancel_during_a_long_remote_segment_stops_within_a_second(
    api_client, fake_engine, own_redis, project, media_root, tmp_path,
):
    redis_server = own_redis
    from workers.local_pool import Worker, wait_for_workers

    worker = Worker("slow", redis_server.url, tmp_path / "slow.log", env={"STORYFLOW_FAKE_CHUNK_SECONDS": "0.5"})
    try:
        wait_for_workers(redis_server.url, ["slow"])
        long_text = ". ".join(f"Sentence number {i}" for i in range(40)) + "."
        SegmentFactory(project=project, sequence_index=0, text_content=long_text)
        SegmentFactory(project=project, sequence_index=1, text_content="Never reached.")
        response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
        task_id = response.json()["task_id"]
        wait_until(lambda: (api_client.get(f"/api/tasks/{task_id}/status/").json()["progress"]["percentage"] or 0) > 0,
                   timeout=20)
        started = time.monotonic()
        assert api_client.post(f"/api/tasks/{task_id}/cancel/").status_code in (200, 202)
        final = wait_for_task(task_id, timeout=10)
        stopped = time.monotonic() - started
        assert final["status"] == "CANCELLED" and stopped < 1.0, (final["status"], stopped)
        assert Segment.objects.filter(project=project).exclude(audio_file=None).exclude(audio_file="").count() == 0
        assert not list((Path(media_root) / "projects").rglob("*.wav"))
        time.sleep(1.5)
        assert worker.process.poll() is None, "the worker died"
        wait_for_workers(redis_server.url, ["slow"], timeout=10)
    finally:
        worker.stop()


def _files_agree_with_rows(project, media_root) -> None:
    """Every segment's audio_file points at a file, and every WAV on disk is some segment's audio_file."""
    folder = Path(media_root) / "projects" / str(project.id) / "audio"
    pointed = {
        str(Path(media_root) / s.audio_file.removeprefix("/media/"))
        for s in Segment.objects.filter(project=project) if s.audio_file
    }
    on_disk = {str(p) for p in folder.glob("*.wav")} if folder.exists() else set()
    assert pointed == on_disk
    assert not [p for p in folder.iterdir() if p.suffix != ".wav"] if folder.exists() else True


def test_a_worker_killed_mid_segment_is_redone_by_the_other(
    api_client, fake_engine, own_redis, project, media_root, tmp_path,
):
    redis_server = own_redis
    from workers.local_pool import Worker, wait_for_workers

    workers = [Worker(f"k{i}", redis_server.url, tmp_path / f"k{i}.log", env={"STORYFLOW_FAKE_CHUNK_SECONDS": "0.2"})
               for i in (1, 2)]
    try:
        wait_for_workers(redis_server.url, [w.name for w in workers])
        for i in range(6):
            SegmentFactory(project=project, sequence_index=i,
                           text_content=". ".join(f"Segment {i} sentence {j}" for j in range(8)) + ".")
        response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
        task_id = response.json()["task_id"]
        victim = workers[0]
        wait_until(lambda: victim.children(), timeout=10)
        time.sleep(0.6)  # a few chunks into its first segment
        killed = victim.children()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        final = wait_for_task(task_id, timeout=90)
        assert final["status"] == "COMPLETED", final
        assert final["errors"] == [] and len(final["completed_segments"]) == 6
        _files_agree_with_rows(project, media_root)
        assert len(list((Path(media_root) / "projects").rglob("*.wav"))) == 6
        assert "WorkerLostError" in victim.log.read_text() or "exited" in victim.log.read_text()
    finally:
        for worker in workers:
            worker.stop()


def test_redis_stopping_mid_batch_fails_the_batch_clearly(api_client, fake_engine, own_redis, project, media_root, tmp_path):
    from workers.local_pool import Worker, wait_for_workers

    server = own_redis
    worker = Worker("r1", server.url, tmp_path / "r1.log", env={"STORYFLOW_FAKE_CHUNK_SECONDS": "0.1"})
    try:
        wait_for_workers(server.url, ["r1"])
        for i in range(8):
            SegmentFactory(project=project, sequence_index=i, text_content=f"Segment {i} one. Two. Three. Four.")
        task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()["task_id"]
        wait_until(lambda: len(api_client.get(f"/api/tasks/{task_id}/status/").json()["completed_segments"]) >= 2,
                   timeout=30)
        server.stop()
        final = wait_for_task(task_id, timeout=60)
        assert final["status"] == "FAILED", final
        assert any("broker" in e["error"] and "unreachable" in e["error"] for e in final["errors"]), final["errors"]
        status = api_client.get(f"/api/tasks/{task_id}/status/")
        assert status.status_code == 200
        again = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
        assert again.status_code == 503 and "broker" in again.json()["error"]
        _files_agree_with_rows(project, media_root)
        assert 2 <= Segment.objects.filter(project=project).exclude(audio_file=None).exclude(audio_file="").count() < 8
    finally:
        worker.stop()
        server.stop()


def test_engine_endpoint_lists_the_live_workers(api_client, fake_engine, fake_pool, celery_mode, project, media_root):
    SegmentFactory(project=project, sequence_index=0, text_content="Count me. Once.")
    task = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()
    assert wait_for_task(task["task_id"], timeout=30)["status"] == "COMPLETED"
    synthesis = api_client.get("/api/engine/").json()["synthesis"]
    assert synthesis["mode"] == "celery" and synthesis["error"] is None
    assert synthesis["broker"] == celery_mode.url
    by_name = {w["hostname"].split("@")[0]: w for w in synthesis["workers"]}
    assert {"w1", "w2"} <= set(by_name)
    for worker in (by_name["w1"], by_name["w2"]):
        assert worker["concurrency"] == 1 and worker["variant"] == "fake"
        assert worker["cpu"]["cores"] >= 1 and isinstance(worker["cpu"]["vnni"], bool)
    assert sum(w["segments_done"] for w in synthesis["workers"]) >= 1


def test_a_transient_failure_is_retried_and_the_third_failure_lands_in_errors(
    api_client, fake_engine, fake_pool, celery_mode, project, media_root, tmp_path,
):
    heals = SegmentFactory(project=project, sequence_index=0, text_content=f"Works on the third try FLAKY3@{tmp_path}/a")
    never = SegmentFactory(project=project, sequence_index=1, text_content=f"Never works FLAKY9@{tmp_path}/b")
    final, _ = _run_batch(api_client, project)
    assert final["status"] == "COMPLETED"
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(heals.id)]
    assert [e["segment_id"] for e in final["errors"]] == [str(never.id)]
    assert "attempt 3 of 3" in final["errors"][0]["error"] and "transient" in final["errors"][0]["error"]
    assert (tmp_path / "a").read_text() == "3" and (tmp_path / "b").read_text() == "3"
    _files_agree_with_rows(project, media_root)


def test_resume_after_the_web_process_died_resubmits_only_the_missing_segments(
    api_client, fake_engine, fake_pool, celery_mode, project, media_root, monkeypatch,
):
    """The journal of a celery-mode batch whose web process died after segment 0: resume sends the rest."""
    from api.services import remote_synthesis
    from api.services.task_recovery import resume_interrupted_tasks

    segments = [SegmentFactory(project=project, sequence_index=i, text_content=f"Part {i}. Of three.") for i in range(3)]
    ids = [str(s.id) for s in segments]
    folder = Path(media_root) / "projects" / str(project.id) / "audio"
    folder.mkdir(parents=True)
    sf.write(str(folder / f"{ids[0]}.wav"), [0.0] * 2400, 24000, subtype="PCM_16")
    task_id = journal_interrupted_batch(project, ids, [18, 18, 18], 0.1, {"current": 2, "total": 3, "percentage": 33})
    sent = []
    original = remote_synthesis._send
    monkeypatch.setattr(remote_synthesis, "_send", lambda request: sent.append(request["text"]) or original(request))
    assert resume_interrupted_tasks() == [task_id]
    final = wait_for_task(task_id, timeout=30)
    assert final["status"] == "COMPLETED", final
    assert [c["segment_id"] for c in final["completed_segments"]] == ids
    assert sorted(sent) == ["Part 1. Of three.", "Part 2. Of three."]  # segment 0 not redone
    assert fake_engine.calls == []
    _files_agree_with_rows(project, media_root)


def test_no_worker_gives_503_saying_to_start_one(api_client, fake_engine, own_redis, project):
    segment = SegmentFactory(project=project, sequence_index=0, text_content="Nobody will read this.")
    response = api_client.post(f"/api/segments/{segment.id}/generate-audio/", {}, format="json")
    assert response.status_code == 503
    assert "No synthesis worker" in response.json()["error"] and response.json()["broker"] == own_redis.url
