"""Issue 11, items 3 and 4: oversized bodies are 413 JSON, out-of-range numbers 400, and a foreign
web origin cannot write (403 JSON, nothing changes), while curl and the editor keep working.

These go through Django's test client, so the middleware, DRF's parsers and the views all run.
"""
import json

import pytest
from django.test import Client

from api.middleware import MULTIPART_OVERHEAD_BYTES
from api.models import Project, Segment
from api.serializers import MAX_DB_INTEGER
from api.services.manuscript_import import MAX_UPLOAD_BYTES

pytestmark = pytest.mark.django_db

EVIL = "http://evil.example"


@pytest.fixture
def client():
    return Client()


# --- cross-site writes ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/projects/", "/api/projects/import/"])
def test_foreign_form_post_creates_nothing(client, path):
    """The exact probe of the issue: a form POST from another origin."""
    response = client.post(
        path,
        data="title=Pwned&text=Hello+there.",
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN=EVIL,
    )
    assert response.status_code == 403
    assert "Cross-site request refused" in response.json()["error"]
    assert Project.objects.count() == 0


def test_foreign_json_write_is_refused_for_every_unsafe_method(client, project):
    segment = Segment.objects.create(project=project, sequence_index=0, text_content="Keep me.")
    url = f"/api/segments/{segment.id}/"
    for method in ("patch", "put", "delete"):
        response = getattr(client, method)(
            url, data=json.dumps({"text_content": "Changed."}), content_type="application/json", HTTP_ORIGIN=EVIL
        )
        assert response.status_code == 403, method
    segment.refresh_from_db()
    assert segment.text_content == "Keep me."


def test_cross_site_fetch_metadata_without_origin_is_refused(client):
    response = client.post(
        "/api/projects/", data=json.dumps({"title": "X"}), content_type="application/json",
        HTTP_SEC_FETCH_SITE="cross-site",
    )
    assert response.status_code == 403
    assert Project.objects.count() == 0


def test_foreign_origin_may_still_read(client, project):
    response = client.get(f"/api/projects/{project.id}/", HTTP_ORIGIN=EVIL)
    assert response.status_code == 200


def test_curl_without_origin_works(client):
    response = client.post("/api/projects/", data=json.dumps({"title": "From curl"}), content_type="application/json")
    assert response.status_code == 201
    assert Project.objects.filter(title="From curl").exists()


@pytest.mark.parametrize(
    "origin, extra",
    [
        ("http://testserver", {}),  # the API's own origin (Host)
        ("http://127.0.0.1:3000", {"HTTP_SEC_FETCH_SITE": "same-site"}),  # the editor, a configured origin
        ("http://127.0.0.1:41234", {"HTTP_X_FORWARDED_HOST": "127.0.0.1:41234"}),  # the editor's proxy on any port
    ],
)
def test_same_origin_and_editor_writes_work(client, origin, extra):
    response = client.post(
        "/api/projects/", data=json.dumps({"title": "Mine"}), content_type="application/json",
        HTTP_ORIGIN=origin, **extra,
    )
    assert response.status_code == 201, response.content
    assert Project.objects.filter(title="Mine").count() == 1


def test_editor_proxy_does_not_let_a_foreign_page_through(client):
    """A foreign page posting to the editor: Next forwards its Host, but the Origin stays foreign."""
    response = client.post(
        "/api/projects/", data=json.dumps({"title": "X"}), content_type="application/json",
        HTTP_ORIGIN=EVIL, HTTP_X_FORWARDED_HOST="127.0.0.1:3000",
    )
    assert response.status_code == 403
    assert Project.objects.count() == 0


def test_form_encoded_body_from_curl_is_415(client):
    """JSON endpoints accept only application/json: even without an Origin a form body changes nothing."""
    response = client.post("/api/projects/", data="title=Form", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert Project.objects.count() == 0


def test_multipart_only_where_a_file_is_uploaded(client, tmp_path):
    response = client.post("/api/projects/", data={"title": "Multipart"})  # the test client sends multipart
    assert response.status_code == 415
    story = tmp_path / "story.txt"
    story.write_text("The first paragraph.\n\nThe second one.", encoding="utf-8")
    with story.open("rb") as handle:
        imported = client.post("/api/projects/import/", data={"file": handle, "title": "Uploaded"})
    assert imported.status_code == 201, imported.content
    assert Project.objects.get(title="Uploaded").segments.count() == 2


# --- body size ------------------------------------------------------------------


def test_json_body_over_the_limit_is_413_and_names_it(client, settings):
    body = json.dumps({"title": "Big", "text": "word " * 1_000_000})  # 5 MB
    response = client.post("/api/projects/import/", data=body, content_type="application/json")
    assert response.status_code == 413
    payload = response.json()
    assert payload["limit_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in payload["error"]
    assert Project.objects.count() == 0


def test_body_larger_than_its_content_length_said_is_413(rf, settings):
    """Past the middleware (here: the view called directly, as for a body without a Content-Length),
    Django's own RequestDataTooBig while reading the body is mapped to the same 413."""
    from rest_framework.parsers import FormParser

    from api.views import ProjectViewSet

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    request = rf.post("/api/projects/", data=json.dumps({"title": "x" * 500}), content_type="application/x-www-form-urlencoded")
    view = ProjectViewSet.as_view({"post": "create"}, parser_classes=[FormParser])
    response = view(request)
    assert response.status_code == 413
    assert response.data["limit_bytes"] == 100
    assert Project.objects.count() == 0


def test_multipart_limit_allows_the_manuscript_limit(client):
    from api.middleware import body_limit_for

    assert body_limit_for("multipart/form-data; boundary=x") == MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    response = client.post(
        "/api/projects/import/", data=b"x", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES + 1),
    )
    assert response.status_code == 413


# --- numbers out of range -----------------------------------------------------------


@pytest.mark.parametrize("value", [2**70, MAX_DB_INTEGER + 1, -1])
def test_sequence_index_out_of_range_is_400(client, project, value):
    response = client.post(
        "/api/segments/",
        data=json.dumps({"project": str(project.id), "text_content": "Hi.", "sequence_index": value}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "sequence_index" in response.json()
    assert Segment.objects.count() == 0


def test_sequence_index_at_the_maximum_is_stored(client, project):
    response = client.post(
        "/api/segments/",
        data=json.dumps({"project": str(project.id), "text_content": "Hi.", "sequence_index": MAX_DB_INTEGER}),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Segment.objects.get().sequence_index == MAX_DB_INTEGER


@pytest.mark.parametrize(
    "path_of, field",
    [
        (lambda p: f"/api/projects/{p.id}/", "speed"),
        (lambda p: f"/api/projects/{p.id}/", "paragraph_pause"),
        (lambda p: f"/api/projects/{p.id}/", "tail"),
        (lambda p: "/api/settings/", "tts_speed"),
    ],
)
@pytest.mark.parametrize("value", [10**400, 2**70, -(10**400)])
def test_float_fields_out_of_range_are_400(client, project, path_of, field, value, fake_engine):
    # json.dumps writes 10**400 as an integer literal, which Python's JSON reader parses exactly
    response = client.patch(path_of(project), data=json.dumps({field: value}), content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()
