"""Paths under /api/ that no route matches get JSON, never Django's HTML pages (found by the schemathesis run)."""
import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_an_id_no_route_accepts_is_a_json_404(client, method):
    # the router's id pattern excludes dots, so this path matches no route at all
    response = getattr(client, method)("/api/projects/0.5/export/", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_get_without_its_trailing_slash_is_redirected(client):
    response = client.get("/api/projects?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/api/projects/?x=1"


def test_a_post_without_its_trailing_slash_is_told_the_url(client):
    response = client.post("/api/projects", {"title": "A"}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["hint"] == "API URLs end with a slash: POST /api/projects/"


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
