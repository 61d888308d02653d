"""Fixtures for the API tests: a fresh TaskManager per test, a fast fake TTS engine, task waiting."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from api.tasks import TERMINAL_STATUSES, TaskManager
from api.tests.factories import ProjectFactory, SegmentFactory
from core_engine.audio_utils import write_wav_atomic
from workers.tests.fake_synthesis import report_fake_chunks

FAKE_VOICES = ["jf_alpha", "jm_kumo"]


@pytest.fixture(autouse=True)
def task_manager():
    """A fresh TaskManager singleton for each test, shut down (and waited for) afterwards."""
    TaskManager._instance = None
    manager = TaskManager()
    yield manager
    manager.shutdown(wait=True)
    TaskManager._instance = None


class FakeEngine:
    """Stands in for ``core_engine.tts_wrapper.generate_audio`` in API tests (the real model is too slow).

    It honours the same contract: it writes a real 24 kHz mono 16-bit WAV to
    ``output_path`` through the engine's own ``write_wav_atomic``, returns the
    result dict, and fails (``success`` False) for texts containing ``FAIL``. Setting
    ``gate`` makes each call wait for it, so tests can observe PROCESSING.
    It records each call (text, voice, speed, path and the lexicon's patterns).
    Like the real engine it reports ``on_progress(chunks_done, chunks_total,
    chars_done, chars_total)``: once with 0 before synthesis, then after each
    "chunk" (one per sentence, split at ". "), sleeping ``chunk_delay`` s per chunk,
    and returns ``cues``: one per sentence, its share of the audio in proportion
    to its characters.
    """

    sample_rate = 24000
    seconds_per_char = 0.05

    def __init__(self):
        self.calls: list[dict] = []
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.delay = 0.0
        self.chunk_delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, text, voice_id, speed, output_path, on_progress=None, lexicon=None):
        with self._lock:
            self.calls.append(
                {
                    "text": text, "voice_id": voice_id, "speed": speed, "output_path": str(output_path),
                    "rules": [rule.pattern for rule in lexicon.rules] if lexicon is not None else [],
                }
            )
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(20), "test gate never opened"
        if self.delay:
            time.sleep(self.delay)
        chunks = report_fake_chunks(text, on_progress, self.chunk_delay)
        total_chars = sum(len(part) for part in chunks)
        if "FAIL" in text:
            return {"success": False, "audio_path": None, "duration": None, "error": "fake engine failure"}
        seconds = max(0.1, len(text) * self.seconds_per_char / speed)
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        audio = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        path = write_wav_atomic(output_path, audio, self.sample_rate)
        duration = len(audio) / self.sample_rate
        cues, start = [], 0.0
        for part in chunks:
            end = start + duration * len(part) / total_chars
            cues.append({"start": round(start, 3), "end": round(end, 3), "text": part.strip()})
            start = end
        return {"success": True, "audio_path": str(path), "duration": round(duration, 2), "error": None, "cues": cues}


def report_model_installed(monkeypatch) -> None:
    """Make ``KokoroModelLoader`` report a model with :data:`FAKE_VOICES` installed (nothing is loaded)."""
    from core_engine.model_loader import KokoroModelLoader

    monkeypatch.setattr(KokoroModelLoader, "is_model_available", classmethod(lambda cls: True))
    monkeypatch.setattr(KokoroModelLoader, "get_voices", classmethod(lambda cls: list(FAKE_VOICES)))


@pytest.fixture
def fake_engine(monkeypatch):
    """Patch the TTS engine with :class:`FakeEngine` and report a model with :data:`FAKE_VOICES` installed."""
    from core_engine import tts_wrapper

    engine = FakeEngine()
    monkeypatch.setattr(tts_wrapper, "generate_audio", engine)
    report_model_installed(monkeypatch)
    return engine


@pytest.fixture
def no_model(monkeypatch):
    """Report that no TTS model is installed."""
    from core_engine.model_loader import KokoroModelLoader

    monkeypatch.setattr(KokoroModelLoader, "is_model_available", classmethod(lambda cls: False))


def journal_interrupted_batch(project, ids: list[str], chars: list[int], done_duration: float, progress: dict) -> str:
    """Journal a batch over ``ids`` as a killed server leaves it: PROCESSING, with ``ids[0]`` done
    (its row pointing at ``/media/projects/{project}/audio/{id}.wav``, ``done_duration`` s). Returns its id."""
    from datetime import datetime, timezone

    from api.models import Segment, TaskRecord, TaskSegmentResult

    done_url = f"/media/projects/{project.id}/audio/{ids[0]}.wav"
    Segment.objects.filter(id=ids[0]).update(audio_file=done_url, audio_duration=done_duration)
    task_id = f"tts_batch_{project.id}_deadbeef"
    TaskRecord.objects.create(
        task_id=task_id, kind="batch", project_id=project.id, segment_ids=ids, voice_id="jf_alpha", speed=1.0,
        status="PROCESSING", stage="synthesizing", created_at=datetime.now(timezone.utc),
        started_at=datetime.now(timezone.utc),
        state={"chars_total": sum(chars), "segment_chars_planned": list(chars), "progress": progress},
    )
    TaskSegmentResult.objects.create(task_id=task_id, segment_id=ids[0], audio_url=done_url, duration=done_duration)
    return task_id


def wait_for_task(task_id: str, timeout: float = 20.0) -> dict:
    """Poll the TaskManager until the task reaches a terminal status; return its final snapshot."""
    manager = TaskManager()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = manager.get_task_status(task_id)
        assert state is not None, f"task {task_id} vanished"
        if state["status"] in TERMINAL_STATUSES:
            return state
        time.sleep(0.01)
    raise AssertionError(f"task {task_id} did not finish within {timeout} s: {manager.get_task_status(task_id)}")


def follow_task(task_id: str, timeout: float = 60.0, interval: float = 0.01) -> tuple[dict, list[dict]]:
    """Poll the task every ``interval`` s from another thread until it ends; return (final status, every status seen)."""
    manager = TaskManager()
    bodies: list[dict] = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            bodies.append(manager.get_task_status(task_id))
            time.sleep(interval)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        final = wait_for_task(task_id, timeout=timeout)
    finally:
        stop.set()
        poller.join()
    return final, bodies


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.005):
    """Wait until ``predicate()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@pytest.fixture
def project(db):
    return ProjectFactory(title="The Lighthouse")


@pytest.fixture
def segments(project):
    """Three segments of ``project``, sequence 0..2."""
    return [SegmentFactory(project=project, sequence_index=i, text_content=f"Paragraph number {i} of the story.") for i in range(3)]


def pytest_terminal_summary(terminalreporter):
    """Print the schemathesis run's request count (``test_schemathesis.summary``) after the tests."""
    import sys

    module = sys.modules.get("api.tests.test_schemathesis")
    for line in getattr(module, "summary", []):
        terminalreporter.write_line(line)
