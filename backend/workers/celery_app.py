"""The Celery application of StoryFlow's scale-out mode.

Run a worker (one model per process, loaded after the fork)::

    STORYFLOW_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/celery --workdir backend -A workers.celery_app worker \\
        --concurrency 1 --prefetch-multiplier 1 -Q storyflow.synthesis

Configuration (from ``storyflow.settings``, i.e. the ``STORYFLOW_*`` environment):

* broker and result backend: ``STORYFLOW_BROKER_URL`` (Redis; ``rediss://`` for TLS);
* JSON only, in and out (``accept_content``): never pickle;
* ``task_acks_late`` + ``task_reject_on_worker_lost``: a segment whose worker dies
  (SIGKILL, OOM, power) goes back to the queue and another worker redoes it;
* ``worker_prefetch_multiplier = 1``: a worker reserves one segment beyond the ones
  it runs, so a batch spreads evenly over the pool;
* ``visibility_timeout``: ``STORYFLOW_BROKER_VISIBILITY_TIMEOUT`` seconds (default
  3600), well above the longest segment (a 20,000-character chapter at RTF 1 is
  about 20 minutes): Redis redelivers an unacknowledged message after it;
* ``result_expires``: results are deleted from Redis after an hour (the web
  process has applied them long before);
* the result backend is :class:`PolledRedisBackend`: the web process reads results by
  polling, so sending a task does not subscribe it to the task's result channel.

Sources: Celery 5 docs, "Configuration and defaults" and "Using Redis"
(https://docs.celeryq.dev/en/stable/userguide/configuration.html,
https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html).
"""
from __future__ import annotations

import os

from celery import Celery
from celery.backends.redis import RedisBackend

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")

from django.conf import settings  # noqa: E402  (settings only: workers never set up the ORM)

#: The queue synthesis tasks go to (workers listen with ``-Q storyflow.synthesis``).
SYNTHESIS_QUEUE = "storyflow.synthesis"


def broker_url() -> str:
    """``settings.STORYFLOW_BROKER_URL`` (default ``redis://127.0.0.1:6379/0``)."""
    return str(getattr(settings, "STORYFLOW_BROKER_URL", "") or "redis://127.0.0.1:6379/0")


class PolledRedisBackend(RedisBackend):
    """Celery's Redis result backend, for clients that read results by polling
    (``backend.get_task_meta``, as ``api.services.remote_synthesis`` does), never by
    ``AsyncResult.get``.

    The stock backend SUBSCRIBEs the sender to the task's result channel at ``send_task``
    (``on_task_call``, for a later ``AsyncResult.get``), and UNSUBSCRIBEs it when that
    AsyncResult is garbage-collected: two Redis round trips per segment that a poller never
    uses (and, while subscribed, every state update of the task is pushed to it as well).
    Here sending subscribes to nothing.
    """

    def on_task_call(self, producer, task_id):  # noqa: D102 (see the class docstring)
        return None


def make_app(url: str, include: tuple[str, ...] = ()) -> Celery:
    """A Celery app on broker and result backend ``url`` with StoryFlow's configuration (above)."""
    timeout = int(getattr(settings, "STORYFLOW_BROKER_VISIBILITY_TIMEOUT", 3600))
    made = Celery("storyflow", include=list(include))
    made.conf.update(
        broker_url=url,
        # "<backend class>+<url>": Celery's by_url form for a backend class on a URL.
        result_backend=f"{__name__}:PolledRedisBackend+{url}",
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=SYNTHESIS_QUEUE,
        task_track_started=True,
        result_expires=3600,
        broker_transport_options={"visibility_timeout": timeout},
        result_backend_transport_options={"visibility_timeout": timeout},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        redis_socket_timeout=5,
        redis_socket_connect_timeout=2,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return made


#: The workers' app (``celery -A workers.celery_app``), on the broker configured at start.
app = make_app(broker_url(), include=("workers.synthesis",))

_clients: dict[str, Celery] = {}


def client_app() -> Celery:
    """The web process's app for the broker configured now (one per URL, made on first use)."""
    url = broker_url()
    if url == app.conf.broker_url:
        return app
    if url not in _clients:
        _clients[url] = make_app(url)
    return _clients[url]
