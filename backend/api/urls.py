"""API routes under /api/ (spec §3.2 and task 03.02.07)."""
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api.views import (
    EngineView,
    GlobalSettingsView,
    ProjectViewSet,
    PronunciationRuleViewSet,
    SegmentViewSet,
    SpeechPreviewView,
    api_not_found,
    TaskCancelView,
    TaskLogsView,
    TaskStatusView,
    VoiceListView,
    VoicePreviewView,
    task_events_view,
)

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    # The OpenAPI 3 schema (YAML, or JSON with ?format=json) and Swagger UI over it, served offline.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("settings/", GlobalSettingsView.as_view(), name="settings"),
    path("voices/", VoiceListView.as_view(), name="voices"),
    path("engine/", EngineView.as_view(), name="engine"),
    path("voices/preview/", VoicePreviewView.as_view(), name="voice-preview"),
    path("speech/preview/", SpeechPreviewView.as_view(), name="speech-preview"),
    path(
        "projects/<str:project_pk>/lexicon/",
        PronunciationRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="lexicon-list",
    ),
    path(
        "projects/<str:project_pk>/lexicon/<str:pk>/",
        PronunciationRuleViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="lexicon-detail",
    ),
    path("tasks/<str:task_id>/status/", TaskStatusView.as_view(), name="task-status"),
    path("tasks/<str:task_id>/cancel/", TaskCancelView.as_view(), name="task-cancel"),
    path("tasks/<str:task_id>/events/", task_events_view, name="task-events"),
    path("tasks/<str:task_id>/logs/", TaskLogsView.as_view(), name="task-logs"),
    *router.urls,
    # Last: whatever no route above matches is a JSON 404, not Django's HTML page.
    re_path(r"^(?P<path>.*)$", api_not_found, name="api-not-found"),
]
