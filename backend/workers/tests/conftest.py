"""Fixtures for the scale-out tests: a real redis-server on a free loopback port and real
Celery worker processes (``celery -A workers.celery_app worker``), with the fake engine
(``fake_synthesis``) unless a test asks for the real model.

``scripts/test`` installs ``redis-server`` with apt when it is missing (``scripts/install-redis``);
without it these tests are skipped, saying so.
"""
from __future__ import annotations

import shutil

import pytest

# The API tests' fixtures: a fresh TaskManager per test (autouse), the local fake engine, a project.
from api.tests.conftest import fake_engine, project, task_manager  # noqa: F401

from workers.local_pool import RedisServer, Worker, wait_for_workers


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/install-redis installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake_pool(redis_server, tmp_path_factory):
    """Two fake-engine workers, one process each, on ``redis_server``."""
    folder = tmp_path_factory.mktemp("workers")
    workers = [Worker(f"w{i}", redis_server.url, folder / f"w{i}.log",
                      env={"STORYFLOW_FAKE_CHUNK_SECONDS": "0.05"}) for i in (1, 2)]
    try:
        wait_for_workers(redis_server.url, [w.name for w in workers])
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def celery_mode(settings, redis_server):
    """This test's web side in ``celery`` mode on ``redis_server``; the queue is emptied after."""
    import redis

    from api.services import remote_synthesis

    settings.STORYFLOW_SYNTHESIS = "celery"
    settings.STORYFLOW_BROKER_URL = redis_server.url
    yield redis_server
    remote_synthesis.discard_submitted()
    redis.Redis.from_url(redis_server.url).flushdb()


@pytest.fixture
def own_redis(settings, tmp_path):
    """A redis-server of this test alone (its own workers see no other test's), in celery mode."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/install-redis installs it)")
    from api.services import remote_synthesis

    server = RedisServer(tmp_path)
    server.start()
    settings.STORYFLOW_SYNTHESIS = "celery"
    settings.STORYFLOW_BROKER_URL = server.url
    yield server
    remote_synthesis.discard_submitted()
    server.stop()
