"""Whole-book export over the API: the export task on the shared runner, its files, rows and errors.

The fast tests use the fake TTS engine (conftest) for the segments' audio and
the real audiobook builder (PyAV) for the files; ``test_real_model_export_*``
narrates with the real Kokoro model and checks the M4B by decoding it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import av
import pytest

from api.models import Export, Segment
from api.tasks import TaskManager
from api.tests.conftest import follow_task, wait_for_task, wait_until
from api.tests.factories import ProjectFactory, SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHAPTERS = ["Chapter One. The Harbour", "Chapter Two. The Fog", "Chapter Three. Morning"]


def make_book(project, paragraphs_per_chapter: int = 2) -> list[Segment]:
    """Three chapters: a heading segment (chapter start, narrated) and short paragraphs each."""
    segments, index = [], 0
    for number, title in enumerate(CHAPTERS, start=1):
        segments.append(SegmentFactory(project=project, sequence_index=index, text_content=title, chapter_title=title))
        index += 1
        for p in range(paragraphs_per_chapter):
            segments.append(
                SegmentFactory(
                    project=project, sequence_index=index,
                    text_content=f"Paragraph {p} of chapter {number}. It has two sentences.",
                )
            )
            index += 1
    return segments


def export(api_client, project, fmt="m4b", generate_missing=True):
    return api_client.post(f"/api/projects/{project.id}/export/", {"format": fmt, "generate_missing": generate_missing})


def media_file(settings, url: str) -> Path:
    assert url.startswith("/media/")
    return Path(settings.MEDIA_ROOT) / url[len("/media/"):]


def test_missing_audio_is_a_409_listing_the_segments(api_client, fake_engine, project):
    segments = make_book(project, paragraphs_per_chapter=1)
    response = export(api_client, project, generate_missing=False)
    assert response.status_code == 409
    body = response.json()
    assert [s["segment_id"] for s in body["segments_without_audio"]] == [str(s.id) for s in segments]
    assert [s["sequence_index"] for s in body["segments_without_audio"]] == list(range(len(segments)))
    assert "generate_missing" in body["error"]
    assert fake_engine.calls == [] and not Export.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [({"format": "ogg"}, "error"), ({"format": 3}, "format"), ({}, "format"), ({"format": "m4b", "generate_missing": "yes"}, "generate_missing")],
)
def test_bad_export_options_are_400(api_client, fake_engine, project, body, field):
    make_book(project, 1)
    response = api_client.post(f"/api/projects/{project.id}/export/", body)
    assert response.status_code == 400
    assert field in response.json()


def test_an_empty_project_cannot_be_exported(api_client, fake_engine, project):
    SegmentFactory(project=project, text_content="   ")
    response = export(api_client, project)
    assert response.status_code == 400
    assert "no segments" in response.json()["error"]


def test_export_with_generate_missing_narrates_then_writes_m4b_with_chapters_and_captions(api_client, fake_engine, project, settings):
    segments = make_book(project)
    response = export(api_client, project)
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    final = wait_for_task(task_id, timeout=60)
    assert final["status"] == "COMPLETED", final
    assert final["kind"] == "export" and final["stage"] == "finished" and final["overall_progress"] == 100.0
    assert len(final["completed_segments"]) == len(segments)
    assert final["current_step"].startswith("Exported M4B")

    exports = api_client.get(f"/api/projects/{project.id}/exports/").json()
    assert len(exports) == 1
    item = exports[0]
    assert final["result"] == {"export_id": item["id"], "url": item["url"]}
    assert item["format"] == "m4b" and item["url"].endswith(".m4b") and item["task_id"] == task_id
    assert [c["title"] for c in item["chapters"]] == CHAPTERS
    durations = [Segment.objects.get(pk=s.id).audio_duration for s in segments]
    # Chapter 2 starts after lead-in, chapter 1's three segments, two paragraph pauses and one chapter pause.
    expected_start = project.lead_in + sum(durations[:3]) + 2 * project.paragraph_pause + project.chapter_pause
    assert item["chapters"][1]["start"] == pytest.approx(expected_start, abs=0.05)
    expected_total = project.lead_in + sum(durations) + 6 * project.paragraph_pause + 2 * project.chapter_pause + project.tail
    assert item["duration"] == pytest.approx(expected_total, abs=0.05)
    main = media_file(settings, item["url"])
    assert main.is_file() and main.stat().st_size == item["size_bytes"]
    for url in item["captions"].values():
        assert media_file(settings, url).is_file()
    with av.open(str(main)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert [c["metadata"].get("title") for c in container.chapters()] == CHAPTERS
        assert container.metadata.get("title") == project.title

    detail = api_client.get(f"/api/projects/{project.id}/exports/{item['id']}/")
    assert detail.status_code == 200 and detail.json() == item
    assert api_client.delete(f"/api/projects/{project.id}/exports/{item['id']}/").status_code == 204
    assert not main.exists() and not Export.objects.exists()
    assert api_client.get(f"/api/projects/{project.id}/exports/{item['id']}/").status_code == 404
    assert api_client.get(f"/api/projects/{project.id}/exports/not-a-uuid/").status_code == 404


def test_export_of_a_project_with_audio_does_not_synthesize_again(api_client, fake_engine, project):
    make_book(project, 1)
    batch = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    wait_for_task(batch)
    calls = len(fake_engine.calls)
    task_id = export(api_client, project, fmt="wav", generate_missing=False).json()["task_id"]
    final = wait_for_task(task_id, timeout=60)
    assert final["status"] == "COMPLETED", final
    assert len(fake_engine.calls) == calls and final["completed_segments"] == []
    assert api_client.get(f"/api/projects/{project.id}/exports/").json()[0]["format"] == "wav"


def test_a_second_export_while_one_runs_is_a_409_naming_it(api_client, fake_engine, project):
    make_book(project, 1)
    fake_engine.gate = threading.Event()
    first = export(api_client, project).json()["task_id"]
    second = export(api_client, project)
    assert second.status_code == 409 and second.json()["task_id"] == first
    fake_engine.gate.set()
    assert wait_for_task(first, timeout=60)["status"] == "COMPLETED"


def test_cancel_during_narration_leaves_no_file_and_no_row(api_client, fake_engine, project, media_root):
    make_book(project, 1)
    fake_engine.gate = threading.Event()
    task_id = export(api_client, project).json()["task_id"]
    assert fake_engine.started.wait(5)
    assert api_client.post(f"/api/tasks/{task_id}/cancel/").status_code == 202
    fake_engine.gate.set()
    final = wait_for_task(task_id, timeout=30)
    assert final["status"] == "CANCELLED"
    assert not Export.objects.exists()
    assert not list((media_root / "projects" / str(project.id)).glob("exports/*"))


def test_cancel_during_encoding_leaves_no_file_and_no_row(api_client, fake_engine, project, media_root, monkeypatch):
    """The cancel arrives while the builder encodes (the first encoding report): no partial file, no row."""
    import audiobook

    make_book(project, 2)
    real_export_book = audiobook.export_book
    seen = []

    def export_book_cancelled_midway(plan, fmt, **kwargs):
        on_progress = kwargs["on_progress"]

        def reporting(stage, done, total):
            on_progress(stage, done, total)
            if stage == "encoding" and not seen:
                seen.append(done)
                TaskManager().cancel_task(task_id_holder[0])

        return real_export_book(plan, fmt, **{**kwargs, "on_progress": reporting})

    monkeypatch.setattr(audiobook, "export_book", export_book_cancelled_midway)
    task_id_holder = [None]
    fake_engine.gate = threading.Event()  # hold the task until its id is known
    task_id_holder[0] = export(api_client, project).json()["task_id"]
    fake_engine.gate.set()
    final = wait_for_task(task_id_holder[0], timeout=60)
    assert seen, "the builder never reported encoding"
    assert final["status"] == "CANCELLED", final
    assert not Export.objects.exists()
    assert list((media_root / "projects" / str(project.id) / "exports").glob("*")) == []


def test_export_task_shows_stages_and_moves(api_client, fake_engine, project):
    make_book(project, 2)
    fake_engine.chunk_delay = 0.02
    task_id = export(api_client, project, fmt="mp3").json()["task_id"]
    final, bodies = follow_task(task_id, interval=0.0)
    stages = [b["stage"] for b in bodies]
    assert {"synthesizing", "encoding"} <= set(stages) and final["stage"] == "finished"
    first_seen = list(dict.fromkeys(stage for stage in stages if stage not in {"queued", "preparing", "writing"}))
    assert first_seen[0] == "synthesizing" and first_seen.index("encoding") > 0
    running = [b["overall_progress"] for b in bodies if b["status"] == "PROCESSING"]
    # Within a chunk progress is interpolated at the expected speed; a chunk that turns out shorter than
    # expected pulls it back by at most that chunk's share (here a few per cent of a tiny book).
    assert all(later >= earlier - 10.0 for earlier, later in zip(running, running[1:]))
    assert running[-1] > running[0]
    assert final["status"] == "COMPLETED" and final["result"]["url"].endswith(".mp3")


def test_export_appears_in_the_project_tasks_and_the_journal(api_client, fake_engine, project):
    make_book(project, 1)
    task_id = export(api_client, project).json()["task_id"]
    wait_for_task(task_id, timeout=60)
    tasks = api_client.get(f"/api/projects/{project.id}/tasks/").json()["tasks"]
    assert tasks[0]["task_id"] == task_id and tasks[0]["kind"] == "export"
    TaskManager().journal.flush()
    logs = api_client.get(f"/api/tasks/{task_id}/logs/").json()["logs"]
    assert any("Export" in line["message"] for line in logs)


def test_deleting_the_project_removes_its_exports(api_client, fake_engine, project, media_root):
    make_book(project, 1)
    wait_for_task(export(api_client, project, fmt="wav").json()["task_id"], timeout=60)
    folder = media_root / "projects" / str(project.id) / "exports"
    assert any(folder.iterdir())
    assert api_client.delete(f"/api/projects/{project.id}/").status_code == 204
    wait_until(lambda: not folder.exists())
    assert not Export.objects.exists()


@pytest.mark.real_model
def test_real_model_export_of_a_three_chapter_project_decodes_right(api_client, installed_model, settings):
    """The issue's check: narrate 3 short chapters with Kokoro, export M4B, decode it with PyAV."""
    project = ProjectFactory(title="Three Small Chapters", author="StoryFlow Tests")
    titles = ["One", "Two", "Three"]
    for index, title in enumerate(titles):
        SegmentFactory(project=project, sequence_index=index, text_content=f"Chapter {title}. The lamp was lit.", chapter_title=title)
    task_id = export(api_client, project).json()["task_id"]
    final = wait_for_task(task_id, timeout=600)
    assert final["status"] == "COMPLETED", final
    item = api_client.get(f"/api/projects/{project.id}/exports/").json()[0]
    segments = list(Segment.objects.filter(project=project).order_by("sequence_index"))
    starts = [0.0]
    t = project.lead_in + segments[0].audio_duration
    for segment in segments[1:]:
        t += project.chapter_pause
        starts.append(t)
        t += segment.audio_duration
    total = t + project.tail
    path = media_file(settings, item["url"])
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == titles
        for chapter, start in zip(chapters, starts):
            assert float(chapter["start"] * chapter["time_base"]) == pytest.approx(start, abs=0.05)
        assert container.metadata["title"] == "Three Small Chapters"
        assert container.metadata["artist"] == "StoryFlow Tests"
        assert container.metadata["album"] == "Three Small Chapters"
        assert container.metadata["genre"] == "Audiobook"
        samples = sum(frame.samples for frame in container.decode(stream))
        assert samples / stream.codec_context.sample_rate == pytest.approx(total, abs=0.05)
    # Every segment got sentence cues from the engine, and the captions hold them in book time.
    assert all(segment.audio_cues for segment in segments)
    srt_text = media_file(settings, item["captions"]["srt"]).read_text(encoding="utf-8")
    assert "The lamp was lit." in srt_text


def test_an_export_interrupted_by_a_restart_resumes_and_finishes(api_client, fake_engine, project):
    """The journal of an export the server was running when it stopped: start-up runs it again under its id."""
    from api.models import TaskRecord
    from api.services.task_recovery import resume_interrupted_tasks

    make_book(project, 1)
    fake_engine.gate = threading.Event()
    task_id = export(api_client, project).json()["task_id"]
    assert fake_engine.started.wait(5)
    manager = TaskManager()
    threading.Timer(0.2, fake_engine.gate.set).start()
    manager.shutdown(wait=True, interrupted=True)  # as Ctrl-C on the server
    assert TaskRecord.objects.get(pk=task_id).status == "PROCESSING"
    TaskManager._instance = None  # a new process

    fake_engine.gate = None
    assert resume_interrupted_tasks() == [task_id]
    final = wait_for_task(task_id, timeout=60)
    assert final["status"] == "COMPLETED" and final["kind"] == "export"
    export_row = Export.objects.get()
    assert final["result"]["export_id"] == str(export_row.id)
    assert [c["title"] for c in export_row.chapters] == CHAPTERS
    TaskManager().shutdown(wait=True)
