"""``/api/projects/{id}/lexicon/``: pronunciation rules CRUD, their 400s, and the speech preview."""
import uuid

import pytest

from api.models import PronunciationRule
from api.tests.factories import ProjectFactory, PronunciationRuleFactory

DANTES_IPA = "dɑːntˈɛs"


def lexicon_url(project_id, rule_id=None):
    return f"/api/projects/{project_id}/lexicon/" + (f"{rule_id}/" if rule_id else "")


def test_create_list_update_delete(api_client, project):
    created = api_client.post(lexicon_url(project.id), {"pattern": " Dantès ", "replacement": "Dahn-tess"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == {"id", "project", "pattern", "replacement", "case_sensitive", "kind", "created_at", "updated_at"}
    assert body["pattern"] == "Dantès" and body["kind"] == "respelling" and body["case_sensitive"] is False
    assert body["project"] == str(project.id)

    second = api_client.post(lexicon_url(project.id), {"pattern": "Morrel", "replacement": "/mɔɹˈɛl/", "case_sensitive": True}, format="json")
    assert second.status_code == 201 and second.json()["kind"] == "phonemes"

    listed = api_client.get(lexicon_url(project.id)).json()
    assert [r["pattern"] for r in listed] == ["Dantès", "Morrel"]

    patched = api_client.patch(lexicon_url(project.id, body["id"]), {"replacement": f"/{DANTES_IPA}/"}, format="json")
    assert patched.status_code == 200 and patched.json()["kind"] == "phonemes"
    assert PronunciationRule.objects.get(pk=body["id"]).replacement == f"/{DANTES_IPA}/"

    assert api_client.delete(lexicon_url(project.id, body["id"])).status_code == 204
    assert [r["pattern"] for r in api_client.get(lexicon_url(project.id)).json()] == ["Morrel"]


def test_rules_belong_to_their_project(api_client, project):
    other = ProjectFactory()
    rule = PronunciationRuleFactory(project=other, pattern="Faria")
    assert api_client.get(lexicon_url(project.id)).json() == []
    assert api_client.get(lexicon_url(project.id, rule.id)).status_code == 404
    assert api_client.delete(lexicon_url(project.id, rule.id)).status_code == 404
    assert PronunciationRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.parametrize("project_id", [uuid.uuid4(), "not-a-uuid"])
def test_unknown_project_is_404(api_client, db, project_id):
    assert api_client.get(lexicon_url(project_id)).status_code == 404
    response = api_client.post(lexicon_url(project_id), {"pattern": "a", "replacement": "b"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"pattern": "", "replacement": "x"}, "pattern", "may not be blank"),
        ({"pattern": "...", "replacement": "x"}, "pattern", "has no letter or digit"),
        ({"pattern": "and/or", "replacement": "x"}, "pattern", "contains '/'"),
        ({"pattern": 5, "replacement": "x"}, "pattern", "Not a valid string"),
        ({"pattern": "Dantès", "replacement": "/dɑːn2tˈɛs/"}, "replacement", "Unknown phoneme symbols: '2' (U+0032)"),
        ({"pattern": "Dantès", "replacement": "/dɑːn"}, "replacement", "write them as /.../"),
        ({"pattern": "Dantès", "replacement": "//"}, "replacement", "between the slashes are empty"),
        ({"pattern": "Dantès"}, "replacement", "This field is required"),
        ({"pattern": "Dantès", "replacement": "x", "case_sensitive": "maybe"}, "case_sensitive", "Must be a boolean"),
    ],
)
def test_bad_rules_get_a_400_naming_the_bad_part(api_client, project, payload, field, message):
    response = api_client.post(lexicon_url(project.id), payload, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not PronunciationRule.objects.exists()


def test_a_second_rule_for_the_same_pattern_is_a_400(api_client, project):
    PronunciationRuleFactory(project=project, pattern="Dantès")
    response = api_client.post(lexicon_url(project.id), {"pattern": "DANTÈS", "replacement": "x"}, format="json")
    assert response.status_code == 400
    assert "already has a rule for 'DANTÈS'" in response.json()["pattern"][0]
    # a case-sensitive rule is another rule
    assert api_client.post(
        lexicon_url(project.id), {"pattern": "DANTÈS", "replacement": "x", "case_sensitive": True}, format="json"
    ).status_code == 201


# ------------------------------------------------------------- speech preview


def preview(api_client, **body):
    return api_client.post("/api/speech/preview/", body, format="json")


def test_preview_applies_the_projects_lexicon(api_client, project):
    rule = PronunciationRuleFactory(project=project, pattern="Dantès", replacement=f"/{DANTES_IPA}/")
    PronunciationRuleFactory(project=project, pattern="Morrel", replacement="Mor-rell")
    response = preview(api_client, text="Dantès met Morrel. Dantès smiled.", project=str(project.id))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"spoken_text", "phonemes", "token_count", "rules_applied"}
    assert body["spoken_text"] == f"/{DANTES_IPA}/ met Mor-rell. /{DANTES_IPA}/ smiled."
    assert DANTES_IPA in body["phonemes"]
    assert body["token_count"] == len(body["phonemes"])
    assert body["rules_applied"][0] == str(rule.id) and len(body["rules_applied"]) == 2


def test_preview_without_a_project_uses_no_lexicon(api_client, project):
    PronunciationRuleFactory(project=project, pattern="Dantès", replacement="Dahn-tess")
    body = preview(api_client, text="Dantès smiled.").json()
    assert body["spoken_text"] == "Dantès smiled." and body["rules_applied"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": ""}, "text"),
        ({}, "text"),
        ({"text": 12}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"text": "Hi.", "project": str(uuid.uuid4())}, "project"),
        ({"text": "Hi.", "project": "nope"}, "project"),
    ],
)
def test_preview_rejects_bad_bodies(api_client, db, body, field):
    response = preview(api_client, **body)
    assert response.status_code == 400
    assert field in response.json()


def test_preview_rejects_an_unknown_voice(api_client, fake_engine):
    response = preview(api_client, text="Hello.", voice="jf_alpha:0.5+nobody:0.5")
    assert response.status_code == 400
    assert "Unknown voice 'nobody' in the blend" in response.json()["voice"][0]
