"""Fixtures for the scale-out tests: a real redis-server on a free loopback port and real
Celery worker processes (``celery -A workers.celery_app worker``), with the fake engine
(``fake_synthesis``) unless a test asks for the real model.

``scripts/test`` installs ``redis-server`` with apt when it is missing (``scripts/install-redis``);
without it these tests are skipped, saying so.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The API tests' fixtures: a fresh TaskManager per test (autouse), the local fake engine, a project.
from api.tests.conftest import fake_engine, project, task_manager  # noqa: F401

BACKEND = Path(__file__).resolve().parents[2]
FAKE = "workers.tests.fake_synthesis:synthesize"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``, no persistence, in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Worker:
    """One ``celery worker`` process (prefork pool, ``concurrency`` children)."""

    def __init__(self, name: str, broker_url: str, log: Path, *, fake: bool = True, concurrency: int = 1,
                 env: dict[str, str] | None = None):
        self.name = name
        command = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
            "--hostname", f"{name}@%h", "--pool", "prefork", "--concurrency", str(concurrency),
            "--prefetch-multiplier", "1", "--queues", "storyflow.synthesis",
            "--without-gossip", "--without-mingle",
        ]
        environment = {**os.environ, "STORYFLOW_BROKER_URL": broker_url, "PYTHONPATH": str(BACKEND),
                       "STORYFLOW_WORKER_SYNTHESIZE": FAKE if fake else "", **(env or {})}
        self.log = log
        self.process = subprocess.Popen(
            command, cwd=BACKEND, env=environment, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def children(self) -> list[int]:
        """Pids of the pool processes (children of the main worker process)."""
        found = []
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(status.parent.name))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def wait_for_workers(broker_url: str, names: list[str], timeout: float = 60.0) -> None:
    """Until every worker named answers Celery's ping."""
    from workers.celery_app import make_app

    app = make_app(broker_url)
    deadline = time.monotonic() + timeout
    wanted = set(names)
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        seen = {next(iter(reply)).split("@")[0] for reply in replies}
        if wanted <= seen:
            return
    raise RuntimeError(f"workers {sorted(wanted)} did not answer ping in {timeout} s")


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
