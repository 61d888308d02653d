"""API routes under /api/ (spec §3.2 and task 03.02.07)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from api.views import (
    GlobalSettingsView,
    ProjectViewSet,
    SegmentViewSet,
    TaskCancelView,
    TaskLogsView,
    TaskStatusView,
    VoiceListView,
    task_events_view,
)

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("settings/", GlobalSettingsView.as_view(), name="settings"),
    path("voices/", VoiceListView.as_view(), name="voices"),
    path("tasks/<str:task_id>/status/", TaskStatusView.as_view(), name="task-status"),
    path("tasks/<str:task_id>/cancel/", TaskCancelView.as_view(), name="task-cancel"),
    path("tasks/<str:task_id>/events/", task_events_view, name="task-events"),
    path("tasks/<str:task_id>/logs/", TaskLogsView.as_view(), name="task-logs"),
    *router.urls,
]
