"""The task system through the server the README runs (``manage.py runserver --noreload``) with the real model.

- the SSE stream read by a real HTTP client, including a disconnect and a
  reconnect with ``Last-Event-ID``;
- a restart: the server is killed with SIGKILL mid-batch and started again;
  the batch resumes under the same id and completes, and every segment has
  exactly one complete ``.wav``.

Each test starts its own server subprocess on a free port with a temporary
SQLite database and media folder.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import soundfile as sf

REPO = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.real_model]

STORY = "\n\n".join(
    [
        "The lamplighter climbed the hill at dusk, as he had done for forty years.",
        "He carried a ladder, a tin of oil, and a small brass key that opened every lamp in the village.",
        "Children followed him from door to door, counting the lights as they woke one by one.",
        "When the last lamp was lit, he sat on the wall by the church and listened to the river.",
    ]
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``manage.py runserver`` subprocess with its own database and media folder."""

    def __init__(self, workdir: Path, extra_env: dict | None = None):
        self.env = {
            **os.environ,
            "STORYFLOW_DB_PATH": str(workdir / "db.sqlite3"),
            "STORYFLOW_MEDIA_ROOT": str(workdir / "media"),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.media = workdir / "media"
        self.log = workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=self.env, check=True,
                       capture_output=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.port = _free_port()
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/api/voices/", timeout=2)
                return self
            except requests.ConnectionError:
                assert self.proc.poll() is None, self.log.read_text()
                time.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def status(self, task_id: str) -> dict:
        return requests.get(f"{self.url}/api/tasks/{task_id}/status/", timeout=10).json()

    def wait_for(self, task_id: str, predicate, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(task_id)
            if predicate(body):
                return body
            time.sleep(0.1)
        raise AssertionError(f"condition not met: {self.status(task_id)}")


@pytest.fixture
def server(tmp_path, installed_model):
    servers = []

    def make(**env) -> Server:
        srv = Server(tmp_path, env)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def _import(srv: Server, text: str = STORY) -> dict:
    response = requests.post(f"{srv.url}/api/projects/import/", json={"title": "Lamplighter", "text": text}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _read_events(response, until_count: int | None = None):
    """Parse an SSE response into ``(events, comments)``; stop after ``until_count`` events."""
    events, comments, fields = [], [], {}
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if "data" in fields:
                events.append({"id": int(fields["id"]), "event": fields.get("event"), "data": json.loads(fields["data"])})
                if until_count is not None and len(events) >= until_count:
                    return events, comments
            fields = {}
        elif raw.startswith(":"):
            comments.append(raw)
        else:
            name, _, value = raw.partition(":")
            fields[name] = value.lstrip(" ")
    return events, comments


def test_sse_stream_with_disconnect_and_last_event_id_reconnect(server):
    srv = server().start()
    project = _import(srv)
    task_id = requests.post(f"{srv.url}/api/projects/{project['id']}/generate-all-audio/", json={}, timeout=10).json()["task_id"]

    with requests.get(f"{srv.url}/api/tasks/{task_id}/events/", stream=True, timeout=60) as first:
        assert first.status_code == 200
        assert first.headers["Content-Type"].startswith("text/event-stream")
        early, _ = _read_events(first, until_count=5)
    # Disconnected mid-batch (the with-block closed the socket).
    assert [e["id"] for e in early] == list(range(1, 6))
    assert all(e["event"] == "status" and e["data"]["task_id"] == task_id for e in early)
    last_id = early[-1]["id"]
    time.sleep(1.0)  # the batch moves on while nobody listens

    reconnected_at = time.monotonic()
    with requests.get(
        f"{srv.url}/api/tasks/{task_id}/events/", stream=True, timeout=120, headers={"Last-Event-ID": str(last_id)}
    ) as second:
        rest, _ = _read_events(second)  # returns when the server closes the stream
    first_after = rest[0]
    assert first_after["id"] == last_id + 1
    # The current state arrived at once, and it is at least as far as before the disconnect.
    assert first_after["data"]["overall_progress"] >= early[-1]["data"]["overall_progress"]
    assert len(first_after["data"]["completed_segments"]) >= len(early[-1]["data"]["completed_segments"])
    assert [e["id"] for e in rest] == list(range(last_id + 1, last_id + 1 + len(rest)))
    final = rest[-1]["data"]
    assert final["status"] == "COMPLETED" and final["stage"] == "finished" and final["overall_progress"] == 100.0
    assert len(final["completed_segments"]) == 4
    assert time.monotonic() - reconnected_at < 180
    # Events while synthesizing came at chunk and interpolation pace, not only per segment.
    synthesizing = [e for e in early + rest if e["data"]["stage"] == "synthesizing"]
    assert len(synthesizing) > 8
    steps = {e["data"]["current_step"] for e in early + rest}
    assert any(step.startswith("Synthesizing segment 2 of 4 (chunk 1 of") for step in steps)
    assert any(e["data"]["eta_seconds"] is not None for e in rest if e["data"]["status"] == "PROCESSING")
    # A finished task's stream sends its final state and closes.
    with requests.get(f"{srv.url}/api/tasks/{task_id}/events/", stream=True, timeout=10) as done:
        events, _ = _read_events(done)
    assert len(events) == 1 and events[0]["data"]["status"] == "COMPLETED"
    assert requests.get(f"{srv.url}/api/tasks/nope/events/", timeout=10).status_code == 404


def test_sigkill_mid_batch_then_restart_resumes_and_completes(server, tmp_path):
    srv = server()
    srv.start()
    project = _import(srv)
    segment_ids = [s["id"] for s in project["segments"]]
    task_id = requests.post(f"{srv.url}/api/projects/{project['id']}/generate-all-audio/", json={}, timeout=10).json()["task_id"]
    # Kill while segment 2 is being synthesized (segment 1 done).
    srv.wait_for(task_id, lambda b: len(b["completed_segments"]) >= 1 and b["stage"] in {"preparing", "synthesizing"})
    before = srv.status(task_id)
    srv.kill()

    srv.start()  # same database and media folder, new process
    resumed = srv.status(task_id)
    assert resumed["task_id"] == task_id and resumed["status"] in {"PENDING", "PROCESSING", "COMPLETED"}
    final = srv.wait_for(task_id, lambda b: b["status"] in {"COMPLETED", "FAILED", "CANCELLED"})
    assert final["status"] == "COMPLETED", final
    done_ids = [c["segment_id"] for c in final["completed_segments"]]
    assert sorted(done_ids) == sorted(segment_ids) and len(done_ids) == len(set(done_ids))  # none lost, none twice
    assert done_ids[: len(before["completed_segments"])] == [c["segment_id"] for c in before["completed_segments"]]
    assert final["errors"] == []

    logs = requests.get(f"{srv.url}/api/tasks/{task_id}/logs/", timeout=10).json()["logs"]
    assert any("Resumed after a restart" in line["message"] for line in logs), logs
    synthesized = [line["message"] for line in logs if "characters ->" in line["message"]]
    assert len(synthesized) == len(segment_ids)  # each segment synthesized exactly once (one timing line each)

    segments = requests.get(f"{srv.url}/api/segments/?project={project['id']}", timeout=10).json()
    segments = segments["results"] if isinstance(segments, dict) else segments
    audio_dir = srv.media / "projects" / project["id"] / "audio"
    assert sorted(p.name for p in audio_dir.iterdir()) == sorted(f"{sid}.wav" for sid in segment_ids)  # no temp files
    for segment in segments:
        path = audio_dir / f"{segment['id']}.wav"
        info = sf.info(path)
        assert info.samplerate == 24000 and info.frames > 0
        assert segment["audio_file"] == f"/media/projects/{project['id']}/audio/{segment['id']}.wav"
        assert abs(info.frames / info.samplerate - segment["audio_duration"]) < 0.02
        audio, _ = sf.read(path)
        assert len(audio) == info.frames  # complete: the whole file decodes
