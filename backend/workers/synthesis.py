"""The scale-out synthesis task: synthesis input in, FLAC audio and sentence timings out.

A pure function of its request (no database, no file, no shared disk): the web
process (``api.services.remote_synthesis``) sends what ``tts_wrapper.synthesize``
takes and writes the result itself. Request (JSON)::

    {"text": str, "voice_id": str (a voice or a blend), "speed": float (0.5-2.0),
     "lexicon": [[key, pattern, replacement, case_sensitive], ...],
     "model_sha256": str | null}   # the web process's model file: a worker with another refuses

Result (JSON)::

    {"flac": str (base64 of FLAC, 16-bit mono: ``audio_utils.encode_flac``),
     "sample_rate": int (Hz), "samples": int, "exact_cues": bool,
     "cues": [{"start": float, "end": float, "text": str}, ...],   # seconds, unrounded
     "worker": {"hostname": str, "pid": int, "variant": str, "model_sha256": str}}

While it runs, the task's state is ``PROGRESS`` with ``{"chunks_done", "chunks_total",
"chars_done", "chars_total"}`` after every chunk (Celery's ``update_state``), so the
web process moves the bar chunk by chunk. It is an ``AbortableTask``: once the web
process aborts it (cancel), it stops after the chunk(s) in flight and returns
nothing (state ``ABORTED``); the worker process lives on.

Each worker process loads the model once, after the fork (``worker_process_init``).
"""
from __future__ import annotations

import base64
import logging
import os
import socket
from typing import Any

from celery.contrib.abortable import AbortableTask
from celery.signals import worker_process_init
from celery.worker.control import inspect_command

from workers.celery_app import app

logger = logging.getLogger(__name__)

#: Name the web process sends the task by.
SYNTHESIZE_TASK = "storyflow.synthesize_speech"


class ModelMismatch(Exception):
    """This worker's model file is not the one the web process narrates with (sha256 differs)."""


def _synthesize_function():
    """``tts_wrapper.synthesize``, or the function ``STORYFLOW_WORKER_SYNTHESIZE`` names
    (``module:attribute``; the tests' fake engine, so that API tests run in this mode fast)."""
    from django.conf import settings

    target = str(getattr(settings, "STORYFLOW_WORKER_SYNTHESIZE", "") or "")
    if not target:
        from core_engine.tts_wrapper import synthesize

        return synthesize
    import importlib

    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def worker_model() -> dict[str, Any]:
    """``{"variant", "model_sha256"}`` of the model this worker runs (nulls without a model or with a fake)."""
    from django.conf import settings

    if getattr(settings, "STORYFLOW_WORKER_SYNTHESIZE", ""):
        fake = _synthesize_function()
        return {"variant": getattr(fake, "variant", "fake"), "model_sha256": getattr(fake, "model_sha256", None)}
    from core_engine.model_loader import KokoroModelLoader

    files = KokoroModelLoader.resolve_model_files()
    return {"variant": files.variant if files else None, "model_sha256": KokoroModelLoader.model_sha256(files)}


@inspect_command()
def storyflow_engine(state) -> dict[str, Any]:
    """Remote-control command (``app.control.broadcast("storyflow_engine", reply=True)``): this
    worker's ``{"variant", "model_sha256", "cpu": cpu_info().as_dict()}``, for ``GET /api/engine/``."""
    from core_engine.cpu_info import cpu_info

    return {**worker_model(), "cpu": cpu_info().as_dict()}


@worker_process_init.connect
def load_model_after_fork(**_kwargs) -> None:
    """Load the model sessions in this (forked) worker process, once, before its first task."""
    from django.conf import settings

    if getattr(settings, "STORYFLOW_WORKER_SYNTHESIZE", ""):
        return
    from core_engine.model_loader import KokoroModelLoader

    try:
        KokoroModelLoader.ensure_calibrated()
        KokoroModelLoader.get_sessions()
    except Exception:  # reported per task instead: a worker without a model still answers ping
        logger.exception("Worker %s could not load the model", os.getpid())


@app.task(bind=True, base=AbortableTask, name=SYNTHESIZE_TASK)  # acks_late etc.: the app's configuration
def synthesize_speech(self, request: dict[str, Any]) -> dict[str, Any] | None:
    """Synthesize ``request`` (see the module docstring); returns the result dict, or None when aborted.

    Raises:
        ModelMismatch: ``request["model_sha256"]`` is not this worker's model.
        core_engine.tts_wrapper.InvalidSynthesisRequest / SynthesisFailed: as ``synthesize``.
    """
    from core_engine.audio_utils import encode_flac
    from core_engine.lexicon import LexiconRule, compile_lexicon
    from core_engine.tts_wrapper import SynthesisCancelled

    model = worker_model()
    wanted = request.get("model_sha256")
    if wanted and model["model_sha256"] and wanted != model["model_sha256"]:
        raise ModelMismatch(
            f"worker {socket.gethostname()} runs model {model['variant']} ({model['model_sha256'][:12]}), "
            f"the web process narrates with {wanted[:12]}: install the same model files on every worker"
        )
    lexicon = compile_lexicon(tuple(LexiconRule(str(k), str(p), str(r), bool(c)) for k, p, r, c in request.get("lexicon") or ()))

    def on_progress(chunks_done: int, chunks_total: int, chars_done: int, chars_total: int) -> None:
        if chunks_done and self.is_aborted():
            raise SynthesisCancelled()
        self.update_state(state="PROGRESS", meta={
            "chunks_done": chunks_done, "chunks_total": chunks_total,
            "chars_done": chars_done, "chars_total": chars_total,
        })

    try:
        synthesis = _synthesize_function()(
            request["text"], request["voice_id"], float(request["speed"]), on_progress, lexicon=lexicon,
        )
    except SynthesisCancelled:
        logger.info("Synthesis task %s aborted between chunks", self.request.id)
        return None
    return {
        "flac": base64.b64encode(encode_flac(synthesis.audio, synthesis.sample_rate)).decode("ascii"),
        "sample_rate": int(synthesis.sample_rate),
        "samples": int(synthesis.audio.size),
        "exact_cues": bool(synthesis.exact_cues),
        "cues": [{"start": float(c.start), "end": float(c.end), "text": c.text} for c in synthesis.cues],
        "worker": {"hostname": socket.gethostname(), "pid": os.getpid(), **model},
    }
