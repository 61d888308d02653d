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


def test_settings_admin_accepts_a_blend_and_names_a_bad_one(admin_client, fake_engine):
    settings_row = GlobalSettings.load()
    url = f"/admin/api/globalsettings/{settings_row.pk}/change/"
    assert admin_client.post(url, {"default_voice_id": "jm_kumo:1+jf_alpha:3", "tts_speed": "1.0"}).status_code == 302
    assert GlobalSettings.load().default_voice_id == "jf_alpha:0.75+jm_kumo:0.25"
    page = admin_client.post(url, {"default_voice_id": "jf_alpha:1+nobody:1", "tts_speed": "1.0"}).content.decode()
    assert "Unknown voice &#x27;nobody&#x27; in the blend" in page


def test_lexicon_admin_lists_rules_and_checks_them(admin_client, project):
    from api.models import PronunciationRule

    add = "/admin/api/pronunciationrule/add/"
    ok = admin_client.post(add, {"project": project.pk, "pattern": "Dantès", "replacement": "/dɑːntˈɛs/"})
    assert ok.status_code == 302
    listing = admin_client.get("/admin/api/pronunciationrule/", {"q": "Dantès"}).content.decode()
    assert "Dantès" in listing and "phonemes" in listing
    bad = admin_client.post(add, {"project": project.pk, "pattern": "Morrel", "replacement": "/mɔɹ2/"}).content.decode()
    assert "Unknown phoneme symbols: &#x27;2&#x27; (U+0032)" in bad
    assert PronunciationRule.objects.count() == 1
    page = admin_client.get(f"/admin/api/project/{project.id}/change/").content.decode()
    assert "Dantès" in page  # the inline lexicon
