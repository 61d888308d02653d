"""The OpenAPI schema: the committed ``openapi.yaml`` matches the code, every API route is in it,
and it and Swagger UI are served without the internet (drf-spectacular-sidecar's bundled files)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "openapi.yaml"


def generated_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def api_routes() -> set[str]:
    """Every route under /api/ as an OpenAPI path (``/api/segments/{id}/``), from Django's URL resolver."""

    def walk(patterns, prefix):
        for pattern in patterns:
            regex = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + regex)
            elif isinstance(pattern, URLPattern):
                yield prefix + regex

    routes = set()
    for route in walk(get_resolver().url_patterns, "/"):
        if not route.startswith("/api/") or "(?P<format>" in route:
            continue  # not the API, or one of DRF's ``.json`` format-suffix variants
        route = route.replace("^", "").replace("$", "")
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        if "{format}" not in route:  # the router root's format-suffix variant
            routes.add(route.replace("{pk}", "{id}"))  # drf-spectacular names a router's pk "id"
    return routes


def test_committed_openapi_yaml_matches_the_code():
    committed = yaml.safe_load(COMMITTED.read_text())
    assert committed == generated_schema(), (
        "openapi.yaml is out of date: run `python manage.py spectacular --file openapi.yaml` and commit it"
    )


def test_schema_is_valid_openapi_3():
    schema = generated_schema()
    validate_schema(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")


def test_every_api_route_is_documented():
    documented = set(generated_schema()["paths"])
    # DRF's root view, the docs themselves, and the JSON 404 for everything else
    routes = api_routes() - {"/api/", "/api/schema/", "/api/docs/", "/api/{path}"}
    assert routes, "no routes found: the URL walk is broken"
    assert routes - documented == set()


def test_every_operation_documents_its_errors():
    for path, item in generated_schema()["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert "403" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (method, path)


def test_custom_actions_carry_their_bodies():
    paths = generated_schema()["paths"]
    batch = paths["/api/projects/{id}/generate-all-audio/"]["post"]["responses"]
    assert {"200", "202", "409", "503"} <= set(batch)
    assert batch["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/BatchAcceptedResponse")
    status = paths["/api/tasks/{task_id}/status/"]["get"]["responses"]
    assert status["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TaskStatusResponse")
    assert "text/event-stream" in paths["/api/tasks/{task_id}/events/"]["get"]["responses"]["200"]["content"]
    assert "audio/wav" in paths["/api/voices/preview/"]["post"]["responses"]["200"]["content"]
    assert set(paths["/api/projects/import/"]["post"]["requestBody"]["content"]) == {
        "application/json", "multipart/form-data",
    }


@pytest.mark.django_db
def test_schema_endpoint_serves_the_committed_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json() == yaml.safe_load(COMMITTED.read_text())


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    scripts = re.findall(r'src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts  # no CDN
    for src in scripts:
        assert finders.find(src.removeprefix("/static/")), f"{src} is not in the installed static files"
