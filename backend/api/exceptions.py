"""One JSON error shape for the whole API, so that bad input never becomes an HTML 500.

Domain errors raised by the services (``api.services.errors``) are mapped to
their HTTP status here and nowhere else (``STATUS_BY_ERROR``); their body is
``{"error": message, **details}``.
"""
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

from api.middleware import body_limit_for, too_large_body
from api.services import errors

logger = logging.getLogger(__name__)

#: HTTP status of each domain error (the most specific class listed wins).
STATUS_BY_ERROR: dict[type[errors.ServiceError], int] = {
    errors.EmptyText: status.HTTP_400_BAD_REQUEST,
    errors.UnknownVoice: status.HTTP_400_BAD_REQUEST,
    errors.SpeedOutOfRange: status.HTTP_400_BAD_REQUEST,
    errors.UnsupportedExportFormat: status.HTTP_400_BAD_REQUEST,
    errors.NothingToExport: status.HTTP_400_BAD_REQUEST,
    errors.BadChapterRange: status.HTTP_400_BAD_REQUEST,
    errors.SegmentLocked: status.HTTP_409_CONFLICT,
    errors.TaskAlreadyRunning: status.HTTP_409_CONFLICT,
    errors.MissingAudio: status.HTTP_409_CONFLICT,
    errors.ModelUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.TasksShutDown: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.StorageUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.DatabaseBusy: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.BrokerUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.NoSynthesisWorkers: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def status_for(exc: errors.ServiceError) -> int:
    """The HTTP status of a domain error (400 for one not listed)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return status.HTTP_400_BAD_REQUEST


class ApiError(APIException):
    """An error answered as ``{"error": message}`` with the given HTTP status (for example 409)."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def json_exception_handler(exc, context):
    """DRF exception handler: DRF's own bodies, plus JSON for what DRF leaves to Django.

    - DRF errors (400 field errors, 404 ``{"detail": "Not found."}``, 405, 415...)
      keep DRF's standard bodies, which the spec's 404 body relies on.
    - A Django ``ValidationError`` (for example a malformed UUID reaching the ORM)
      becomes 400 with the messages.
    - An OSError of the storage (disk full, permission denied, read-only: a write made
      on the request's thread, like a voice sample) becomes 503 with
      :class:`~api.services.errors.StorageUnavailable`'s message, and SQLite's
      "database is locked" past its timeout 503 :class:`~api.services.errors.DatabaseBusy`.
    - Anything else is logged with its traceback and answered with 500 JSON
      ``{"error": ...}`` instead of Django's HTML page.
    """
    if isinstance(exc, ApiError):
        return Response({"error": exc.message}, status=exc.status_code)
    if isinstance(exc, OSError):
        storage = errors.StorageUnavailable.from_os_error(exc)
        if storage is not None:
            logger.error("Storage error in %s: %s", context.get("view").__class__.__name__, exc)
            exc = storage
    elif isinstance(exc, OperationalError) and "database is locked" in str(exc):
        logger.error("Database locked in %s: %s", context.get("view").__class__.__name__, exc)
        exc = errors.DatabaseBusy()
    if isinstance(exc, errors.ServiceError):
        return Response({"error": exc.message, **exc.details}, status=status_for(exc))
    if isinstance(exc, RequestDataTooBig):  # a body larger than its Content-Length said
        request = context.get("request")
        limit = body_limit_for(request.META.get("CONTENT_TYPE", "")) if request is not None else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(too_large_body(limit), status=413)
    if isinstance(exc, TooManyFieldsSent):
        return Response({"error": f"Too many form fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."}, status=400)
    if isinstance(exc, Http404):
        # The spec's 404 body; DRF would say "No Segment matches the given query."
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, DjangoValidationError):
        return Response({"error": "Invalid input.", "detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
    return Response(
        {"error": "Internal error; see the server log for the traceback."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )

