"""Fault injection: a full disk, an unwritable media folder, a damaged or deleted model, deletes
mid-batch, a locked database, SIGKILL mid-export.

Each test injects the fault, checks what the user is told (a FAILED task whose error says what
to do, or a 4xx/503 JSON body, never a 500 or a traceback), checks that the database and the
files agree, and ends with ``audit_media()`` (``manage.py check_media``) finding nothing.

What is mocked, and why:

- ``fake_model``: the Kokoro model's ``tts_wrapper.synthesize`` (too slow for these tests; the
  real model runs in the ``real_model`` tests below). Everything after it is real: the
  engine's ``generate_audio``, the atomic WAV write, the audio cache, the database.
- The faults themselves where the operating system would have to be broken for real: a full
  disk (``soundfile.write`` / the export encoder raise ENOSPC as they would), a permission
  error when running as root (root ignores ``chmod``), SQLite's "database is locked" (another
  process holding the write lock).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from api.models import Export, Project, Segment
from api.services.media_audit import audit_media
from api.tests.conftest import report_model_installed, wait_for_task
from api.tests.factories import ProjectFactory, SegmentFactory
from core_engine import tts_wrapper
from core_engine.model_loader import BUNDLED_MODEL_NAME, BUNDLED_VOICES_NAME, KokoroModelLoader
from core_engine.sentence_cues import Cue

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[3]


class FakeModel:
    """Stands in for ``tts_wrapper.synthesize`` (the model): a 220 Hz tone, 0.02 s per character,
    one cue. ``gate_text``: a call whose text contains it waits for ``gate`` (set ``reached`` first)."""

    def __init__(self):
        self.texts: list[str] = []
        self.gate = threading.Event()
        self.reached = threading.Event()
        self.gate_text: str | None = None

    def __call__(self, text, voice_id, speed, on_progress=None, *, lexicon=None, target_tokens=None):
        self.texts.append(text)
        if self.gate_text and self.gate_text in text:
            self.reached.set()
            assert self.gate.wait(20), "test gate never opened"
        samples = int(max(0.1, len(text) * 0.02) * 24000)
        audio = (0.2 * np.sin(2 * np.pi * 220 * np.arange(samples) / 24000)).astype(np.float32)
        return tts_wrapper.Synthesis(audio, 24000, [Cue(0.0, samples / 24000, text)])


@pytest.fixture
def fake_model(monkeypatch):
    """Mock the model only (see the module docstring); report it installed with the fake voices."""
    model = FakeModel()
    monkeypatch.setattr(tts_wrapper, "synthesize", model)
    report_model_installed(monkeypatch)
    return model


def story(count: int = 3, project=None):
    project = project or ProjectFactory(title="Faults")
    segments = [
        SegmentFactory(project=project, sequence_index=i, text_content=f"Paragraph {i} of the story, told slowly.")
        for i in range(count)
    ]
    return project, segments


def generate_all(api_client, project) -> str:
    response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def generate_one(api_client, segment) -> str:
    response = api_client.post(f"/api/segments/{segment.id}/generate-audio/", {}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_media_consistent() -> None:
    """Every pointer has its file and every file its pointer; no temp file, however young."""
    report = audit_media(stale_after=0)
    assert report.problems == 0, report.as_dict()


def assert_clear_error(message: str, *words: str) -> None:
    """A message for people: no traceback, no bare errno, and the words that say what to do."""
    assert "Traceback" not in message and "[Errno" not in message and "OSError" not in message, message
    for word in words:
        assert word in message, message


# ------------------------------------------------------------------ full disk


def test_disk_full_while_writing_a_segment_wav_fails_the_batch_once_with_what_to_do(
    api_client, fake_model, media_root, monkeypatch
):
    project, segments = story(3)
    # Injected: libsndfile writing the WAV finds the disk full (the temp file is created, then the write fails).
    from core_engine import audio_utils

    real_write = audio_utils.sf.write

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audio_utils.sf, "write", full)
    final = wait_for_task(generate_all(api_client, project))

    assert final["status"] == "FAILED"
    audio_dir = media_root / "projects" / str(project.id) / "audio"
    message = final["errors"][-1]["error"]
    assert message == f"The disk is full: free space on {audio_dir} and generate again."
    assert_clear_error(final["current_step"], "disk is full", "free space")
    assert len(fake_model.texts) == 1  # stopped at once: every next segment would have failed alike
    assert final["completed_segments"] == []
    assert list(Segment.objects.filter(project=project).values_list("audio_file", flat=True)) == [None] * 3
    assert files_under(audio_dir) == []  # no WAV, no temp file
    assert_media_consistent()

    monkeypatch.setattr(audio_utils.sf, "write", real_write)  # space freed: generating again works
    assert wait_for_task(generate_all(api_client, project))["status"] == "COMPLETED"
    assert len(files_under(audio_dir)) == 3
    assert_media_consistent()


def narrate_all(api_client, project) -> None:
    assert wait_for_task(generate_all(api_client, project))["status"] == "COMPLETED"


def test_disk_full_while_writing_an_export_leaves_no_file_and_says_what_to_do(
    api_client, fake_model, media_root, monkeypatch
):
    project, _ = story(3)
    narrate_all(api_client, project)
    import audiobook.export as builder

    real_encode = builder.encode

    def encode_until_full(path, *args, **kwargs):
        # Injected: the encoder has written part of the book when the disk fills up (PyAV raises an
        # OSError with errno ENOSPC and the file name, av.error.OSError).
        Path(path).write_bytes(b"\xff\xfb" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(builder, "encode", encode_until_full)
    response = api_client.post(f"/api/projects/{project.id}/export/", {"format": "mp3"}, format="json")
    assert response.status_code == 202, response.content
    final = wait_for_task(response.json()["task_id"])

    exports_dir = media_root / "projects" / str(project.id) / "exports"
    assert final["status"] == "FAILED"
    message = final["errors"][-1]["error"]
    assert message == f"The disk is full: free space on {exports_dir} and export again."
    assert_clear_error(final["current_step"], "disk is full")
    assert not Export.objects.exists()
    assert files_under(exports_dir) == []  # neither the partial MP3 nor the caption temps
    assert_media_consistent()

    monkeypatch.setattr(builder, "encode", real_encode)  # space freed: the export runs again
    response = api_client.post(f"/api/projects/{project.id}/export/", {"format": "mp3"}, format="json")
    assert wait_for_task(response.json()["task_id"])["status"] == "COMPLETED"
    assert Export.objects.count() == 1
    assert_media_consistent()


# --------------------------------------------------------- unwritable media folder


@pytest.fixture
def unwritable_media(media_root, monkeypatch):
    """MEDIA_ROOT made read-only (0o500). As root, chmod does not stop writes, so the refusal is
    injected instead: creating a temp file under MEDIA_ROOT raises PermissionError(EACCES), as
    the kernel would for another user."""
    from core_engine import atomic_files

    if os.geteuid() == 0:
        real_mkstemp = atomic_files.tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(media_root) in (Path(dir), *Path(dir).parents):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(atomic_files.tempfile, "mkstemp", refuse)
        yield media_root
        monkeypatch.setattr(atomic_files.tempfile, "mkstemp", real_mkstemp)
    else:
        media_root.chmod(0o500)
        try:
            yield media_root
        finally:
            media_root.chmod(0o700)


def test_unwritable_media_folder_fails_generation_with_what_to_fix(api_client, fake_model, unwritable_media):
    project, segments = story(2)
    final = wait_for_task(generate_one(api_client, segments[0]))
    assert final["status"] == "FAILED"
    message = final["errors"][-1]["error"]
    assert_clear_error(message, "may not write to", "permission denied", "make it writable", "generate again")
    assert str(unwritable_media) in message
    assert Segment.objects.get(id=segments[0].id).audio_file is None
    assert files_under(unwritable_media / "projects") == []


def test_unwritable_media_folder_on_a_request_is_503_json_not_500(api_client, fake_model, unwritable_media):
    # The voice picker's sample is written on the request's thread (api/services/voice_samples.py).
    response = api_client.post("/api/voices/preview/", {"voice": "jf_alpha"}, format="json")
    assert response.status_code == 503
    body = response.json()
    assert_clear_error(body["error"], "may not write to", "permission denied", "try again")
    assert files_under(unwritable_media / "cache") == []
    assert_media_consistent()


# ------------------------------------------------------- damaged or deleted model


@pytest.fixture
def own_models_dir(installed_model, tmp_path, settings):
    """A copy (not a link: it gets truncated) of the bundled model in a folder of this test."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (BUNDLED_MODEL_NAME, BUNDLED_VOICES_NAME):
        shutil.copyfile(installed_model / name, folder / name)
    settings.TTS_MODELS_DIR = folder
    KokoroModelLoader.reset()
    yield folder
    KokoroModelLoader.reset()  # later tests must not see sessions or failures of these files


@pytest.mark.real_model
def test_model_deleted_while_the_server_runs_is_503_saying_to_install_it(api_client, own_models_dir):
    project, segments = story(2)
    assert wait_for_task(generate_one(api_client, segments[0]), timeout=120)["status"] == "COMPLETED"
    assert KokoroModelLoader.loaded_sessions()  # the session is loaded and cached

    (own_models_dir / BUNDLED_MODEL_NAME).unlink()
    response = api_client.post(f"/api/segments/{segments[1].id}/generate-audio/", {}, format="json")
    assert response.status_code == 503
    body = response.json()
    assert_clear_error(body["error"], "was deleted or moved", "python manage.py install_model")
    assert body["model_file"] == str(own_models_dir / BUNDLED_MODEL_NAME)
    assert Segment.objects.get(id=segments[1].id).audio_file is None
    assert_media_consistent()


@pytest.mark.real_model
def test_damaged_model_fails_the_task_clearly_then_is_refused_with_503(api_client, own_models_dir):
    project, segments = story(3)
    assert wait_for_task(generate_one(api_client, segments[0]), timeout=120)["status"] == "COMPLETED"

    model = own_models_dir / BUNDLED_MODEL_NAME
    with open(model, "r+b") as handle:  # a half-copied or damaged file
        handle.truncate(model.stat().st_size // 2)
    final = wait_for_task(generate_one(api_client, segments[1]), timeout=120)
    assert final["status"] == "FAILED"
    message = final["errors"][-1]["error"]
    assert_clear_error(message, "cannot be loaded", "damaged", "python manage.py install_model")
    assert str(model) in message

    # The failure is remembered for this file: the next request is refused at once.
    response = api_client.post(f"/api/segments/{segments[2].id}/generate-audio/", {}, format="json")
    assert response.status_code == 503
    assert response.json()["error"] == message
    # A voice sample says the same, not the spec's "please install" of a model that is there.
    voice = api_client.get("/api/voices/").json()["voices"][0]
    sample = api_client.post("/api/voices/preview/", {"voice": voice, "text": "Hello."}, format="json")
    assert sample.status_code == 503
    assert sample.json()["error"] == message
    assert list(Segment.objects.filter(id__in=[segments[1].id, segments[2].id]).values_list("audio_file", flat=True)) \
        == [None, None]
    assert_media_consistent()


# ---------------------------------------------------------------- deletes mid-batch


def generate_all_deleting_during_paragraph_1(api_client, fake_model, project, delete_url: str) -> dict:
    """Run generate-all-audio on ``project``, DELETE ``delete_url`` while paragraph 1 is being
    synthesized, and return the task's final snapshot."""
    fake_model.gate_text = "Paragraph 1 "
    task_id = generate_all(api_client, project)
    assert fake_model.reached.wait(10)
    assert api_client.delete(delete_url).status_code == 204
    fake_model.gate.set()
    return wait_for_task(task_id)


def test_segment_deleted_mid_synthesis_leaves_no_wav_and_the_batch_goes_on(api_client, fake_model, media_root):
    project, segments = story(3)
    final = generate_all_deleting_during_paragraph_1(
        api_client, fake_model, project, f"/api/segments/{segments[1].id}/"
    )

    assert final["status"] == "COMPLETED"
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(segments[0].id), str(segments[2].id)]
    assert final["errors"] == [{
        "segment_id": str(segments[1].id), "error": "Segment was deleted during synthesis; its audio was discarded.",
    }]
    audio_dir = media_root / "projects" / str(project.id) / "audio"
    assert files_under(audio_dir) == sorted(f"{s.id}.wav" for s in (segments[0], segments[2]))
    assert_media_consistent()


def test_project_deleted_mid_batch_stops_it_and_leaves_no_file(api_client, fake_model, media_root):
    project, segments = story(4)
    final = generate_all_deleting_during_paragraph_1(api_client, fake_model, project, f"/api/projects/{project.id}/")

    assert final["status"] == "FAILED"
    assert final["errors"][-1]["error"] == (
        "The project was deleted while its audio was being generated; the batch stopped and kept no audio of it."
    )
    assert len(fake_model.texts) == 2  # segments 2 and 3 were not tried
    assert not Project.objects.exists() and not Segment.objects.exists()
    assert not (media_root / "projects" / str(project.id)).exists()  # segment 1's WAV, written after the delete, went
    assert_media_consistent()


# ----------------------------------------------------------------- database locked


@pytest.fixture
def locked_audio_writes(monkeypatch):
    """Make the write of a segment's audio pointer find SQLite locked, ``times`` times (another
    process holding the write lock past the 30 s busy timeout: injected, see the module docstring)."""
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    real_update = QuerySet.update
    state = {"left": 0, "raised": 0}

    def update(self, **kwargs):
        if self.model is Segment and "audio_file" in kwargs and kwargs["audio_file"] and state["left"]:
            state["left"] -= 1
            state["raised"] += 1
            raise OperationalError("database is locked")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)

    def lock(times: int):
        state["left"] = times
        return state

    return lock


def test_database_locked_briefly_during_a_batch_is_retried(api_client, fake_model, media_root, locked_audio_writes):
    project, segments = story(2)
    state = locked_audio_writes(2)
    final = wait_for_task(generate_all(api_client, project))
    assert state["raised"] == 2
    assert final["status"] == "COMPLETED" and final["errors"] == []
    assert all(s.audio_file for s in Segment.objects.filter(project=project))
    assert_media_consistent()


def test_database_locked_for_good_fails_that_segment_clearly_and_leaves_no_orphan(
    api_client, fake_model, media_root, locked_audio_writes
):
    project, segments = story(2)
    locked_audio_writes(4)  # the first segment's write and its three retries
    final = wait_for_task(generate_all(api_client, project), timeout=30)

    assert final["status"] == "COMPLETED"
    assert [c["segment_id"] for c in final["completed_segments"]] == [str(segments[1].id)]
    [error] = final["errors"]
    assert error["segment_id"] == str(segments[0].id)
    assert_clear_error(error["error"], "database stayed locked", "generate again")
    assert Segment.objects.get(id=segments[0].id).audio_file is None
    audio_dir = media_root / "projects" / str(project.id) / "audio"
    assert files_under(audio_dir) == [f"{segments[1].id}.wav"]  # no WAV the database does not point to
    assert_media_consistent()


def test_database_locked_on_a_request_is_503_json_not_500(api_client, monkeypatch):
    """A request's own write that finds SQLite locked past its timeout (injected, as above)."""
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    project, segments = story(1)
    real_update = QuerySet.update

    def update(self, **kwargs):
        if self.model is Segment:
            raise OperationalError("database is locked")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)
    response = api_client.patch(f"/api/segments/{segments[0].id}/", {"text_content": "New text."}, format="json")
    assert response.status_code == 503
    assert_clear_error(response.json()["error"], "database is busy", "try again")
    assert Segment.objects.get(id=segments[0].id).text_content == segments[0].text_content
    assert_media_consistent()


# ------------------------------------------------------------- SIGKILL mid-export

SEED = """
import numpy as np
from api.models import Project, Segment
from core_engine.audio_utils import write_wav_atomic
from core_engine.tts_wrapper import construct_audio_path, construct_audio_url
project = Project.objects.create(title="Killed export")
seconds = {seconds}
for i in range({count}):
    segment = Segment.objects.create(project=project, sequence_index=i, text_content=f"Paragraph {{i}}.")
    t = np.arange(int(seconds * 24000)) / 24000
    write_wav_atomic(construct_audio_path(project.id, segment.id),
                     (0.2 * np.sin(2 * np.pi * (200 + 10 * i) * t)).astype(np.float32), 24000)
    Segment.objects.filter(id=segment.id).update(audio_file=construct_audio_url(project.id, segment.id),
                                                 audio_duration=round(seconds, 2), audio_cues=[])
print(project.id)
"""


def manage(server, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=server.env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def export_server(tmp_path):
    """A ``manage.py runserver --noreload`` subprocess with its own database and media folder
    (``test_task_server.Server``). Embedded mode has no fake engine for a subprocess
    (``STORYFLOW_WORKER_SYNTHESIZE`` is read by Celery workers only), so the project is seeded
    with its audio already there: the export needs no synthesis."""
    from api.tests.test_task_server import Server

    server = Server(tmp_path)
    yield server
    server.stop()


def test_sigkill_mid_export_leaves_no_partial_file_and_the_export_runs_again(export_server):
    seeded = manage(export_server, "shell", "-c", SEED.format(count=12, seconds=25.0))
    assert seeded.returncode == 0, seeded.stderr
    project_id = seeded.stdout.strip().splitlines()[-1]
    exports_dir = export_server.media / "projects" / project_id / "exports"
    srv = export_server.start()

    response = requests.post(f"{srv.url}/api/projects/{project_id}/export/", json={"format": "mp3"}, timeout=10)
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    srv.wait_for(task_id, lambda b: b["stage"] == "encoding" and b["overall_progress"] > 20, timeout=120)
    srv.kill()  # SIGKILL: no clean-up code runs

    left = sorted(p.name for p in exports_dir.iterdir())
    assert left and all(name.startswith(".") and name.endswith(".tmp") for name in left), left  # only temps
    before = manage(export_server, "check_media", "--json")
    # The interrupted task is still PROCESSING in the journal: its project's files are not judged
    # (the restart resumes it), so nothing is reported and nothing would be deleted.
    assert before.returncode == 0, before.stdout + before.stderr
    assert json.loads(before.stdout)["skipped"]["projects_with_active_tasks"] == [project_id]

    srv.start()  # removes the temps of interrupted writes, resumes the export from the start
    final = srv.wait_for(task_id, lambda b: b["status"] in {"COMPLETED", "FAILED", "CANCELLED"}, timeout=180)
    assert final["status"] == "COMPLETED", final
    exports = requests.get(f"{srv.url}/api/projects/{project_id}/exports/", timeout=10).json()
    assert len(exports) == 1
    stem = exports[0]["url"].rsplit("/", 1)[1].rsplit(".", 1)[0]
    assert sorted(p.name for p in exports_dir.iterdir()) == sorted(f"{stem}.{ext}" for ext in ("mp3", "srt", "vtt"))

    fixed = manage(export_server, "check_media", "--fix", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    report = json.loads(fixed.stdout)
    assert report["problems"] == 0 and report["remaining"] == 0, report

    again = requests.post(f"{srv.url}/api/projects/{project_id}/export/", json={"format": "mp3"}, timeout=10)
    assert again.status_code == 202, again.text
    assert srv.wait_for(again.json()["task_id"], lambda b: b["status"] != "PROCESSING" and b["status"] != "PENDING",
                        timeout=180)["status"] == "COMPLETED"
    assert len(requests.get(f"{srv.url}/api/projects/{project_id}/exports/", timeout=10).json()) == 2
    srv.stop()
    clean = manage(export_server, "check_media", "--json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["problems"] == 0, clean.stdout
