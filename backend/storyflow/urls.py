"""Root URLconf: the admin, the REST API under /api/, and generated audio under /media/."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    # StoryFlow is a local single-user tool run by one Django process, so it
    # serves its own generated audio, whatever DEBUG says.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
