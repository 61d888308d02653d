"""Shared set-up of the task benchmarks (``eta_benchmark.py``, ``status_benchmark.py``, ``load_benchmark.py``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORY = REPO.parent / "shared" / "data" / "stories" / "poe_tell_tale_heart.txt"


def setup_django(workdir: Path) -> None:
    """Configure Django on a temporary database and media folder under ``workdir``, and migrate it."""
    sys.path.insert(0, str(REPO / "backend"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "storyflow.settings"
    os.environ["STORYFLOW_DB_PATH"] = str(workdir / "db.sqlite3")
    os.environ["STORYFLOW_MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("STORYFLOW_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def import_story_prefix(path: Path, chars: int, title: str):
    """Import whole paragraphs of the story until at least ``chars`` characters; return ``(project, characters)``."""
    from api.services.story_import import import_story, parse_story_file

    _, text = parse_story_file(path.read_text(encoding="utf-8"))
    paragraphs, size = [], 0
    for paragraph in text.split("\n\n"):
        if size >= chars:
            break
        paragraphs.append(paragraph)
        size += len(paragraph)
    return import_story(title=title, text="\n\n".join(paragraphs)), size


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunserverProcess:
    """``manage.py runserver 127.0.0.1:<free port> --noreload`` as a subprocess (the server the README
    runs: one process, its TaskManager and worker thread inside), on the database ``workdir/db.sqlite3``
    and media folder ``workdir/media`` (migrated first), its output in ``workdir/server.log``."""

    def __init__(self, workdir: Path, extra_env: dict | None = None):
        self.workdir = workdir
        self.db = workdir / "db.sqlite3"
        self.media = workdir / "media"
        self.log = workdir / "server.log"
        self.env = {**os.environ, "STORYFLOW_DB_PATH": str(self.db), "STORYFLOW_MEDIA_ROOT": str(self.media),
                    "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.proc = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 600):
        """Run ``manage.py <args>`` on this server's database and media; return the CompletedProcess."""
        import subprocess

        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, timeout: float = 120) -> "RunserverProcess":
        """Migrate, start the server and wait until ``GET /api/projects/`` answers."""
        import subprocess
        import time
        import urllib.error
        import urllib.request

        migrated = self.manage("migrate", "--noinput")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
        self.port = free_port()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log.read_text(errors='replace')}")
            try:
                urllib.request.urlopen(f"{self.url}/api/projects/", timeout=5).read()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not answer in time:\n" + self.log.read_text(errors="replace"))

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the server process has used so far (``/proc/<pid>/stat``), or None."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        """SIGTERM the server (SIGKILL after 20 s); return its exit code."""
        import subprocess

        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
