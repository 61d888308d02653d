"""REST API views: thin adapters from HTTP to the services in ``api.services``.

Endpoints (router in ``api/urls.py``):

- ``/api/projects/`` CRUD, ``POST /api/projects/import/``,
  ``POST /api/projects/{id}/generate-all-audio/``, ``POST /api/projects/{id}/export/``,
  ``GET /api/projects/{id}/exports/``, ``GET/DELETE /api/projects/{id}/exports/{export_id}/``
- ``/api/segments/`` CRUD (``?project=<id>``), ``POST /api/segments/{id}/generate-audio/``
- ``GET/PATCH /api/settings/``, ``GET /api/voices/``, ``POST /api/voices/preview/`` (a WAV sample)
- ``GET /api/engine/``: model variant, CPU, measured speeds, thread settings
- ``/api/projects/{id}/lexicon/`` CRUD (pronunciation rules), ``POST /api/speech/preview/``
- ``GET /api/projects/{id}/tasks/``: the project's active and recent tasks (re-attach)
- ``GET /api/tasks/{task_id}/status/``, ``POST /api/tasks/{task_id}/cancel/``,
  ``GET /api/tasks/{task_id}/events/`` (SSE), ``GET /api/tasks/{task_id}/logs/``
"""
from django.http import FileResponse, HttpResponse, HttpResponsePermanentRedirect, JsonResponse, StreamingHttpResponse
from django.urls import Resolver404, resolve
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api import schema as docs
from api.exceptions import ApiError
from api.models import GlobalSettings, Project, PronunciationRule, Segment
from api.serializers import (
    ExportOptionsSerializer,
    GenerateAllOptionsSerializer,
    GlobalSettingsSerializer,
    ManuscriptUploadSerializer,
    ProjectDetailSerializer,
    ProjectSerializer,
    PronunciationRuleSerializer,
    SegmentSerializer,
    SpeechPreviewSerializer,
    StoryImportSerializer,
    VoicePreviewSerializer,
)
from api.services.audio_generation import start_project_audio_generation, start_segment_audio_generation
from api.services.audiobook_export import export_body, start_project_export
from api.services.engine_info import describe_engine
from api.services.manuscript_import import parse_manuscript
from api.services.narration import preview_text
from api.services.preconditions import add_etag_header, guarded_write
from api.services.voice_samples import voice_sample
from api.services.story_import import create_project, import_story
from api.tasks import get_task_manager, journal
from api.tasks.events import parse_last_event_id, stream_task_events
from api.tasks.selectors import find_task_status, find_task_status_json, list_project_tasks
from core_engine.model_loader import KokoroModelLoader
from core_engine.tts_wrapper import InvalidSynthesisRequest
from core_engine.voices import MAX_BLEND_VOICES

ERROR_SEGMENT_LOCKED_EDIT = "Segment is locked. Unlock it (PATCH is_locked=false) before changing its text or deleting it."


@extend_schema_view(destroy=extend_schema(description="Delete the project, its segments and all its audio and exports."))
class ProjectViewSet(viewsets.ModelViewSet):
    """Projects. The detail view includes the segments ordered by ``sequence_index``."""

    def get_queryset(self):
        return Project.objects.with_audio_totals().order_by("-updated_at")

    def get_serializer_class(self):
        return ProjectDetailSerializer if self.action == "retrieve" else ProjectSerializer

    @extend_schema(
        request={"application/json": StoryImportSerializer, "multipart/form-data": ManuscriptUploadSerializer},
        responses={201: ProjectDetailSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[JSONParser, MultiPartParser])
    def import_story(self, request):
        """Import a manuscript as a new project -> 201 with the project detail (segments and chapters).

        - JSON ``{"title", "text"}``: plain text, one segment per paragraph, headings start
          chapters; a bad body is 400 with field errors (``{"text": [...]}``).
        - multipart/form-data ``file`` (.txt, .md or .epub, at most 50 MB) and optional
          ``title``: a bad file is 400 ``{"error": "what is wrong"}``.
        Nothing is created on error.
        """
        if "file" in request.FILES or (request.content_type.startswith("multipart/") and "text" not in request.data):
            upload = ManuscriptUploadSerializer(data=request.data)
            if not upload.is_valid():
                return Response({"error": upload.error_message()}, status=status.HTTP_400_BAD_REQUEST)
            manuscript_file = upload.validated_data["file"]
            try:
                manuscript = parse_manuscript(manuscript_file.name, manuscript_file.read())
                project = create_project(manuscript, title_override=upload.validated_data.get("title"))
            except ValueError as exc:
                return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
            return Response(ProjectDetailSerializer(project).data, status=status.HTTP_201_CREATED)
        serializer = StoryImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            project = import_story(**serializer.validated_data)
        except ValueError as exc:
            return Response({"text": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ProjectDetailSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=GenerateAllOptionsSerializer,
        responses={
            200: OpenApiResponse(docs.NothingToProcessResponse, description="Nothing to narrate: every segment skipped."),
            202: docs.BatchAcceptedResponse,
            409: docs.error("The project already has a batch running (its task_id is in the body)."),
            503: docs.MODEL_UNAVAILABLE,
        },
        examples=[docs.BATCH_ALREADY_RUNNING_EXAMPLE],
    )
    @action(detail=True, methods=["post"], url_path="generate-all-audio")
    def generate_all_audio(self, request, pk=None):
        """Queue TTS for the project's segments (spec §3.2.2): 200, 202, 400, 404 or 503."""
        project = self.get_object()
        if not isinstance(request.data, dict):
            raise ApiError(400, 'The body must be a JSON object such as {"skip_locked": true, "force_regenerate": false}.')
        options = GenerateAllOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        status_code, body = start_project_audio_generation(project, **options.validated_data)
        return Response(body, status=status_code)


    @extend_schema(
        request=ExportOptionsSerializer,
        responses={
            202: docs.ExportAcceptedResponse,
            409: docs.error("Segments without audio (listed in segments_without_audio), or an export already running (task_id)."),
            503: docs.MODEL_UNAVAILABLE,
        },
    )
    @action(detail=True, methods=["post"], url_path="export")
    def export(self, request, pk=None):
        """Queue an export of the whole book: ``{"format", "generate_missing"}`` -> 202 with ``task_id``.

        400 bad format or nothing to export; 409 segments without audio (listed)
        or an export already running (its ``task_id``); 503 no model when
        audio must be generated first.
        """
        project = self.get_object()
        if not isinstance(request.data, dict):
            raise ApiError(400, 'The body must be a JSON object such as {"format": "m4b", "generate_missing": false}.')
        options = ExportOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        body = start_project_export(project, **options.validated_data)
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: docs.ExportResponse(many=True)})
    @action(detail=True, methods=["get"], url_path="exports")
    def exports(self, request, pk=None):
        """The project's finished exports, newest first (see ``audiobook_export.export_body``)."""
        project = self.get_object()
        return Response([export_body(export) for export in project.exports.order_by("-created_at")])

    @extend_schema(
        methods=["GET"],
        operation_id="projects_exports_detail_retrieve",
        parameters=[OpenApiParameter("export_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: docs.ExportResponse},
    )
    @extend_schema(
        methods=["DELETE"],
        operation_id="projects_exports_detail_destroy",
        parameters=[OpenApiParameter("export_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={204: None},
    )
    @action(detail=True, methods=["get", "delete"], url_path=r"exports/(?P<export_id>[^/.]+)")
    def export_detail(self, request, pk=None, export_id=None):
        """One export (GET), or remove it and its files (DELETE -> 204). 404 for an unknown id."""
        export = get_object_or_404(self.get_object().exports, pk=export_id)  # a malformed id is a 404 too
        if request.method == "DELETE":
            export.delete()  # the post_delete signal removes its files after commit
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(export_body(export))

    @extend_schema(responses={200: docs.ProjectTasksResponse})
    @action(detail=True, methods=["get"], url_path="tasks")
    def tasks(self, request, pk=None):
        """The project's active and recent tasks, newest first: ``{"project_id", "tasks": [status body, ...]}``.

        An editor reloaded mid-batch finds its running task here (the first one
        whose status is PENDING or PROCESSING). At most 20 tasks; finished ones
        are kept for ``TASK_RETENTION_SECONDS``.
        """
        project = self.get_object()
        return Response({"project_id": str(project.id), "tasks": list_project_tasks(project.id)})


@extend_schema_view(
    retrieve=extend_schema(parameters=[
        OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200], description="The segment's entity tag."),
    ]),
    update=extend_schema(**docs.segment_write_docs(SegmentSerializer)),
    partial_update=extend_schema(**docs.segment_write_docs(SegmentSerializer)),
    destroy=extend_schema(**docs.segment_write_docs(SegmentSerializer, has_body=False)),
)
class SegmentViewSet(viewsets.ModelViewSet):
    """Segments, filterable with ``?project=<uuid>``, in ``sequence_index`` order.

    A locked segment's text cannot change and it cannot be deleted (409) until unlocked.
    A segment answer has an ``ETag``; PATCH/PUT/DELETE with ``If-Match`` happen only if
    it still matches, else 412 with the current segment (``api/services/preconditions.py``).
    """

    serializer_class = SegmentSerializer
    queryset = Segment.objects.order_by("project_id", "sequence_index", "id")
    filterset_fields = ["project"]

    def finalize_response(self, request, response, *args, **kwargs):
        """Add the ``ETag`` header to a single segment's answer (GET, PATCH, PUT, and the 412)."""
        return add_etag_header(super().finalize_response(request, response, *args, **kwargs))

    def perform_update(self, serializer):
        with guarded_write(serializer.instance, self.request.headers.get("If-Match"), self.describe) as segment:
            data = serializer.validated_data
            still_locked = data.get("is_locked", segment.is_locked)
            if segment.is_locked and still_locked and "text_content" in data and data["text_content"] != segment.text_content:
                raise ApiError(status.HTTP_409_CONFLICT, ERROR_SEGMENT_LOCKED_EDIT)
            serializer.save()

    def perform_destroy(self, instance):
        with guarded_write(instance, self.request.headers.get("If-Match"), self.describe):
            if instance.is_locked:
                raise ApiError(status.HTTP_409_CONFLICT, ERROR_SEGMENT_LOCKED_EDIT)
            instance.delete()  # the post_delete signal removes the .wav after commit

    def describe(self, segment):
        """The segment's body (for the 412's ``current``)."""
        return self.get_serializer(segment).data

    @extend_schema(
        request=None,
        responses={
            202: docs.SegmentTaskAcceptedResponse,
            400: docs.error("The segment has no text, or its voice or speed is not valid any more."),
            409: docs.error("The segment is locked: unlock it before generating audio."),
            503: docs.MODEL_UNAVAILABLE,
        },
    )
    @action(detail=True, methods=["post"], url_path="generate-audio")
    def generate_audio(self, request, pk=None):
        """Queue TTS for one segment (spec §3.2.1): 202, 400, 404, 409 or 503."""
        segment = self.get_object()
        body = start_segment_audio_generation(segment)
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PronunciationRuleViewSet(viewsets.ModelViewSet):
    """``/api/projects/{project_pk}/lexicon/``: a project's pronunciation rules, oldest first.

    404 for an unknown project or rule. A rule's change shows at once in the
    project's segments: those whose text it matches get ``audio_stale``.
    """

    serializer_class = PronunciationRuleSerializer

    def get_project(self) -> Project:
        """The project of the URL's ``project_pk`` (404 when there is none)."""
        if not hasattr(self, "_project"):
            self._project = get_object_or_404(Project, pk=self.kwargs["project_pk"])
        return self._project

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view: no URL kwargs
            return PronunciationRule.objects.none()
        return PronunciationRule.objects.filter(project=self.get_project()).order_by("created_at", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "project": self.get_project()}

    def perform_create(self, serializer):
        serializer.save(project=self.get_project())


class SpeechPreviewView(APIView):
    """``POST /api/speech/preview/``: how a text will be read.

    Body ``{"text", "project"?: id, "voice"?: id or blend}`` → 200
    ``{"spoken_text", "phonemes", "token_count", "rules_applied": [rule id, ...]}``:
    the text normalized, with the project's lexicon applied (phoneme rules as
    ``/…/``), and the phonemes the model would be given. The model is not loaded.
    """

    @extend_schema(request=SpeechPreviewSerializer, responses={200: docs.SpeechPreviewResponse})
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ApiError(400, 'The body must be a JSON object such as {"text": "Dr. Smith paid $3.50."}.')
        serializer = SpeechPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(preview_text(data["text"], project=data.get("project"), voice=data.get("voice")))


class VoicePreviewView(APIView):
    """``POST /api/voices/preview/``: a short WAV of a voice or blend (cached).

    Body ``{"voice", "speed"?: 0.5–2.0, "text"?: ≤ 300 characters}`` → 200 ``audio/wav``;
    400 for a bad voice, blend or text; 503 with no model installed.
    """

    @extend_schema(
        request=VoicePreviewSerializer,
        responses={(200, "audio/wav"): docs.WAV_RESPONSE, 503: docs.MODEL_UNAVAILABLE},
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ApiError(400, 'The body must be a JSON object such as {"voice": "jf_alpha:0.6+jm_kumo:0.4"}.')
        serializer = VoicePreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            path = voice_sample(data["voice"], data["speed"], data.get("text"))
        except InvalidSynthesisRequest as exc:
            raise ApiError(400, str(exc)) from exc
        response = FileResponse(path.open("rb"), content_type="audio/wav")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class GlobalSettingsView(APIView):
    """``GET /api/settings/`` and ``PATCH /api/settings/`` for the single settings row."""

    @extend_schema(responses={200: GlobalSettingsSerializer})
    def get(self, request):
        return Response(GlobalSettingsSerializer(GlobalSettings.load()).data)

    @extend_schema(request=GlobalSettingsSerializer, responses={200: GlobalSettingsSerializer})
    def patch(self, request):
        serializer = GlobalSettingsSerializer(GlobalSettings.load(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    put = patch  # every field optional, as with PATCH (the schema documents it from patch's extend_schema)


class VoiceListView(APIView):
    """``GET /api/voices/``: the voice ids of the installed model.

    Body: ``{"voices": [str, ...], "default_voice_id": str, "model_available": bool, "model_variant": str | null,
    "max_blend_voices": 5}``.
    """

    @extend_schema(responses={200: docs.VoiceListResponse})
    def get(self, request):
        files = KokoroModelLoader.resolve_model_files()
        return Response(
            {
                "voices": KokoroModelLoader.get_voices(),
                "default_voice_id": GlobalSettings.load().default_voice_id,
                "model_available": files is not None,
                "model_variant": files.variant if files else None,
                "max_blend_voices": MAX_BLEND_VOICES,
            }
        )


class EngineView(APIView):
    """``GET /api/engine/``: the model variant in use, the CPU, the measured characters per
    second of each variant and the session/thread settings (``describe_engine``)."""

    @extend_schema(responses={200: docs.EngineResponse})
    def get(self, request):
        return Response(describe_engine())


TASK_NOT_FOUND = {"error": "Task not found"}


class TaskStatusView(View):
    """``GET /api/tasks/{task_id}/status/``: 200 with the status body, or 404 ``{"error": "Task not found"}``.

    The body is the spec's (§3.2.3: task_id, status, progress, completed_segments,
    errors) plus StoryFlow's progress fields (``api/tasks/state.py``). Live
    tasks are answered from memory only; finished tasks dropped from memory are
    answered from the journal for ``TASK_RETENTION_SECONDS``.

    The hot path of every poller, so it is a plain Django view (no DRF content
    negotiation, parsing or throttling) that sends the bytes the runner serialized
    once per change (``state.status_json``).
    """

    http_method_names = ["get", "head", "options"]

    def get(self, request, task_id: str):
        data = find_task_status_json(task_id)
        if data is None:
            return JsonResponse(TASK_NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
        return HttpResponse(data, content_type="application/json", status=status.HTTP_200_OK)


class TaskCancelView(APIView):
    """``POST /api/tasks/{task_id}/cancel/``: request cancellation; 202 with the status body, 404 if unknown.

    A PENDING task is CANCELLED at once; a PROCESSING one finishes its current
    segment and then ends CANCELLED; a finished task is left as it is.
    """

    @extend_schema(request=None, responses={202: docs.TaskStatusResponse, 404: docs.error("Task not found")})
    def post(self, request, task_id: str):
        body = get_task_manager().cancel_task(task_id) or find_task_status(task_id)
        if body is None:
            return Response(TASK_NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TaskLogsView(APIView):
    """``GET /api/tasks/{task_id}/logs/``: ``{"task_id", "logs": [{"timestamp", "level", "message"}]}``.

    Lines are oldest first: queueing, chunking, per-segment timing, errors with
    their cause, and the outcome. 404 for unknown tasks.
    """

    @extend_schema(responses={200: docs.TaskLogsResponse, 404: docs.error("Task not found")})
    def get(self, request, task_id: str):
        manager = get_task_manager()
        if manager.is_journaled(task_id):
            manager.journal.flush(timeout=2)
        logs = journal.read_logs(task_id)
        if logs is None:
            return Response(TASK_NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
        return Response({"task_id": task_id, "logs": logs})


def task_events_view(request, task_id: str):
    """``GET /api/tasks/{task_id}/events/``: a Server-Sent Events stream of the task's status.

    See ``api/tasks/events.py`` for the format. 404 JSON for unknown tasks.
    A plain Django view (not DRF): the response is a stream, not a serialized body.
    """
    if request.method != "GET":
        return JsonResponse({"error": "Use GET."}, status=405)
    manager = get_task_manager()
    body, version, interpolating = manager.wait_for_change(task_id, None, 0)
    if body is None:
        body = find_task_status(task_id)
        if body is None:
            return JsonResponse(TASK_NOT_FOUND, status=404)
    last_event_id = parse_last_event_id(request.headers.get("Last-Event-ID") or request.GET.get("last_event_id"))
    response = StreamingHttpResponse(
        stream_task_events(manager, task_id, body, version, last_event_id, interpolating),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # tell proxies (nginx) not to buffer
    return response


@csrf_exempt  # it changes nothing; Django's CSRF check would answer an HTML 403 to a POST first
def api_not_found(request, path: str = ""):
    """Any ``/api/...`` path no route matches: 404 JSON ``{"detail": "Not found.", "hint"?}``, never
    Django's HTML page (which DEBUG or not would be HTML).

    A path that only lacks its trailing slash is redirected (301) for GET/HEAD, as
    ``APPEND_SLASH`` would; for other methods (whose body a redirect would drop; Django
    raises an error there) the 404 names the URL to use instead.
    """
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            if request.method in ("GET", "HEAD"):
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
            return JsonResponse(
                {"detail": "Not found.", "hint": f"API URLs end with a slash: {request.method} {request.path}/"},
                status=404,
            )
    return JsonResponse({"detail": "Not found."}, status=404)

