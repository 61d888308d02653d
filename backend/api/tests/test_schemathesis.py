"""Contract fuzzing: Schemathesis sends generated requests for every operation of the committed
``openapi.yaml`` to a live server and checks each answer.

- The server is pytest-django's ``live_server`` (a real threaded HTTP server in this
  process, so the TaskManager's worker runs the fake engine: ``fake_engine`` patches the
  model call only, which is too slow for a thousand requests; everything else is real).
- Checks: no 5xx (``not_a_server_error``), the status code is documented
  (``status_code_conformance``), the body conforms to its schema
  (``response_schema_conformance``) and its media type to the documented one
  (``content_type_conformance``). Both valid and invalid (negative) input is generated.
- Deterministic: Hypothesis is derandomized (a fixed seed per operation) and keeps no
  example database, so a failure reproduces on the next run and on CI.
- Path ids: three of four generated ``{id}``/``{task_id}`` values are swapped for the id of
  a real object (:data:`SEED`, re-created before each request if a fuzzed DELETE removed
  it), so the operations are exercised past their 404.
- ``EXAMPLES_PER_OPERATION`` bounds the run; the module's last test asserts at least
  :data:`MIN_REQUESTS` requests went out and prints the count (``-s`` or the summary line).

The schema file itself is checked against the code by ``test_openapi_schema.py``.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import Export, Project, PronunciationRule, Segment

REPO = Path(__file__).resolve().parents[3]
EXAMPLES_PER_OPERATION = 30
MIN_REQUESTS = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_path(REPO / "openapi.yaml")

#: Ids of the objects the fuzzed paths point at (fixed, so the path hook can use them).
SEED = {
    "project": "6f0c2f7e-0000-4000-8000-000000000001",
    "segment": "6f0c2f7e-0000-4000-8000-000000000002",
    "rule": "6f0c2f7e-0000-4000-8000-000000000003",
    "export": "6f0c2f7e-0000-4000-8000-000000000004",
}
#: The id of a real task, set by :func:`seed_objects` once per test.
seed_task: dict[str, str] = {}

sent = Counter()  # requests per operation ("POST /api/segments/"), across the module
answered = Counter()  # responses per HTTP status code
summary: list[str] = []  # the count line, for the end-of-run summary


def seed_objects(media_root: Path) -> None:
    """Make sure the seed project (with a segment, a lexicon rule and an export file) exists."""
    project, _ = Project.objects.get_or_create(pk=SEED["project"], defaults={"title": "Fuzzed story"})
    Segment.objects.get_or_create(
        pk=SEED["segment"], defaults={"project": project, "sequence_index": 0, "text_content": "The lamp was lit."}
    )
    PronunciationRule.objects.get_or_create(
        pk=SEED["rule"], defaults={"project": project, "pattern": "Lamp", "replacement": "Lammp"}
    )
    if not Export.objects.filter(pk=SEED["export"]).exists():
        relative = f"projects/{project.pk}/exports/book.wav"
        (media_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (media_root / relative).write_bytes(b"RIFF")
        Export.objects.create(pk=SEED["export"], project=project, format="wav", file_path=relative, size_bytes=4)


def _pick(value, real: str | None):
    """``real`` for three of four generated values (chosen by the value's hash, so deterministic)."""
    if real is None:
        return value
    digest = hashlib.sha256(repr(value).encode()).digest()[0]
    return real if digest % 4 else value


@schema.hook("map_path_parameters")
def point_at_real_objects(context, path_parameters):
    """Swap most generated ids for real ones, by the parameter's role in the path."""
    if not path_parameters:
        return path_parameters
    path = context.operation.path
    mapped = dict(path_parameters)
    if "id" in mapped:
        kind = "segment" if path.startswith("/api/segments/") else "rule" if "/lexicon/" in path else "project"
        mapped["id"] = _pick(mapped["id"], SEED[kind])
    if "project_pk" in mapped:
        mapped["project_pk"] = _pick(mapped["project_pk"], SEED["project"])
    if "export_id" in mapped:
        mapped["export_id"] = _pick(mapped["export_id"], SEED["export"])
    if "task_id" in mapped:
        mapped["task_id"] = _pick(mapped["task_id"], seed_task.get("id"))
    return mapped


@pytest.fixture
def fuzz_server(live_server, fake_engine, media_root):
    """The live server's URL, with the seed objects and one finished task in place."""
    seed_objects(media_root)
    http = requests.Session()
    response = http.post(f"{live_server.url}/api/segments/{SEED['segment']}/generate-audio/", json={})
    assert response.status_code == 202, response.text
    seed_task["id"] = response.json()["task_id"]
    return live_server.url, http, media_root


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, fuzz_server):
    base_url, http, media_root = fuzz_server
    seed_objects(media_root)  # a fuzzed DELETE may have removed one
    response = case.call(base_url=base_url, session=http, timeout=30)
    sent[case.operation.label] += 1
    answered[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def test_fuzzing_sent_enough_requests():
    """Runs after the fuzzing (pytest keeps file order); prints and checks the request count."""
    operations = len(list(schema.get_all_operations()))
    if len(sent) < operations:
        pytest.skip("run the whole module: the count covers every operation's test")
    total = sum(sent.values())
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(answered.items()))
    line = f"schemathesis: {total} requests over {len(sent)} operations, 0 failures; status codes {codes}"
    summary.append(line)  # printed at the end of the run by conftest's pytest_terminal_summary
    assert total >= MIN_REQUESTS
