"""The Django admin pages for projects, segments and settings render and search."""
import pytest

from api.models import GlobalSettings
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_segment_changelist_shows_columns_and_searches_text(admin_client, project):
    SegmentFactory(project=project, text_content="The lighthouse keeper slept.", audio_file="/media/x.wav", audio_duration=3.25)
    SegmentFactory(project=project, text_content="Gulls circled the rocks.")
    response = admin_client.get("/admin/api/segment/", {"q": "lighthouse"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The lighthouse keeper slept." in page and "Gulls circled" not in page
    for column in ("project", "sequence index", "is locked", "has audio", "audio duration"):
        assert column in page.lower()
    assert "3.25" in page


def test_project_change_page_has_segment_inline_in_order(admin_client, project):
    SegmentFactory(project=project, sequence_index=1, text_content="Second words")
    SegmentFactory(project=project, sequence_index=0, text_content="First words")
    page = admin_client.get(f"/admin/api/project/{project.id}/change/").content.decode()
    assert page.index("First words") < page.index("Second words")


def test_global_settings_are_editable_with_installed_voices_only(admin_client, fake_engine):
    settings_row = GlobalSettings.load()
    response = admin_client.post(
        f"/admin/api/globalsettings/{settings_row.pk}/change/", {"default_voice_id": "jm_kumo", "tts_speed": "1.3"}
    )
    assert response.status_code == 302
    assert GlobalSettings.load().tts_speed == 1.3
    assert admin_client.get("/admin/api/globalsettings/add/").status_code == 403  # the single row exists
    rejected = admin_client.post(
        f"/admin/api/globalsettings/{settings_row.pk}/change/", {"default_voice_id": "zz_nobody", "tts_speed": "1.0"}
    )
    assert rejected.status_code == 200  # the form again, with an error
    assert GlobalSettings.load().default_voice_id == "jm_kumo"
