"""Synthesis on Celery workers (``STORYFLOW_SYNTHESIS=celery``), seen from the web process.

The web process keeps every task (state, progress, journal, files, rows); only the
pure synthesis step (``workers.synthesis.synthesize_speech``) runs on a worker.
This module sends requests, follows their progress, and turns results back into a
``tts_wrapper.Synthesis`` that ``audio_generation`` writes exactly as it writes a
local one (same WAV, sample for sample: ``audio_utils.pcm16``).

A batch submits its next segments ahead (``submit``, from ``audio_generation.submit_segments``), so
every worker of the pool has a segment while the web process waits for the one in
order; ``discard_submitted`` revokes and aborts what is left when the batch ends or
is cancelled.

Errors: ``BrokerUnavailable`` (503 at the API edge) when Redis cannot be reached;
``RemoteSynthesisFailed`` when a segment failed ``MAX_ATTEMPTS`` times (or once,
for an error retrying cannot fix); ``tts_wrapper.SynthesisCancelled`` when the
task was cancelled while waiting.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from typing import Any, Callable

from django.conf import settings

from api.services.errors import BrokerUnavailable, NoSynthesisWorkers
from core_engine.audio_utils import decode_flac
from core_engine.lexicon import Lexicon
from core_engine.sentence_cues import Cue
from core_engine.tts_wrapper import ProgressCallback, Synthesis, SynthesisCancelled

logger = logging.getLogger(__name__)

#: Seconds between two looks at the segment in turn (state, progress, cancel; a Redis GET and
#: about 1 ms of CPU each): from ``POLL_SECONDS`` growing 1.5x per look up to ``POLL_MAX_SECONDS``.
#: Measured with ``bench/scale_benchmark.py`` on a 2-core AMD EPYC with avx512_vnni, each pair in one session: a fixed 0.1 s cost the 100-slot
#: simulation 3 % of its efficiency (0.899 against 0.929 at 0.02 s), and a fixed 0.02 s cost the
#: 2-worker real-model batch 7 % of its speed (46.0 s against 42.9 s: the web process's polling
#: took 2.8 s of CPU from the workers, against 1.2 s).
POLL_SECONDS = 0.02
POLL_MAX_SECONDS = 0.1
#: Tries per segment before it lands in the batch's errors (a worker's death is not a try:
#: Celery redelivers that message, ``task_acks_late`` + ``task_reject_on_worker_lost``).
MAX_ATTEMPTS = 3
#: Errors a retry cannot fix: the segment fails at once.
PERMANENT_ERRORS = {"ModelMismatch", "InvalidSynthesisRequest", "SynthesisFailed"}
#: Seconds ``check_broker`` waits for Redis.
BROKER_TIMEOUT_SECONDS = 2.0


class RemoteSynthesisFailed(RuntimeError):
    """A segment's synthesis failed on the workers (its message says why and how often)."""


def is_remote() -> bool:
    """True in ``celery`` mode (``settings.STORYFLOW_SYNTHESIS``; ``"local"``, the default, is the
    engine in this process)."""
    return str(getattr(settings, "STORYFLOW_SYNTHESIS", "local") or "local").strip().lower() == "celery"


def submit_window() -> int:
    """How many segments a batch keeps queued on the pool: ``settings.STORYFLOW_REMOTE_WINDOW``
    (default 8; ``scripts/run --workers N`` sets 2 N + 2). Each waits in Redis as its FLAC
    once done (about 0.6 MB per minute of audio, base64), so the window bounds Redis memory."""
    return max(1, int(getattr(settings, "STORYFLOW_REMOTE_WINDOW", 8) or 8))


def redacted_broker_url() -> str:
    """The broker URL with any password replaced by ``***`` (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    from workers.celery_app import broker_url

    parts = urlsplit(broker_url())
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def check_broker() -> None:
    """Raise ``BrokerUnavailable`` (naming the broker) unless Redis answers a PING within 2 s."""
    import redis

    from workers.celery_app import broker_url

    try:
        client = redis.Redis.from_url(
            broker_url(), socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        )
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise BrokerUnavailable(redacted_broker_url(), str(exc)) from exc


#: Seconds a successful worker ping is trusted (``check_workers``), and the ping's own timeout.
WORKERS_SEEN_SECONDS, PING_TIMEOUT_SECONDS = 30.0, 1.0
_workers_seen: dict[str, float] = {}  # broker URL -> time.monotonic() of the last ping a worker answered


def check_workers() -> None:
    """Raise ``NoSynthesisWorkers`` (503) unless a worker answered Celery's ping in the last
    ``WORKERS_SEEN_SECONDS`` or answers one of two pings now (``PING_TIMEOUT_SECONDS`` each): without a worker a
    new task would wait in the queue forever. Call after ``check_broker``.

    A ping returns at the first reply (``limit=1``): without it Celery's broadcast waits out the
    whole timeout for more replies, which put a full second before a batch's first segment
    (``bench/scale_benchmark.py`` simulation, AMD EPYC, 2 cores, avx512_vnni, same session:
    lead-in to the first task 1.68 s without ``limit``, 0.61 s with it)."""
    from workers.celery_app import broker_url, client_app

    url = broker_url()
    seen = _workers_seen.get(url)
    if seen is not None and time.monotonic() - seen < WORKERS_SEEN_SECONDS:
        return
    replies = []
    for _ in range(2):  # a busy worker's main process can miss one short ping
        try:
            replies = client_app().control.ping(timeout=PING_TIMEOUT_SECONDS, limit=1) or []
        except Exception as exc:  # kombu / redis errors: the broker went away between the two checks
            raise BrokerUnavailable(redacted_broker_url(), str(exc)) from exc
        if replies:
            break
    if not replies:
        raise NoSynthesisWorkers(redacted_broker_url())
    _workers_seen[url] = time.monotonic()


def build_request(text: str, voice_id: str, speed: float, lexicon: Lexicon, model_sha256: str | None) -> dict[str, Any]:
    """The JSON request of ``workers.synthesis`` for one segment (see that module)."""
    return {
        "text": text,
        "voice_id": voice_id,
        "speed": float(speed),
        "lexicon": [[r.key, r.pattern, r.replacement, r.case_sensitive] for r in lexicon.rules],
        "model_sha256": model_sha256,
    }


def request_key(request: dict[str, Any]) -> str:
    """sha256 of the request's canonical JSON: what a submitted request is found by."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


_lock = threading.Lock()
_submitted: dict[str, Any] = {}  # request_key -> AbortableAsyncResult, submitted ahead and not taken yet


def _send(request: dict[str, Any]):
    from celery.contrib.abortable import AbortableAsyncResult
    from kombu.exceptions import OperationalError

    from workers.celery_app import SYNTHESIS_QUEUE, client_app
    from workers.synthesis import SYNTHESIZE_TASK

    app = client_app()
    try:
        sent = app.send_task(SYNTHESIZE_TASK, args=[request], queue=SYNTHESIS_QUEUE, retry=False)
    except OperationalError as exc:
        raise BrokerUnavailable(redacted_broker_url(), str(exc)) from exc
    return AbortableAsyncResult(sent.id, app=app)


def submit(request: dict[str, Any]) -> str:
    """Send ``request`` to the pool ahead of time (idempotent per request); returns its key.

    Raises:
        BrokerUnavailable: Redis cannot be reached.
    """
    key = request_key(request)
    with _lock:
        if key not in _submitted:
            _submitted[key] = _send(request)
    return key


def discard_submitted() -> int:
    """Revoke and abort every request submitted ahead and not taken; returns how many."""
    with _lock:
        pending = list(_submitted.values())
        _submitted.clear()
    if not pending:
        return 0
    try:
        check_broker()  # a revoke through a dead broker would wait on kombu's reconnects
    except BrokerUnavailable:
        return len(pending)
    for result in pending:
        _stop(result)
    return len(pending)


def _stop(result) -> None:
    try:
        result.revoke()  # a queued message is dropped by the worker that receives it
        result.abort()   # a running one stops after its chunk(s) in flight
    except Exception:  # the broker may be gone: nothing runs then either
        logger.warning("Could not revoke synthesis task %s", result.id, exc_info=True)


def _take(request: dict[str, Any]):
    key = request_key(request)
    with _lock:
        result = _submitted.pop(key, None)
    return result if result is not None else _send(request)


def synthesize_remote(
    request: dict[str, Any],
    on_progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[Synthesis, dict[str, Any]]:
    """Run ``request`` on the pool (taking the one submitted ahead, if any) and wait for it.

    ``on_progress`` is called as ``tts_wrapper.synthesize`` calls it, from this thread, as
    the worker reports chunks; ``cancelled()`` is checked at every look (at most ``POLL_MAX_SECONDS`` apart).

    Returns:
        ``(Synthesis with int16 audio, the worker's {"hostname", "pid", "variant", "model_sha256"})``.

    Raises:
        SynthesisCancelled: ``cancelled()`` turned true (the task is revoked and aborted).
        RemoteSynthesisFailed: it failed ``MAX_ATTEMPTS`` times, or once with a permanent error.
        BrokerUnavailable: Redis cannot be reached (or went away while waiting).
    """
    import redis
    from kombu.exceptions import OperationalError

    attempt, result = 1, _take(request)
    last_chunks = -1
    interval = POLL_SECONDS
    while True:
        try:
            # One read of the result backend per look (``state`` and ``info`` would each read it).
            meta = result.backend.get_task_meta(result.id)
            state = meta["status"]
            if cancelled():
                _stop(result)
                raise SynthesisCancelled()
            if state == "PROGRESS":
                info = meta.get("result") or {}
                chunks = int(info.get("chunks_done", 0))
                # A redelivered or retried request starts again at chunk 0: report only new highs,
                # so the bar never goes back.
                if chunks > last_chunks and on_progress is not None:
                    last_chunks = chunks
                    on_progress(chunks, int(info.get("chunks_total", 0)), int(info.get("chars_done", 0)),
                                int(info.get("chars_total", 0)))
            elif state == "SUCCESS":
                value = meta.get("result")  # the look above read it: no second read (AsyncResult.get)
                result.forget()
                if value is None:  # aborted on the worker
                    raise SynthesisCancelled()
                return _decode(value), value.get("worker", {})
            elif state in ("FAILURE", "REVOKED"):
                error = meta.get("result")
                kind = type(error).__name__ if isinstance(error, BaseException) else str(state)
                message = f"{kind}: {error}"
                result.forget()
                if kind in PERMANENT_ERRORS or attempt >= MAX_ATTEMPTS:
                    raise RemoteSynthesisFailed(
                        f"{message} (on the synthesis workers, attempt {attempt} of {MAX_ATTEMPTS})"
                    )
                logger.warning("Remote synthesis failed (attempt %d of %d): %s; retrying", attempt, MAX_ATTEMPTS, message)
                attempt, result = attempt + 1, _send(request)
                continue
        except (redis.RedisError, OperationalError) as exc:
            raise BrokerUnavailable(redacted_broker_url(), str(exc)) from exc
        time.sleep(interval)
        interval = min(POLL_MAX_SECONDS, interval * 1.5)


def _decode(value: dict[str, Any]) -> Synthesis:
    samples, rate = decode_flac(base64.b64decode(value["flac"]))
    if rate != int(value["sample_rate"]) or samples.size != int(value["samples"]):
        raise RemoteSynthesisFailed(
            f"the worker's audio does not match its own header ({samples.size} samples at {rate} Hz)"
        )
    cues = [Cue(float(c["start"]), float(c["end"]), str(c["text"])) for c in value.get("cues") or []]
    return Synthesis(audio=samples, sample_rate=rate, cues=cues, exact_cues=bool(value.get("exact_cues")))


def describe_workers(timeout: float = 1.0) -> dict[str, Any]:
    """The pool as ``GET /api/engine/`` shows it; waits at most about 2 x ``timeout`` seconds.

    Returns:
        ``{"mode": "local"}`` in local mode; else ``{"mode": "celery", "broker": str (password
        hidden), "error": str | null, "workers": [{"hostname", "concurrency", "variant",
        "model_sha256", "cpu", "segments_done"}]}``, from Celery's ``inspect().stats()`` and the
        workers' ``storyflow_engine`` command. A worker that does not answer within ``timeout``
        is not listed; an unreachable broker gives ``workers == []`` and the reason in ``error``.
    """
    if not is_remote():
        return {"mode": "local"}
    described: dict[str, Any] = {"mode": "celery", "broker": redacted_broker_url(), "error": None, "workers": []}
    try:
        check_broker()
        from workers.celery_app import client_app
        from workers.synthesis import SYNTHESIZE_TASK

        app = client_app()
        stats = app.control.inspect(timeout=timeout).stats() or {}
        engines = {}
        for reply in app.control.broadcast("storyflow_engine", reply=True, timeout=timeout) or []:
            engines.update(reply)
    except BrokerUnavailable as exc:
        described["error"] = exc.message
        return described
    for hostname in sorted(stats):
        info = stats[hostname]
        engine = engines.get(hostname) or {}
        described["workers"].append({
            "hostname": hostname,
            "concurrency": int((info.get("pool") or {}).get("max-concurrency") or 0),
            "variant": engine.get("variant"),
            "model_sha256": engine.get("model_sha256"),
            "cpu": engine.get("cpu"),
            "segments_done": int((info.get("total") or {}).get(SYNTHESIZE_TASK, 0)),
        })
    return described
