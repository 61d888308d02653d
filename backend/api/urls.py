"""API routes under /api/ (spec §3.2 and task 03.02.07)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from api.views import (
    GlobalSettingsView,
    ProjectViewSet,
    SegmentViewSet,
    TaskCancelView,
    TaskStatusView,
    VoiceListView,
)

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("settings/", GlobalSettingsView.as_view(), name="settings"),
    path("voices/", VoiceListView.as_view(), name="voices"),
    path("tasks/<str:task_id>/status/", TaskStatusView.as_view(), name="task-status"),
    path("tasks/<str:task_id>/cancel/", TaskCancelView.as_view(), name="task-cancel"),
    *router.urls,
]
