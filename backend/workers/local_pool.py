"""Start a Redis broker and Celery synthesis workers on this machine, as child processes.

Used by the scale-out tests and ``bench/scale_benchmark.py`` (``scripts/run --workers N``
does the same in bash). Everything binds to 127.0.0.1.
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

BACKEND = Path(__file__).resolve().parent.parent
#: The tests' fake engine (``workers/tests/fake_synthesis.py``), for ``Worker(fake=True)``.
FAKE = "workers.tests.fake_synthesis:synthesize"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
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
    """One ``celery worker`` process (``pool`` "prefork": ``concurrency`` child processes;
    "threads": that many threads), logging to ``log``; ``fake`` runs the tests' fake engine."""

    def __init__(self, name: str, broker_url: str, log: Path, *, fake: bool = True, concurrency: int = 1,
                 env: dict[str, str] | None = None, pool: str = "prefork"):
        self.name = name
        command = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
            "--hostname", f"{name}@%h", "--pool", pool, "--concurrency", str(concurrency),
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
    """Return once every worker named answers Celery's ping; RuntimeError after ``timeout`` seconds."""
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
