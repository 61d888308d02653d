"""Projects, segments, import, settings and voices; bad input gets clear 4xx JSON, never a 500."""
import uuid

import pytest
from django.urls import resolve

from api.models import MAX_SEGMENT_TEXT_LENGTH, GlobalSettings, Project, Segment
from api.tests.factories import ProjectFactory, SegmentFactory

pytestmark = pytest.mark.django_db


# --- projects -----------------------------------------------------------------


def test_project_crud(api_client):
    created = api_client.post("/api/projects/", {"title": "Night Train"})
    assert created.status_code == 201
    project_id = created.json()["id"]
    assert created.json()["segment_count"] == 0
    assert api_client.get("/api/projects/").json()[0]["title"] == "Night Train"
    assert api_client.patch(f"/api/projects/{project_id}/", {"title": "Night Ferry"}).json()["title"] == "Night Ferry"
    assert api_client.delete(f"/api/projects/{project_id}/").status_code == 204
    assert api_client.get(f"/api/projects/{project_id}/").status_code == 404


def test_project_detail_includes_segments_in_sequence_order(api_client, project):
    for index in (2, 0, 1):
        SegmentFactory(project=project, sequence_index=index, text_content=f"S{index}")
    body = api_client.get(f"/api/projects/{project.id}/").json()
    assert [s["text_content"] for s in body["segments"]] == ["S0", "S1", "S2"]
    assert set(body["segments"][0]) == {
        "id", "project", "sequence_index", "text_content", "is_locked", "audio_file", "audio_duration",
        "chapter_title", "cues", "voice", "speed", "audio_stale", "etag",
    }
    assert body["segment_count"] == 3


def test_project_list_counts_segments_and_audio(api_client, project):
    SegmentFactory(project=project, audio_file="/media/a.wav", audio_duration=2.5)
    SegmentFactory(project=project, audio_file="/media/b.wav", audio_duration=1.5)
    row = api_client.get("/api/projects/").json()[0]
    assert row["segment_count"] == 2 and row["total_audio_duration"] == 4.0


# --- segments -------------------------------------------------------------------


def test_segments_filter_by_project(api_client):
    first, second = ProjectFactory(), ProjectFactory()
    SegmentFactory.create_batch(2, project=first)
    SegmentFactory.create_batch(3, project=second)
    assert len(api_client.get(f"/api/segments/?project={first.id}").json()) == 2
    assert len(api_client.get(f"/api/segments/?project={second.id}").json()) == 3
    assert len(api_client.get("/api/segments/").json()) == 5


def test_segment_filter_with_bad_project_id_is_400(api_client):
    response = api_client.get("/api/segments/?project=not-a-uuid")
    assert response.status_code == 400
    assert "project" in response.json()


def test_segment_create_appends_at_end(api_client, project):
    SegmentFactory(project=project, sequence_index=4)
    response = api_client.post("/api/segments/", {"project": str(project.id), "text_content": "New end."})
    assert response.status_code == 201
    assert response.json()["sequence_index"] == 5
    assert response.json()["audio_file"] is None and response.json()["is_locked"] is False


def test_segment_update_and_lock_toggle(api_client, project):
    segment = SegmentFactory(project=project)
    assert api_client.patch(f"/api/segments/{segment.id}/", {"text_content": "Edited."}).json()["text_content"] == "Edited."
    assert api_client.patch(f"/api/segments/{segment.id}/", {"is_locked": True}).json()["is_locked"] is True
    response = api_client.patch(f"/api/segments/{segment.id}/", {"text_content": "Sneaky edit."})
    assert response.status_code == 409
    assert "locked" in response.json()["error"].lower()
    both = api_client.patch(f"/api/segments/{segment.id}/", {"is_locked": False, "text_content": "Unlocked edit."})
    assert both.status_code == 200 and both.json()["text_content"] == "Unlocked edit."


def test_audio_fields_are_read_only(api_client, project):
    segment = SegmentFactory(project=project)
    api_client.patch(f"/api/segments/{segment.id}/", {"audio_file": "/media/evil.wav", "audio_duration": 9})
    segment.refresh_from_db()
    assert segment.audio_file is None and segment.audio_duration is None


def test_segment_cannot_move_project(api_client, project):
    segment = SegmentFactory(project=project)
    other = ProjectFactory()
    response = api_client.patch(f"/api/segments/{segment.id}/", {"project": str(other.id)})
    assert response.status_code == 400 and "project" in response.json()


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/projects/not-a-uuid/", "/api/segments/123/", "/api/projects/zzz/generate-all-audio/", "/api/segments/x/generate-audio/"],
)
def test_non_uuid_ids_are_404(api_client, url):
    response = api_client.get(url) if "generate" not in url else api_client.post(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text_content": 123}, "text_content"),
        ({"text_content": ["a"]}, "text_content"),
        ({"is_locked": "yes"}, "is_locked"),
        ({"is_locked": 1}, "is_locked"),
        ({"sequence_index": "3"}, "sequence_index"),
        ({"sequence_index": -1}, "sequence_index"),
    ],
)
def test_wrong_json_types_are_400_with_field_errors(api_client, project, payload, field):
    segment = SegmentFactory(project=project)
    response = api_client.patch(f"/api/segments/{segment.id}/", payload)
    assert response.status_code == 400
    assert field in response.json()


def test_text_over_maximum_is_400(api_client, project):
    segment = SegmentFactory(project=project)
    response = api_client.patch(f"/api/segments/{segment.id}/", {"text_content": "a" * (MAX_SEGMENT_TEXT_LENGTH + 1)})
    assert response.status_code == 400
    assert str(MAX_SEGMENT_TEXT_LENGTH) in response.json()["text_content"][0]
    ok = api_client.patch(f"/api/segments/{segment.id}/", {"text_content": "a" * MAX_SEGMENT_TEXT_LENGTH})
    assert ok.status_code == 200


def test_malformed_json_is_400(api_client, project):
    response = api_client.post("/api/projects/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_missing_title_is_400(api_client):
    response = api_client.post("/api/projects/", {})
    assert response.status_code == 400 and "title" in response.json()


# --- import -------------------------------------------------------------------------


def test_import_creates_project_with_one_segment_per_paragraph(api_client):
    text = "CHAPTER I. The Shore\n\nFirst paragraph, line one.\nLine two.\n\n   \n\n* * *\n\nSecond paragraph."
    response = api_client.post("/api/projects/import/", {"title": "Shore", "text": text})
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Shore"
    assert [s["text_content"] for s in body["segments"]] == [
        "CHAPTER I. The Shore",
        "First paragraph, line one.\nLine two.",
        "Second paragraph.",
    ]
    assert [s["sequence_index"] for s in body["segments"]] == [0, 1, 2]
    assert Project.objects.get(id=body["id"]).segments.count() == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x"}, "text"),
        ({"text": "words"}, "title"),
        ({"title": "x", "text": "   \n\n  "}, "text"),
        ({"title": "x", "text": 5}, "text"),
        ({"title": "", "text": "words"}, "title"),
    ],
)
def test_import_bad_input_is_400(api_client, payload, field):
    response = api_client.post("/api/projects/import/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert Project.objects.count() == 0


def test_import_paragraph_over_maximum_is_400_and_creates_nothing(api_client):
    text = "Short.\n\n" + "word " * (MAX_SEGMENT_TEXT_LENGTH // 4)
    response = api_client.post("/api/projects/import/", {"title": "Long", "text": text})
    assert response.status_code == 400
    assert "Paragraph 2" in response.json()["text"][0]
    assert Project.objects.count() == 0 and Segment.objects.count() == 0


# --- settings and voices --------------------------------------------------------------


def test_settings_get_creates_defaults(api_client):
    assert api_client.get("/api/settings/").json() == {"default_voice_id": "jf_alpha", "tts_speed": 1.0}
    assert GlobalSettings.objects.count() == 1


def test_settings_patch(api_client, fake_engine):
    response = api_client.patch("/api/settings/", {"default_voice_id": "jm_kumo", "tts_speed": 1.25})
    assert response.status_code == 200
    assert response.json() == {"default_voice_id": "jm_kumo", "tts_speed": 1.25}
    assert GlobalSettings.load().tts_speed == 1.25
    assert GlobalSettings.objects.count() == 1


def test_settings_unknown_voice_is_400(api_client, fake_engine):
    response = api_client.patch("/api/settings/", {"default_voice_id": "zz_nobody"})
    assert response.status_code == 400
    assert "zz_nobody" in response.json()["default_voice_id"][0]
    assert "jf_alpha" in response.json()["default_voice_id"][0]


@pytest.mark.parametrize("speed", [0.49, 2.01, -1, "fast", "1.0", True, None])
def test_settings_speed_out_of_range_or_wrong_type_is_400(api_client, fake_engine, speed):
    response = api_client.patch("/api/settings/", {"tts_speed": speed}, format="json")
    assert response.status_code == 400
    assert "tts_speed" in response.json()
    assert GlobalSettings.load().tts_speed == 1.0


@pytest.mark.parametrize("speed", [0.5, 2.0, 1])
def test_settings_speed_bounds_are_inclusive(api_client, fake_engine, speed):
    assert api_client.patch("/api/settings/", {"tts_speed": speed}).status_code == 200


def test_voices_lists_installed_voices(api_client, fake_engine):
    body = api_client.get("/api/voices/").json()
    assert body["voices"] == ["jf_alpha", "jm_kumo"]
    assert body["default_voice_id"] == "jf_alpha"


# --- routing (spec §8.8) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "view_name"),
    [
        (f"/api/segments/{uuid.uuid4()}/generate-audio/", "segment-generate-audio"),
        (f"/api/projects/{uuid.uuid4()}/generate-all-audio/", "project-generate-all-audio"),
        ("/api/tasks/tts_batch_x_1234abcd/status/", "task-status"),
        ("/api/tasks/tts_batch_x_1234abcd/cancel/", "task-cancel"),
        ("/api/projects/import/", "project-import-story"),
        ("/api/projects/", "project-list"),
        ("/api/segments/", "segment-list"),
        ("/api/settings/", "settings"),
        ("/api/voices/", "voices"),
    ],
)
def test_routes_resolve(path, view_name):
    assert resolve(path).url_name == view_name


def test_generate_endpoints_reject_get(api_client, project):
    assert api_client.get(f"/api/projects/{project.id}/generate-all-audio/").status_code == 405


def test_project_list_query_count_does_not_grow_with_projects(api_client, django_assert_max_num_queries):
    for _ in range(10):
        SegmentFactory.create_batch(2, project=ProjectFactory())
    with django_assert_max_num_queries(2):
        rows = api_client.get("/api/projects/").json()
    assert len(rows) == 10 and all(row["total_audio_duration"] == 0.0 for row in rows)
