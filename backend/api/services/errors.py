"""Domain exceptions raised by the services, each saying what to fix.

Services never speak HTTP: the API maps each exception to its status code in one
place (``api.exceptions.json_exception_handler``), and ``manage.py narrate``
prints the same message. The body of an API error is ``{"error": message,
**exc.details}``; the spec's texts (``audio-generation-api.md`` §3.2.1) are kept
word for word.
"""
from __future__ import annotations

from typing import Any

from core_engine.atomic_files import storage_error_message


class ServiceError(Exception):
    """Base of the domain errors: ``message`` for people, ``details`` for the JSON body."""

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details


# ----------------------------------------------------------------- bad input (400)


class EmptyText(ServiceError):
    """The segment has no text to narrate."""

    def __init__(self):
        super().__init__("Segment has no text content to generate audio from.")


class UnknownVoice(ServiceError):
    """The voice (or a voice of a blend) is not one of the installed model's voices, or the
    blend is malformed (``message`` says which; ``details["available_voices"]``)."""

    def __init__(self, voice_id: str, available: list[str], message: str | None = None):
        super().__init__(
            message
            or f"Voice '{voice_id}' is not available in the installed model. "
            f"Choose one of {', '.join(available)} with PATCH /api/settings/.",
            available_voices=list(available),
        )


class SpeedOutOfRange(ServiceError):
    """The speed factor is outside the engine's range."""

    def __init__(self, speed: float, low: float, high: float):
        super().__init__(f"Speed {speed} is outside {low}–{high}.")


class UnsupportedExportFormat(ServiceError):
    """An export format StoryFlow does not write (``details["formats"]`` lists those it does)."""

    def __init__(self, fmt: Any, formats: list[str]):
        super().__init__(f"Unsupported export format {fmt!r}; choose one of {', '.join(formats)}.", formats=list(formats))


class NothingToExport(ServiceError):
    """The project has no segment to narrate."""

    def __init__(self):
        super().__init__("The project has no segments with text to export. Add or import text first.")


class BadChapterRange(ServiceError):
    """A chapter range outside the project's chapters."""


# ------------------------------------------------------------------ conflicts (409)


class SegmentLocked(ServiceError):
    """The segment is locked against regeneration."""

    def __init__(self):
        super().__init__("Segment is locked. Unlock before generating audio.")


class TaskAlreadyRunning(ServiceError):
    """The project already has an active task of this kind (``details["task_id"]`` names it)."""

    #: What is running, as the message says it ("a batch generating audio").
    activity = "a task running"

    def __init__(self, task_id: str):
        super().__init__(
            f"This project already has {self.activity}. Follow it with GET /api/tasks/{{task_id}}/status/ "
            "or cancel it with POST /api/tasks/{task_id}/cancel/ before starting another.",
            task_id=task_id,
        )


class BatchAlreadyRunning(TaskAlreadyRunning):
    """The project already has an active batch."""

    activity = "a batch generating audio"


class ExportAlreadyRunning(TaskAlreadyRunning):
    """The project already has an active export."""

    activity = "an export running"


class MissingAudio(ServiceError):
    """Segments have no audio yet (``details["segments_without_audio"]``: ``[{"segment_id", "sequence_index"}]``)."""

    def __init__(self, segments: list[dict[str, Any]]):
        count = len(segments)
        super().__init__(
            f"{count} segment{'s have' if count != 1 else ' has'} no audio yet. Generate it first "
            f"(POST /api/projects/{{id}}/generate-all-audio/) or export with \"generate_missing\": true.",
            segments_without_audio=list(segments),
        )


# --------------------------------------------------------------- unavailable (503)


class ModelUnavailable(ServiceError):
    """No TTS model is installed (the spec's body, word for word: it names the spec's model file).

    The fix is ``python manage.py install_model`` (``scripts/setup`` runs it).
    """

    def __init__(self):
        super().__init__("TTS model not available. Please install kokoro-v0_19.onnx.")


class ModelMissing(ModelUnavailable):
    """The model file the server loaded was deleted or moved while it ran (503; ``details["model_file"]``)."""

    def __init__(self, model_path):
        ServiceError.__init__(
            self,
            f"The TTS model file {model_path} was deleted or moved while the server was running. "
            "Run `python manage.py install_model` to reinstall it, then generate again.",
            model_file=str(model_path),
        )


class ModelDamaged(ModelUnavailable):
    """The installed model file cannot be loaded: truncated or corrupt (503; the loader's message)."""

    def __init__(self, message: str):
        ServiceError.__init__(self, message)


class StorageUnavailable(ServiceError):
    """A write failed because the storage refuses it: disk full, quota, permission, read-only (503).

    The message comes from ``core_engine.atomic_files.storage_error_message`` and names the
    folder and what to do ("The disk is full: free space on <folder> and generate again.").
    """

    @classmethod
    def from_os_error(cls, exc: OSError, path=None, retry: str = "try again") -> "StorageUnavailable | None":
        """The error for ``exc`` if its errno is a storage one (``STORAGE_ERRNOS``), else None."""
        message = storage_error_message(exc, path, retry=retry)
        return cls(message) if message else None


class DatabaseBusy(ServiceError):
    """SQLite stayed locked past its timeout (another program holds a write lock): 503."""

    def __init__(self):
        super().__init__(
            "The database is busy (another program is writing to it, or a backup holds a lock). "
            "Wait a moment and try again; if it persists, close other programs using db.sqlite3."
        )


class TasksShutDown(ServiceError):
    """The task runner is shut down (the server is stopping)."""


class BrokerUnavailable(ServiceError):
    """``STORYFLOW_SYNTHESIS=celery`` and the broker (Redis) does not answer: 503."""

    def __init__(self, broker: str, reason: str):
        super().__init__(
            f"The synthesis broker at {broker} is unreachable ({reason}). Start Redis "
            "(scripts/run --workers N starts it), or set STORYFLOW_SYNTHESIS=local to narrate in this process.",
            broker=broker,
        )


class NoSynthesisWorkers(ServiceError):
    """``STORYFLOW_SYNTHESIS=celery``, the broker answers, but no worker does: 503."""

    def __init__(self, broker: str):
        super().__init__(
            f"No synthesis worker answers on the broker at {broker}. Start one (README, \"Scale out\"; "
            "scripts/run --workers N starts them), or set STORYFLOW_SYNTHESIS=local to narrate in this process.",
            broker=broker,
        )
