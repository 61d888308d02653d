"""Stale audio: a segment's audio records what it was made from; the API says when that no longer holds."""
import pytest

from api.models import GlobalSettings, Segment
from api.tests.conftest import wait_for_task
from api.tests.factories import PronunciationRuleFactory, SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # tasks run on the worker thread

TEXTS = [
    "Edmond Dantès sailed into Marseilles.",
    "Morrel waited on the quay.",
    "The Pharaon had lost her captain.",
]


@pytest.fixture
def narrated(api_client, fake_engine, project):
    """Three segments of ``project``, all narrated with the fake engine."""
    GlobalSettings.objects.update_or_create(pk=1, defaults={"default_voice_id": "jf_alpha", "tts_speed": 1.0})
    made = [SegmentFactory(project=project, sequence_index=i, text_content=text) for i, text in enumerate(TEXTS)]
    task = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()
    assert wait_for_task(task["task_id"])["status"] == "COMPLETED"
    return made


def stale_flags(api_client, project):
    return [s["audio_stale"] for s in api_client.get(f"/api/projects/{project.id}/").json()["segments"]]


def test_fresh_audio_is_not_stale_and_records_what_it_was_made_from(api_client, project, narrated):
    assert stale_flags(api_client, project) == [False, False, False]
    segment = Segment.objects.get(pk=narrated[0].pk)
    assert len(segment.audio_identity) == 64
    assert segment.audio_source["voice"] == "jf_alpha" and segment.audio_source["speed"] == 1.0
    assert segment.audio_source["rules"] == [] and segment.audio_source["engine_version"] >= 2


def test_editing_text_makes_it_stale_and_regenerating_makes_it_fresh(api_client, project, narrated):
    api_client.patch(f"/api/segments/{narrated[1].id}/", {"text_content": "Morrel waited on the quay, anxious."}, format="json")
    assert stale_flags(api_client, project) == [False, True, False]
    detail = api_client.get(f"/api/segments/{narrated[1].id}/").json()
    assert detail["audio_stale"] is True
    task = api_client.post(f"/api/segments/{narrated[1].id}/generate-audio/").json()
    assert wait_for_task(task["task_id"])["status"] == "COMPLETED"
    assert stale_flags(api_client, project) == [False, False, False]


def test_a_lexicon_rule_marks_exactly_the_segments_it_matches(api_client, project, narrated):
    url = f"/api/projects/{project.id}/lexicon/"
    rule = api_client.post(url, {"pattern": "Dantès", "replacement": "Dahn-tess"}, format="json").json()
    assert stale_flags(api_client, project) == [True, False, False]

    unrelated = api_client.post(url, {"pattern": "Villefort", "replacement": "Veel-for"}, format="json").json()
    assert stale_flags(api_client, project) == [True, False, False]

    api_client.patch(f"{url}{rule['id']}/", {"pattern": "Morrel"}, format="json")
    assert stale_flags(api_client, project) == [False, True, False]  # back to what segment 0 was made from

    api_client.delete(f"{url}{rule['id']}/")
    api_client.delete(f"{url}{unrelated['id']}/")
    assert stale_flags(api_client, project) == [False, False, False]


def test_a_rule_of_another_project_changes_nothing(api_client, project, narrated):
    PronunciationRuleFactory(pattern="Dantès", replacement="Dahn-tess")  # another project
    assert stale_flags(api_client, project) == [False, False, False]


def test_voice_and_speed_changes_mark_the_segments_that_inherit_them(api_client, project, narrated):
    api_client.patch(f"/api/segments/{narrated[2].id}/", {"voice": "jf_alpha"}, format="json")
    assert stale_flags(api_client, project) == [False, False, False]  # the same voice, now its own
    api_client.patch(f"/api/projects/{project.id}/", {"voice": "jm_kumo"}, format="json")
    assert stale_flags(api_client, project) == [True, True, False]
    api_client.patch(f"/api/projects/{project.id}/", {"voice": None}, format="json")
    assert stale_flags(api_client, project) == [False, False, False]
    api_client.patch("/api/settings/", {"tts_speed": 1.3}, format="json")
    assert stale_flags(api_client, project) == [True, True, True]
    api_client.patch(f"/api/segments/{narrated[0].id}/", {"speed": 1.0}, format="json")
    assert stale_flags(api_client, project) == [False, True, True]


def test_a_blend_in_other_words_is_the_same_voice(api_client, project, narrated):
    api_client.patch(f"/api/projects/{project.id}/", {"voice": "jf_alpha:0.25+jm_kumo:0.75"}, format="json")
    task = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()
    assert wait_for_task(task["task_id"])["status"] == "COMPLETED"
    api_client.patch(f"/api/projects/{project.id}/", {"voice": "jm_kumo:3+jf_alpha:1"}, format="json")
    assert stale_flags(api_client, project) == [False, False, False]


def test_generate_all_regenerates_stale_and_missing_segments_and_counts_each(api_client, fake_engine, project, narrated):
    api_client.patch(f"/api/segments/{narrated[0].id}/", {"text_content": "Edmond Dantès sailed home."}, format="json")
    SegmentFactory(project=project, sequence_index=3, text_content="A new paragraph without audio.")
    fake_engine.calls.clear()
    response = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["segments_to_process"] == 2
    assert body["segments_missing_audio"] == 1 and body["segments_stale"] == 1
    assert "1 out-of-date segment" in body["message"] and "2 segments skipped: already has audio" in body["message"]
    assert wait_for_task(body["task_id"])["status"] == "COMPLETED"
    assert sorted(c["text"] for c in fake_engine.calls) == ["A new paragraph without audio.", "Edmond Dantès sailed home."]
    assert stale_flags(api_client, project) == [False, False, False, False]
    again = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
    assert again.status_code == 200 and again.json()["segments_to_process"] == 0


def test_locked_stale_segments_stay_as_they_are(api_client, project, narrated):
    api_client.patch(f"/api/projects/{project.id}/", {"speed": 0.8}, format="json")
    api_client.patch(f"/api/segments/{narrated[0].id}/", {"is_locked": True}, format="json")
    body = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()
    assert body["segments_stale"] == 2 and body["segments_to_process"] == 2
    wait_for_task(body["task_id"])
    assert stale_flags(api_client, project) == [True, False, False]


def test_audio_from_before_identities_is_not_called_stale(api_client, project, narrated):
    Segment.objects.filter(pk=narrated[0].pk).update(audio_identity="", audio_source=None, text_content="Changed.")
    assert stale_flags(api_client, project)[0] is False


def test_the_segment_list_reports_staleness_across_projects(api_client, project, narrated):
    api_client.patch(f"/api/segments/{narrated[0].id}/", {"text_content": "Changed text."}, format="json")
    rows = api_client.get("/api/segments/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    by_id = {row["id"]: row["audio_stale"] for row in rows}
    assert by_id[str(narrated[0].id)] is True and by_id[str(narrated[1].id)] is False
