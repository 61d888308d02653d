"""Deleting segments and projects deletes their audio — spec §8.4 and issue item 8."""
from pathlib import Path

import pytest

from api.models import Project, Segment
from api.tests.conftest import wait_for_task
from api.tests.factories import ProjectFactory, SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def wav_files(root):
    """Segment and export WAVs (the audio cache under ``cache/`` is not a project's file)."""
    return sorted(Path(root, "projects").rglob("*.wav"))


def generate_all(api_client, project):
    wait_for_task(api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"])


def test_deleting_segment_removes_its_wav(api_client, fake_engine, project, segments, media_root):
    generate_all(api_client, project)
    assert len(wav_files(media_root)) == 3
    target = Segment.objects.get(id=segments[1].id)
    path = Path(media_root) / target.audio_file.removeprefix("/media/")
    assert path.is_file()
    assert api_client.delete(f"/api/segments/{target.id}/").status_code == 204
    assert not path.exists()
    assert len(wav_files(media_root)) == 2
    # no orphans: every remaining file is pointed to by a segment
    pointed = {Path(media_root) / s.audio_file.removeprefix("/media/") for s in Segment.objects.all()}
    assert set(wav_files(media_root)) == pointed


def test_deleting_segment_without_audio_works(api_client, project, segments):
    assert api_client.delete(f"/api/segments/{segments[0].id}/").status_code == 204
    assert not Segment.objects.filter(id=segments[0].id).exists()


def test_deleting_locked_segment_is_409(api_client, project):
    segment = SegmentFactory(project=project, is_locked=True)
    response = api_client.delete(f"/api/segments/{segment.id}/")
    assert response.status_code == 409
    assert "locked" in response.json()["error"].lower()
    assert Segment.objects.filter(id=segment.id).exists()


def test_deleting_project_removes_its_media_folder_only(api_client, fake_engine, media_root):
    keep, drop = ProjectFactory(), ProjectFactory()
    for project in (keep, drop):
        SegmentFactory(project=project, text_content="Some words.")
        generate_all(api_client, project)
    assert (Path(media_root) / "projects" / str(drop.id)).is_dir()
    assert api_client.delete(f"/api/projects/{drop.id}/").status_code == 204
    assert not (Path(media_root) / "projects" / str(drop.id)).exists()
    assert (Path(media_root) / "projects" / str(keep.id)).is_dir()
    assert not Segment.objects.filter(project_id=drop.id).exists()


def test_orm_delete_from_admin_paths_also_cleans_up(api_client, fake_engine, project, segments, media_root):
    generate_all(api_client, project)
    Segment.objects.filter(id__in=[segments[0].id, segments[1].id]).delete()  # the admin's bulk delete
    assert len(wav_files(media_root)) == 1
    Project.objects.filter(id=project.id).delete()
    assert wav_files(media_root) == []
