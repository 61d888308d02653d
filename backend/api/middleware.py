"""Request guards that run before any view: cross-site writes and oversized bodies.

StoryFlow has no authentication (a single local user), so the browser's own
signals are what keep another web page from writing to it:

- ``CrossSiteWriteGuard``: a state-changing request (POST, PUT, PATCH, DELETE)
  whose ``Origin`` is not an allowed origin, or that the browser marks
  ``Sec-Fetch-Site: cross-site`` (or ``same-site``, from another port or
  subdomain, with no allowed ``Origin``), is answered 403
  ``{"error": ...}`` before the view runs, so nothing changes. Allowed origins:
  the API's own (``scheme://Host``), the origin the editor's proxy forwards
  (``X-Forwarded-Host``: the editor on :3000 rewrites ``/api`` to Django), and
  ``settings.STORYFLOW_ALLOWED_ORIGINS`` (the editor's, by default
  ``http://127.0.0.1:3000`` and ``http://localhost:3000``). curl and other
  non-browser clients send neither header and pass. This follows the Fetch
  Metadata resource-isolation policy (https://web.dev/articles/fetch-metadata)
  and Django's own ``Origin`` check in ``CsrfViewMiddleware``.
- ``RequestBodyLimit``: a body whose ``Content-Length`` is over the limit is
  answered 413 ``{"error": ..., "limit_bytes": n}`` before it is read. The limit
  is ``settings.DATA_UPLOAD_MAX_MEMORY_SIZE`` for JSON, and the manuscript upload
  limit (50 MB) plus 1 MB of multipart overhead for ``multipart/form-data``.
  A body that turns out bigger while being read (no or a false Content-Length)
  raises Django's ``RequestDataTooBig``, which ``api.exceptions`` maps to the same 413.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.services.manuscript_import import MAX_UPLOAD_BYTES

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Bytes a multipart body may add around its 50 MB file (boundaries, headers, the title field).
MULTIPART_OVERHEAD_BYTES = 1024 * 1024

ERROR_CROSS_SITE = (
    "Cross-site request refused: StoryFlow accepts changes only from its own editor "
    "(origins {allowed}) or from clients that send no Origin header, such as curl."
)


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` in lower case, or None when it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: HttpRequest) -> set[str]:
    """The origins whose pages may change data: the API's own, the forwarding editor's, the configured ones."""
    scheme = "https" if request.is_secure() else "http"
    origins = {o for o in (_origin_of(x) for x in getattr(settings, "STORYFLOW_ALLOWED_ORIGINS", [])) if o}
    try:
        origins.add(f"{scheme}://{request.get_host()}".lower())
    except DisallowedHost:  # not one of ALLOWED_HOSTS: no origin of its own to trust
        pass
    forwarded = request.META.get("HTTP_X_FORWARDED_HOST")
    if forwarded:
        proto = request.META.get("HTTP_X_FORWARDED_PROTO", "http").split(",")[0].strip() or "http"
        origins.add(f"{proto}://{forwarded.split(',')[0].strip()}".lower())
    return origins


def cross_site_refusal(request: HttpRequest) -> str | None:
    """Why ``request`` must be refused as a cross-site write, or None when it may go on."""
    if request.method not in UNSAFE_METHODS:
        return None
    origin_header = request.META.get("HTTP_ORIGIN")
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE", "").strip().lower()
    if origin_header is not None:
        allowed = allowed_origins(request)
        if _origin_of(origin_header) in allowed:
            return None
        return ERROR_CROSS_SITE.format(allowed=", ".join(sorted(allowed)))
    if fetch_site in ("cross-site", "same-site"):
        return ERROR_CROSS_SITE.format(allowed=", ".join(sorted(allowed_origins(request))))
    return None


class CrossSiteWriteGuard:
    """Refuse state-changing requests from foreign web origins with 403 JSON (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reason = cross_site_refusal(request)
        if reason is not None:
            return JsonResponse({"error": reason}, status=403)
        return self.get_response(request)


def body_limit_for(content_type: str) -> int:
    """Largest body in bytes accepted for ``content_type`` (see the module docstring)."""
    if content_type.lower().startswith("multipart/"):
        return MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_body(limit: int) -> dict:
    """The 413 body: the limit in bytes and in MB, and what to do instead."""
    return {
        "error": (
            f"Request body too large: the limit is {limit} bytes ({limit / 1_048_576:.1f} MB). "
            "Split the text, or upload the manuscript as a multipart file (at most "
            f"{MAX_UPLOAD_BYTES // 1_048_576} MB)."
        ),
        "limit_bytes": limit,
    }


def too_large_response(limit: int) -> JsonResponse:
    """``too_large_body`` as a 413 ``JsonResponse``."""
    return JsonResponse(too_large_body(limit), status=413)


class RequestBodyLimit:
    """Answer 413 JSON for a ``Content-Length`` over the limit, before the body is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit_for(request.META.get("CONTENT_TYPE", ""))
        if length > limit:
            return too_large_response(limit)
        return self.get_response(request)
