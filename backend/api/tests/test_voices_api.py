"""Voices per project and per segment (null inherits), blends wherever a voice id is accepted."""
import pytest

from api.models import GlobalSettings, Project, Segment
from api.tests.conftest import wait_for_task
from api.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # tasks run on the worker thread


def patch(api_client, url, body):
    return api_client.patch(url, body, format="json")


def test_new_projects_and_segments_inherit(api_client, fake_engine, project, segments):
    body = api_client.get(f"/api/projects/{project.id}/").json()
    assert body["voice"] is None and body["speed"] is None
    assert all(s["voice"] is None and s["speed"] is None for s in body["segments"])


@pytest.mark.parametrize(
    "voice, stored",
    [
        ("jm_kumo", "jm_kumo"),
        ("jm_kumo:1+jf_alpha:3", "jf_alpha:0.75+jm_kumo:0.25"),
        (None, None),
    ],
)
def test_project_voice_is_stored_canonically(api_client, fake_engine, project, voice, stored):
    response = patch(api_client, f"/api/projects/{project.id}/", {"voice": voice, "speed": 1.2})
    assert response.status_code == 200, response.json()
    assert response.json()["voice"] == stored and response.json()["speed"] == 1.2
    project.refresh_from_db()
    assert project.voice == stored


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"voice": "nobody"}, "voice", "Unknown voice 'nobody'; available voices: jf_alpha, jm_kumo"),
        ({"voice": "jf_alpha:0.5+nobody:0.5"}, "voice", "Unknown voice 'nobody' in the blend"),
        ({"voice": "jf_alpha:-1+jm_kumo:2"}, "voice", "must be a positive number, got '-1'"),
        ({"voice": "jf_alpha:x+jm_kumo:2"}, "voice", "must be a positive number, got 'x'"),
        ({"voice": "a+b+c+d+e+f"}, "voice", "at most 5 voices; this one has 6"),
        ({"voice": 7}, "voice", "Not a valid string"),
        ({"speed": 3.0}, "speed", "less than or equal to 2.0"),
        ({"speed": "fast"}, "speed", "A valid number is required"),
    ],
)
def test_bad_voices_are_400s_naming_the_problem(api_client, fake_engine, project, segments, body, field, message):
    for url in (f"/api/projects/{project.id}/", f"/api/segments/{segments[0].id}/"):
        response = patch(api_client, url, body)
        assert response.status_code == 400, url
        assert message in " ".join(response.json()[field])
    assert Project.objects.get(pk=project.pk).voice is None
    assert Segment.objects.get(pk=segments[0].pk).voice is None


def test_settings_accept_a_blend(api_client, fake_engine):
    response = patch(api_client, "/api/settings/", {"default_voice_id": "jm_kumo:2+jf_alpha:2"})
    assert response.status_code == 200
    assert GlobalSettings.load().default_voice_id == "jf_alpha:0.5+jm_kumo:0.5"
    bad = patch(api_client, "/api/settings/", {"default_voice_id": "jf_alpha:1+jf_alpha:1"})
    assert bad.status_code == 400 and "appears twice" in bad.json()["default_voice_id"][0]


def test_voices_endpoint_tells_the_blend_limit(api_client, fake_engine):
    body = api_client.get("/api/voices/").json()
    assert body["max_blend_voices"] == 5 and body["voices"] == ["jf_alpha", "jm_kumo"]


def test_each_segment_is_read_with_its_own_voice_else_the_projects_else_the_settings(api_client, fake_engine, project):
    GlobalSettings.objects.update_or_create(pk=1, defaults={"default_voice_id": "jf_alpha", "tts_speed": 1.0})
    narrator = SegmentFactory(project=project, sequence_index=0, text_content="The narrator speaks.")
    dialogue = SegmentFactory(project=project, sequence_index=1, text_content="'Hello,' said the sailor.")
    patch(api_client, f"/api/segments/{dialogue.id}/", {"voice": "jm_kumo:0.7+jf_alpha:0.3", "speed": 0.9})

    task = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json").json()
    assert wait_for_task(task["task_id"])["status"] == "COMPLETED"
    calls = {c["text"]: (c["voice_id"], c["speed"]) for c in fake_engine.calls}
    assert calls[narrator.text_content] == ("jf_alpha", 1.0)
    assert calls[dialogue.text_content] == ("jf_alpha:0.3+jm_kumo:0.7", 0.9)

    patch(api_client, f"/api/projects/{project.id}/", {"voice": "jm_kumo", "speed": 1.1})
    fake_engine.calls.clear()
    single = api_client.post(f"/api/segments/{narrator.id}/generate-audio/").json()
    assert wait_for_task(single["task_id"])["status"] == "COMPLETED"
    assert (fake_engine.calls[0]["voice_id"], fake_engine.calls[0]["speed"]) == ("jm_kumo", 1.1)


def test_a_segment_whose_voice_was_uninstalled_is_refused_with_a_400(api_client, fake_engine, project, segments):
    Segment.objects.filter(pk=segments[0].pk).update(voice="af_gone")  # e.g. the voices file was replaced
    response = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/")
    assert response.status_code == 400
    assert "Unknown voice 'af_gone'" in response.json()["error"]
    batch = api_client.post(f"/api/projects/{project.id}/generate-all-audio/", {}, format="json")
    assert batch.status_code == 400 and "af_gone" in batch.json()["error"]
    assert fake_engine.calls == []


def test_the_lexicon_reaches_the_engine(api_client, fake_engine, project, segments):
    api_client.post(f"/api/projects/{project.id}/lexicon/", {"pattern": "story", "replacement": "stor-ee"}, format="json")
    task = api_client.post(f"/api/segments/{segments[0].id}/generate-audio/").json()
    assert wait_for_task(task["task_id"])["status"] == "COMPLETED"
    assert fake_engine.calls[0]["rules"] == ["story"]


# ---------------------------------------------------------------- voice sample


def test_voice_sample_rejects_bad_voices(api_client, fake_engine):
    response = api_client.post("/api/voices/preview/", {"voice": "jf_alpha:2+nobody:1"}, format="json")
    assert response.status_code == 400
    assert "Unknown voice 'nobody' in the blend" in response.json()["voice"][0]
    too_long = api_client.post("/api/voices/preview/", {"voice": "jf_alpha", "text": "x" * 301}, format="json")
    assert too_long.status_code == 400 and "text" in too_long.json()


def test_voice_sample_without_a_model_is_503(api_client, db, no_model, monkeypatch):
    from core_engine.model_loader import KokoroModelLoader

    monkeypatch.setattr(KokoroModelLoader, "get_voices", classmethod(lambda cls: ["jf_alpha"]))
    monkeypatch.setattr(KokoroModelLoader, "resolve_model_files", classmethod(lambda cls: None))
    response = api_client.post("/api/voices/preview/", {"voice": "jf_alpha"}, format="json")
    assert response.status_code == 503
    assert "model" in response.json()["error"].lower()
