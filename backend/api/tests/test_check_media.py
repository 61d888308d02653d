"""``manage.py check_media [--fix] [--json]`` and ``audit_media``: orphans, missing files, stale temps."""
from __future__ import annotations

import io
import json
import os
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from django.core.management import call_command

from api.models import Export, Segment, TaskRecord
from api.services.media_audit import audit_media
from api.tests.factories import ProjectFactory, SegmentFactory
from core_engine.atomic_files import STALE_TEMP_AGE_SECONDS
from core_engine.audio_utils import write_wav_atomic
from core_engine.tts_wrapper import construct_audio_path, construct_audio_url

pytestmark = pytest.mark.django_db


def run_check(*args) -> tuple[int, str]:
    """Run the command in this process; return (exit status, stdout)."""
    out = io.StringIO()
    try:
        call_command("check_media", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


def narrated(project, index: int = 0) -> Segment:
    """A segment of ``project`` with a real WAV and the pointer generation writes."""
    segment = SegmentFactory(project=project, sequence_index=index)
    write_wav_atomic(construct_audio_path(project.id, segment.id), np.zeros(2400, dtype=np.float32), 24000)
    Segment.objects.filter(id=segment.id).update(
        audio_file=construct_audio_url(project.id, segment.id), audio_duration=0.1, audio_cues=[],
        audio_identity="a" * 64,
    )
    return Segment.objects.get(id=segment.id)


def exported(project, media_root, stem: str = "book") -> Export:
    folder = media_root / "projects" / str(project.id) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("mp3", "srt", "vtt"):
        (folder / f"{stem}.{ext}").write_bytes(b"x")
    base = f"projects/{project.id}/exports/{stem}"
    return Export.objects.create(project=project, format="mp3", file_path=f"{base}.mp3", srt_path=f"{base}.srt",
                                 vtt_path=f"{base}.vtt", size_bytes=1, duration=0.1)


def make_old(path, seconds: float = STALE_TEMP_AGE_SECONDS + 60) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_a_consistent_media_folder_is_clean(media_root):
    project = ProjectFactory()
    narrated(project)
    exported(project, media_root)
    (media_root / "cache" / "audio").mkdir(parents=True)
    (media_root / "cache" / "audio" / f"{'0' * 64}.wav").write_bytes(b"cached")  # no row points at the cache

    status, out = run_check("--json")
    body = json.loads(out)
    assert status == 0
    assert body["orphan_files"] == body["missing_files"] == body["stale_temp_files"] == []
    assert body["problems"] == 0 and body["remaining"] == 0
    status, out = run_check()
    assert status == 0 and "consistent" in out


def test_every_kind_of_problem_is_reported_then_fixed(media_root):
    project = ProjectFactory()
    kept = narrated(project, 0)
    lost = narrated(project, 1)
    os.remove(construct_audio_path(project.id, lost.id))  # pointer to a missing file
    orphan = media_root / "projects" / str(project.id) / "audio" / "nobody.wav"
    orphan.write_bytes(b"RIFF")
    export = exported(project, media_root)
    os.remove(media_root / export.file_path)  # export whose main file is gone
    captions = exported(project, media_root, stem="other")
    os.remove(media_root / captions.vtt_path)  # only a caption is gone
    gone = media_root / "projects" / "0b7d9a36-3c2e-4a0e-9d5e-1f2a3b4c5d6e" / "audio"
    gone.mkdir(parents=True)
    (gone / "x.wav").write_bytes(b"RIFF")  # folder of a deleted project
    stale = media_root / "projects" / str(project.id) / "audio" / f".{kept.id}.wav.abc123.tmp"
    stale.write_bytes(b"partial")
    make_old(stale)
    young = media_root / "projects" / str(project.id) / "audio" / f".{kept.id}.wav.def456.tmp"
    young.write_bytes(b"being written")
    cache_stale = media_root / "cache" / "audio" / f".{'1' * 64}.wav.aaaaaa.tmp"
    cache_stale.parent.mkdir(parents=True)
    cache_stale.write_bytes(b"partial")
    make_old(cache_stale)

    status, out = run_check("--json")
    body = json.loads(out)
    assert status == 1
    assert sorted(body["orphan_files"]) == sorted([
        f"projects/{project.id}/audio/nobody.wav", "projects/0b7d9a36-3c2e-4a0e-9d5e-1f2a3b4c5d6e/",
    ])
    assert sorted(body["stale_temp_files"]) == sorted([
        f"projects/{project.id}/audio/{stale.name}", f"cache/audio/{cache_stale.name}",
    ])
    missing = body["missing_files"]
    assert len(missing) == 3
    assert any(line.startswith(f"Segment {lost.id} (project {project.id}, #1)") for line in missing)
    assert any(line.startswith(f"Export {export.id}") and line.endswith(".mp3") for line in missing)
    assert any(line.startswith(f"Export {captions.id}") and line.endswith(".vtt") for line in missing)
    assert body["problems"] == 7 and body["fixed"] == 0
    assert orphan.exists() and stale.exists()  # without --fix nothing changes

    human_status, human = run_check()
    assert human_status == 1 and "7 problem(s) found" in human and "--fix" in human

    status, out = run_check("--fix", "--json")
    body = json.loads(out)
    assert status == 0 and body["fixed"] == 7 and body["remaining"] == 0
    assert not orphan.exists() and not stale.exists() and not cache_stale.exists()
    assert not (media_root / "projects" / "0b7d9a36-3c2e-4a0e-9d5e-1f2a3b4c5d6e").exists()
    assert young.exists()  # a write that may be in progress is left alone
    lost.refresh_from_db()
    assert (lost.audio_file, lost.audio_duration, lost.audio_cues, lost.audio_identity) == (None, None, None, "")
    kept.refresh_from_db()
    assert kept.audio_file == construct_audio_url(project.id, kept.id)
    assert not Export.objects.filter(id=export.id).exists()
    assert not any((media_root / "projects" / str(project.id) / "exports").glob("book.*"))  # its captions went too
    captions.refresh_from_db()
    assert captions.vtt_path == "" and captions.srt_path and (media_root / captions.file_path).is_file()

    assert audit_media().problems == 0
    assert run_check()[0] == 0


def test_a_project_with_an_active_task_is_not_checked(media_root):
    project = ProjectFactory()
    narrated(project)
    half_written = media_root / "projects" / str(project.id) / "audio" / "new.wav"
    half_written.write_bytes(b"RIFF")  # a task writes, then points: not an orphan while it runs
    TaskRecord.objects.create(task_id="tts_batch_x", kind="batch", project_id=project.id, status="PROCESSING",
                              created_at=datetime.now(timezone.utc))
    report = audit_media(fix=True)
    assert report.problems == 0 and report.skipped_projects == [str(project.id)]
    assert half_written.exists()
    status, out = run_check()
    assert status == 0 and "Not checked: 1 project" in out

    TaskRecord.objects.filter(task_id="tts_batch_x").update(status="COMPLETED")
    report = audit_media()
    assert report.orphan_files == [f"projects/{project.id}/audio/new.wav"] and report.remaining == 1


def test_stale_after_is_the_temp_age_threshold(media_root):
    project = ProjectFactory()
    narrated(project)
    temp = media_root / "projects" / str(project.id) / "audio" / ".x.wav.123456.tmp"
    temp.write_bytes(b"partial")
    assert audit_media().stale_temp_files == []
    assert audit_media(stale_after=0).stale_temp_files == [f"projects/{project.id}/audio/{temp.name}"]
