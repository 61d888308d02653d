"""The OpenAPI 3 description of the API (drf-spectacular): response shapes, error bodies, and the hook
that adds what every operation can answer.

- The ``*Response`` serializers below only *describe* bodies that services build as
  dicts (task status, generate/export acknowledgements, engine, logs); nothing
  serializes through them. Each names the service that builds the body, so the two
  are kept together.
- :func:`add_common_responses` (a ``POSTPROCESSING_HOOKS`` entry) documents the
  answers that come from middleware or DRF for whole classes of operations rather
  than from a view: 400 for any operation that takes a body or a query, 403 for
  every write (from a foreign origin, ``api.middleware.CrossSiteWriteGuard``), 503 for every
  write (``errors.DatabaseBusy``, ``errors.StorageUnavailable``), 413 (a body over the
  limit, ``api.middleware.RequestBodyLimit``) and 415 (a body that is not JSON) for
  every operation that takes a body, 404 for a path with an id.
- :func:`add_plain_django_views` documents ``GET /api/tasks/{task_id}/status/`` and
  ``/events/``: they are plain Django views (no DRF on the pollers' hot path, see
  ``api.views.TaskStatusView``), which drf-spectacular does not see.

The committed ``openapi.yaml`` at the repository's top level is this schema;
``api/tests/test_openapi_schema.py`` fails when the code and the file disagree
(regenerate it with ``python manage.py spectacular --file openapi.yaml``).
"""
from __future__ import annotations

from copy import deepcopy
from functools import lru_cache
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

# ------------------------------------------------------------------ error bodies
# Raw schemas, registered once as components by :func:`add_common_responses` and referenced with
# :func:`ref` (by the views' ``error()`` answers and by the hook's common ones).

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "What went wrong and what to do about it."}},
    "required": ["error"],
    "additionalProperties": True,
    "description": 'An error: {"error": message} and, for some errors, details such as "task_id" or "limit_bytes".',
}
#: DRF's own error body (404 "Not found.", 415, 405): ``{"detail": message}``.
DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": 'DRF\'s error body {"detail": message}; the spec\'s 404 is {"detail": "Not found."}.',
}


def ref(component: str) -> dict[str, str]:
    """A fresh ``$ref`` to one of :data:`COMPONENTS` (a new dict each time: no YAML aliases)."""
    return {"$ref": f"#/components/schemas/{component}"}


COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": ERROR_SCHEMA,
    "Detail": DETAIL_SCHEMA,
    # 400: either {"error": message} or DRF's field errors {"field": ["message", ...]}.
    "BadRequest": {
        "description": 'Bad input: {"error": message}, or field errors {"<field>": ["message", ...]}.',
        "anyOf": [
            ref("Error"),
            {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}, {"type": "string"}]},
            },
        ],
    },
    "NotFound": {
        "description": '{"detail": "Not found."} (projects, segments, rules, exports) or {"error": "Task not found"} (tasks).',
        "anyOf": [ref("Detail"), ref("Error")],
    },
}


def error(description: str) -> OpenApiResponse:
    """An :class:`OpenApiResponse` with the ``{"error": ...}`` body and ``description``."""
    return OpenApiResponse(ref("Error"), description=description)


MODEL_UNAVAILABLE = error(
    "No TTS model is installed (run `python manage.py install_model`), or in celery mode the broker or "
    "every worker is unreachable."
)

# --------------------------------------------------------------- task bodies


class TaskProgressResponse(serializers.Serializer):
    """``progress`` of a task status (spec §3.2.3)."""

    current = serializers.IntegerField()
    total = serializers.IntegerField()
    percentage = serializers.IntegerField(help_text="0-100")
    current_segment_id = serializers.CharField(required=False, allow_null=True)


class CompletedSegmentResponse(serializers.Serializer):
    """One finished segment in a task status."""

    segment_id = serializers.CharField()
    audio_url = serializers.CharField()
    duration = serializers.FloatField(help_text="seconds")


class TaskErrorResponse(serializers.Serializer):
    """One segment's (or the task's) error in a task status."""

    segment_id = serializers.CharField(allow_null=True)
    error = serializers.CharField()


TASK_STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]


class TaskStatusResponse(serializers.Serializer):
    """A task's status body (``api.tasks.state.status_body``): the spec's §3.2.3 fields, then StoryFlow's."""

    task_id = serializers.CharField()
    status = serializers.ChoiceField(choices=TASK_STATUSES)
    progress = TaskProgressResponse()
    completed_segments = CompletedSegmentResponse(many=True)
    errors = TaskErrorResponse(many=True)
    kind = serializers.CharField(help_text="segment, batch, export or task")
    project_id = serializers.CharField(allow_null=True)
    segment_id = serializers.CharField(allow_null=True)
    segment_ids = serializers.ListField(child=serializers.CharField())
    stage = serializers.CharField(
        help_text="queued, preparing, synthesizing, writing, assembling, encoding, captions, packaging or finished"
    )
    current_step = serializers.CharField()
    overall_progress = serializers.FloatField(help_text="0-100, weighted over the task's phases")
    eta_seconds = serializers.FloatField(allow_null=True, help_text="seconds left; null until it can be estimated")
    elapsed_seconds = serializers.FloatField(help_text="seconds since the task started (0 while queued)")
    audio_seconds = serializers.FloatField(help_text="seconds of audio generated so far")
    realtime_factor = serializers.FloatField(allow_null=True, help_text="wall seconds per audio second (RTF)")
    created_at = serializers.CharField(help_text="ISO 8601, UTC")
    started_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)
    result = serializers.DictField(allow_null=True, help_text='what a finished task made; an export: {"export_id", "url"}')


class ProjectTasksResponse(serializers.Serializer):
    """``GET /api/projects/{id}/tasks/``: the project's active and recent tasks, newest first."""

    project_id = serializers.CharField()
    tasks = TaskStatusResponse(many=True)


class TaskLogLineResponse(serializers.Serializer):
    """One line of a task's log (``api.tasks.journal.read_logs``)."""

    timestamp = serializers.CharField(help_text="ISO 8601, UTC")
    level = serializers.CharField()
    message = serializers.CharField()


class TaskLogsResponse(serializers.Serializer):
    """``GET /api/tasks/{task_id}/logs/``."""

    task_id = serializers.CharField()
    logs = TaskLogLineResponse(many=True)


class TaskAcceptedResponse(serializers.Serializer):
    """What every 202 that queues a task has: the task's id, its status and a message."""

    task_id = serializers.CharField()
    status = serializers.ChoiceField(choices=TASK_STATUSES)
    message = serializers.CharField()


class SegmentTaskAcceptedResponse(TaskAcceptedResponse):
    """202 of ``generate-audio`` (spec §3.2.1; ``audio_generation.start_segment_audio_generation``)."""

    segment_id = serializers.CharField()


class BatchAcceptedResponse(TaskAcceptedResponse):
    """202 of ``generate-all-audio`` (spec §3.2.2; ``audio_generation.start_project_audio_generation``)."""

    project_id = serializers.CharField()
    total_segments = serializers.IntegerField()
    segments_to_process = serializers.IntegerField()
    segments_missing_audio = serializers.IntegerField()
    segments_stale = serializers.IntegerField()


class NothingToProcessResponse(serializers.Serializer):
    """200 of ``generate-all-audio`` when every segment is skipped (spec §3.2.2 step 5)."""

    message = serializers.CharField()
    total_segments = serializers.IntegerField()
    segments_to_process = serializers.IntegerField()
    skipped = serializers.IntegerField()


class ExportAcceptedResponse(TaskAcceptedResponse):
    """202 of ``POST /api/projects/{id}/export/`` (``audiobook_export.start_project_export``)."""

    project_id = serializers.CharField()
    format = serializers.CharField()


class ExportChapterResponse(serializers.Serializer):
    """A chapter mark of an export, seconds from the start."""

    title = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class ExportResponse(serializers.Serializer):
    """A finished export (``audiobook_export.export_body``)."""

    id = serializers.CharField()
    project_id = serializers.CharField()
    format = serializers.CharField()
    url = serializers.CharField(help_text="/media/... path of the audiobook file")
    size_bytes = serializers.IntegerField()
    duration = serializers.FloatField(help_text="seconds")
    chapters = ExportChapterResponse(many=True)
    captions = inline_serializer(
        "ExportCaptions",
        {"srt": serializers.CharField(allow_null=True), "vtt": serializers.CharField(allow_null=True)},
    )
    created_at = serializers.CharField()
    task_id = serializers.CharField(allow_null=True)
    report = serializers.DictField(allow_null=True, help_text="loudness and checks of the exported audio")


class ChapterResponse(serializers.Serializer):
    """A chapter of a project: the segment that starts it."""

    title = serializers.CharField()
    segment_id = serializers.CharField()
    sequence_index = serializers.IntegerField()


# --------------------------------------------------------------- other bodies


class VoiceListResponse(serializers.Serializer):
    """``GET /api/voices/``."""

    voices = serializers.ListField(child=serializers.CharField())
    default_voice_id = serializers.CharField()
    model_available = serializers.BooleanField()
    model_variant = serializers.CharField(allow_null=True)
    max_blend_voices = serializers.IntegerField()


class SpeechPreviewResponse(serializers.Serializer):
    """``POST /api/speech/preview/`` (``narration.preview_text``)."""

    spoken_text = serializers.CharField()
    phonemes = serializers.CharField()
    token_count = serializers.IntegerField()
    rules_applied = serializers.ListField(child=serializers.CharField())


class EngineResponse(serializers.Serializer):
    """``GET /api/engine/`` (``engine_info.describe_engine``; its docstring gives every nested field)."""

    model_available = serializers.BooleanField()
    variant = serializers.CharField(allow_null=True)
    model_file = serializers.CharField(allow_null=True)
    variants_available = serializers.ListField(child=serializers.CharField())
    forced_variant = serializers.CharField(allow_null=True)
    loaded = serializers.BooleanField()
    exact_cues = serializers.BooleanField(allow_null=True)
    engine_version = serializers.IntegerField()
    cpu = serializers.DictField(help_text='{"model_name", "flags", "cores", "vnni"}')
    calibration = serializers.DictField(allow_null=True)
    chars_per_second = serializers.DictField(child=serializers.FloatField(), help_text="per variant, measured")
    threads = serializers.DictField()
    int8_conv_gemm = serializers.BooleanField()
    audio_cache = serializers.DictField()
    synthesis = serializers.DictField(help_text='{"mode": "local"} or {"mode": "celery", "broker", "workers", ...}')


@lru_cache(maxsize=None)
def _precondition_failed(serializer_class):
    """The 412 body ``{"error", "current": <serializer_class>}``, built once (one schema component)."""
    return inline_serializer("PreconditionFailedResponse", {"error": serializers.CharField(), "current": serializer_class()})


def segment_write_docs(serializer_class, *, has_body: bool = True) -> dict[str, Any]:
    """``extend_schema`` arguments for a segment PATCH/PUT/DELETE: the ``If-Match`` precondition and its
    400/409/412 answers (``api.services.preconditions``), and the ``ETag`` the answer carries."""
    from drf_spectacular.utils import OpenApiParameter

    precondition_failed = _precondition_failed(serializer_class)
    responses: dict[Any, Any] = {
        409: error("The segment is locked: unlock it (is_locked false) before changing its text or deleting it."),
        412: OpenApiResponse(
            precondition_failed,
            description="If-Match no longer matches: the segment changed elsewhere; `current` is its body now.",
        ),
        400: OpenApiResponse(
            ref("BadRequest"), description="Bad input, or a malformed If-Match (it must be a quoted ETag or *)."
        ),
    }
    if has_body:
        responses[200] = serializer_class
    else:
        responses[204] = None
    return {
        "parameters": [
            OpenApiParameter(
                "If-Match", str, OpenApiParameter.HEADER, required=False,
                description='The segment\'s ETag ("v3") as it was read, or *: write only if it still matches.',
            ),
            OpenApiParameter(
                "ETag", str, OpenApiParameter.HEADER, response=[200, 412],
                description="The segment's entity tag after the write (or its current one, with a 412).",
            ),
        ],
        "responses": responses,
    }


WAV_RESPONSE = OpenApiResponse(
    {"type": "string", "format": "binary"}, description="A WAV file (audio/wav, 24 kHz mono)."
)

BATCH_ALREADY_RUNNING_EXAMPLE = OpenApiExample(
    "Batch already running",
    value={"error": "This project already has a batch generating audio. ...", "task_id": "tts_batch_..."},
    response_only=True,
    status_codes=["409"],
)

# --------------------------------------------------------------- hooks

WRITE_METHODS = ("post", "put", "patch", "delete")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(description: str, component: str) -> dict[str, Any]:
    return {"description": description, "content": _json(ref(component))}


def add_common_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: document the answers middleware and DRF give to whole classes
    of operations (see the module docstring), and register :data:`COMPONENTS`. An operation's own
    description of a code wins."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(deepcopy(COMPONENTS))
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            has_body = "requestBody" in operation
            takes_input = has_body or any(p.get("in") == "query" for p in operation.get("parameters", []))
            if takes_input:
                responses.setdefault("400", _response("Bad input; the body says which field and why.", "BadRequest"))
            if "{" in path:
                responses.setdefault("404", _response("No such object.", "NotFound"))
            if method in WRITE_METHODS:
                responses.setdefault("403", _response(
                    "A write from a foreign web origin (Origin or Sec-Fetch-Site): nothing changed.", "Error"))
                responses.setdefault("503", _response(
                    "The write could not be stored: the database stayed locked, or the media folder is full or "
                    "unwritable (the message says which), or no TTS model is installed where one is needed.",
                    "Error"))
            if has_body:
                responses.setdefault("413", _response("The body is over the limit the message states (limit_bytes).", "Error"))
                responses.setdefault(
                    "415", _response("The body's media type is not one this operation accepts (JSON).", "Detail")
                )
    return result


#: One event of ``/api/tasks/{task_id}/events/`` (the fields of the SSE wire format; ``api.tasks.events``).
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One Server-Sent Event: `data` is the task's status body (TaskStatusResponse) as one line of JSON.",
    "properties": {
        "event": {"type": "string", "enum": ["status"]},
        "id": {"type": "string", "description": "A decimal counter, continued after Last-Event-ID."},
        "data": {"type": "string", "description": "JSON of the status body."},
        "retry": {"type": "integer", "description": "Reconnection delay, milliseconds."},
    },
}


def add_plain_django_views(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: add the task status and SSE operations (plain Django views)."""
    status_ref = ref("TaskStatusResponse")
    task_id = {
        "in": "path", "name": "task_id", "required": True, "schema": {"type": "string"},
        "description": 'The task id returned when the task was queued, e.g. "tts_batch_<project>_<hex>".',
    }
    not_found = {
        "description": "Unknown task (or finished longer ago than TASK_RETENTION_SECONDS).",
        "content": _json({
            "type": "object", "properties": {"error": {"type": "string", "enum": ["Task not found"]}}, "required": ["error"],
        }),
    }
    paths = result.setdefault("paths", {})
    paths["/api/tasks/{task_id}/status/"] = {
        "get": {
            "operationId": "tasks_status_retrieve",
            "summary": "A task's status (spec §3.2.3)",
            "description": (
                "Live tasks are answered from memory; finished ones from the journal for "
                "TASK_RETENTION_SECONDS. The body is serialized once per change of the task."
            ),
            "tags": ["tasks"],
            "parameters": [task_id],
            "responses": {
                "200": {"description": "The status body.", "content": _json(status_ref)},
                "404": not_found,
            },
        }
    }
    paths["/api/tasks/{task_id}/events/"] = {
        "get": {
            "operationId": "tasks_events_stream",
            "summary": "A task's status as Server-Sent Events",
            "description": (
                "`event: status` with the whole status body as `data`, first the current state, then one per "
                "change and interpolated progress at most every 100 ms; `: heartbeat` comments when idle. The "
                "stream ends after a terminal status. Reconnect with `Last-Event-ID` (header or query) to continue "
                "the numbering."
            ),
            "tags": ["tasks"],
            "parameters": [
                task_id,
                {"in": "query", "name": "last_event_id", "required": False, "schema": {"type": "string"},
                 "description": "The same as the Last-Event-ID header (for clients that cannot set headers)."},
            ],
            "responses": {
                "200": {"description": "An event stream.", "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}},
                "404": not_found,
            },
        }
    }
    result["paths"] = dict(sorted(paths.items()))
    return result
