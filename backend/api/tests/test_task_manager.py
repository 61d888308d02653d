"""TaskManager: spec §8.5 and the Validation list of task-progress-tracking.md.

These tests use plain Python task functions (no database, no TTS), so they
exercise the real executor, lock and state machine directly.
"""
import threading
import time

import pytest

from api.tasks import (
    TASK_CANCELLED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PENDING,
    TASK_PROCESSING,
    TaskFailure,
    TaskManager,
    TaskManagerShutdownError,
    get_task_manager,
    TaskState,
)
from api.tests.conftest import wait_for_task, wait_until


def blocked_task(started: threading.Event, release: threading.Event):
    def task_fn():
        started.set()
        assert release.wait(10)

    return task_fn


def test_singleton_returns_same_instance(task_manager):
    assert TaskManager() is TaskManager()
    assert get_task_manager() is task_manager


def test_singleton_under_concurrent_first_use():
    TaskManager._instance = None
    instances = []
    barrier = threading.Barrier(8)

    def grab():
        barrier.wait()
        instances.append(TaskManager())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(i) for i in instances}) == 1
    instances[0].shutdown()
    TaskManager._instance = None


def test_executor_has_exactly_one_worker(task_manager):
    assert task_manager._executor._max_workers == 1


def test_submit_creates_pending_task_with_initial_state(task_manager):
    started, release = threading.Event(), threading.Event()
    task_manager.submit_task(blocked_task(started, release), task_id="blocker")
    assert started.wait(5)
    task_id = task_manager.submit_task(lambda: None)
    state = task_manager.get_task_status(task_id)
    assert task_id.startswith("task_") and len(task_id) == len("task_") + 12
    assert state["status"] == TASK_PENDING
    assert state["progress"] == {"current": 0, "total": 0, "percentage": 0}
    assert state["completed_segments"] == [] and state["errors"] == []
    assert state["completed_at"] is None
    release.set()
    assert wait_for_task(task_id)["status"] == TASK_COMPLETED


def test_transitions_pending_processing_completed(task_manager):
    started, release = threading.Event(), threading.Event()
    task_id = task_manager.submit_task(blocked_task(started, release), task_id="t1")
    assert task_id == "t1"
    assert started.wait(5)
    assert task_manager.get_task_status("t1")["status"] == TASK_PROCESSING
    release.set()
    final = wait_for_task("t1")
    assert final["status"] == TASK_COMPLETED
    assert final["completed_at"] >= final["started_at"] >= final["created_at"]


def test_exception_fails_task_and_records_error(task_manager):
    def boom():
        raise RuntimeError("disk full")

    final = wait_for_task(task_manager.submit_task(boom))
    assert final["status"] == TASK_FAILED
    assert final["errors"] == [{"segment_id": None, "error": "disk full"}]
    assert final["completed_at"] is not None


def test_task_failure_carries_segment_id(task_manager):
    def fail():
        raise TaskFailure("voice missing", segment_id="seg-1")

    final = wait_for_task(task_manager.submit_task(fail))
    assert final["errors"] == [{"segment_id": "seg-1", "error": "voice missing"}]


def test_only_one_task_runs_at_a_time_and_others_queue(task_manager):
    running, peak = [0], [0]
    lock = threading.Lock()

    def work():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    ids = [task_manager.submit_task(work) for _ in range(4)]
    # Right after submission the later tasks are still queued.
    assert sum(task_manager.get_task_status(t)["status"] == TASK_PENDING for t in ids) >= 2
    for task_id in ids:
        assert wait_for_task(task_id)["status"] == TASK_COMPLETED
    assert peak[0] == 1


def test_tasks_run_in_submission_order(task_manager):
    order = []
    ids = [task_manager.submit_task(lambda i=i: order.append(i)) for i in range(5)]
    for task_id in ids:
        wait_for_task(task_id)
    assert order == [0, 1, 2, 3, 4]


def test_duplicate_task_id_is_rejected(task_manager):
    task_manager.submit_task(lambda: None, task_id="same")
    with pytest.raises(ValueError):
        task_manager.submit_task(lambda: None, task_id="same")


# --- progress (task-progress-tracking.md Validation) -------------------------


def test_update_progress_sets_integer_percentage(task_manager):
    task_manager._tasks["p"] = _idle_state()
    task_manager.update_task_progress("p", current=5, total=10)
    assert task_manager.get_task_status("p")["progress"] == {"current": 5, "total": 10, "percentage": 50}
    task_manager.update_task_progress("p", current=1, total=3)
    assert task_manager.get_task_status("p")["progress"]["percentage"] == 33


def test_update_progress_total_zero_gives_zero(task_manager):
    task_manager._tasks["p"] = _idle_state()
    task_manager.update_task_progress("p", current=0, total=0)
    assert task_manager.get_task_status("p")["progress"]["percentage"] == 0


def test_update_progress_merges_kwargs(task_manager):
    task_manager._tasks["p"] = _idle_state()
    task_manager.update_task_progress("p", current=2, total=4, current_segment_id="abc")
    assert task_manager.get_task_status("p")["progress"] == {
        "current": 2,
        "total": 4,
        "percentage": 50,
        "current_segment_id": "abc",
    }


def test_completed_segments_and_errors_append(task_manager):
    task_manager._tasks["p"] = _idle_state()
    task_manager.add_completed_segment("p", "s1", {"audio_url": "/media/a.wav", "duration": 1.5})
    task_manager.add_completed_segment("p", "s2", {"audio_url": "/media/b.wav", "duration": 2.0})
    task_manager.add_error("p", "s3", "bad text")
    task_manager.add_error("p", "s4", "worse text")
    state = task_manager.get_task_status("p")
    assert state["completed_segments"] == [
        {"segment_id": "s1", "audio_url": "/media/a.wav", "duration": 1.5},
        {"segment_id": "s2", "audio_url": "/media/b.wav", "duration": 2.0},
    ]
    assert state["errors"] == [{"segment_id": "s3", "error": "bad text"}, {"segment_id": "s4", "error": "worse text"}]


def test_mutations_of_unknown_task_are_silently_ignored(task_manager):
    task_manager.update_task_progress("ghost", current=1, total=2)
    task_manager.add_completed_segment("ghost", "s", {"audio_url": "/x", "duration": 1})
    task_manager.add_error("ghost", "s", "e")
    assert task_manager.get_task_status("ghost") is None
    assert task_manager.is_cancelled("ghost") is False
    assert task_manager.task_count() == 0


def test_mutations_take_the_lock(task_manager):
    """While another thread holds _tasks_lock, every mutation waits for it."""
    task_manager._tasks["p"] = _idle_state()
    calls = [
        lambda: task_manager.update_task_progress("p", current=1, total=1),
        lambda: task_manager.add_completed_segment("p", "s", {"audio_url": "/x", "duration": 1}),
        lambda: task_manager.add_error("p", "s", "e"),
        lambda: task_manager.cancel_task("p"),
        lambda: task_manager.get_task_status("p"),
    ]
    for call in calls:
        done = threading.Event()
        with task_manager._tasks_lock:
            thread = threading.Thread(target=lambda: (call(), done.set()))
            thread.start()
            assert not done.wait(0.05), "mutation ran without the lock"
        assert done.wait(2)
        thread.join()


def test_snapshot_is_not_changed_by_later_work(task_manager):
    task_manager._tasks["p"] = _idle_state()
    task_manager.add_completed_segment("p", "s1", {"audio_url": "/a", "duration": 1})
    snapshot = task_manager.get_task_status("p")
    task_manager.add_completed_segment("p", "s2", {"audio_url": "/b", "duration": 1})
    task_manager.add_error("p", "s3", "e")
    task_manager.update_task_progress("p", current=3, total=3)
    snapshot["completed_segments"].append({"segment_id": "mine"})
    snapshot["progress"]["current"] = 99
    assert len(snapshot["completed_segments"]) == 2  # s1 + the local append only
    assert snapshot["errors"] == []
    live = task_manager.get_task_status("p")
    assert [e["segment_id"] for e in live["completed_segments"]] == ["s1", "s2"]
    assert live["progress"]["current"] == 3


def test_get_status_of_unknown_task_is_none(task_manager):
    assert task_manager.get_task_status("nope") is None


# --- cancel -----------------------------------------------------------------


def test_cancel_pending_task_never_runs(task_manager):
    started, release = threading.Event(), threading.Event()
    task_manager.submit_task(blocked_task(started, release), task_id="blocker")
    assert started.wait(5)
    ran = threading.Event()
    task_manager.submit_task(ran.set, task_id="queued")
    snapshot = task_manager.cancel_task("queued")
    assert snapshot["status"] == TASK_CANCELLED
    release.set()
    wait_for_task("blocker")
    follower = task_manager.submit_task(lambda: None)
    wait_for_task(follower)  # the worker has moved past the cancelled one
    assert not ran.is_set()
    assert task_manager.get_task_status("queued")["status"] == TASK_CANCELLED


def test_cancel_flag_stops_loop_after_current_item(task_manager):
    done = []
    started, release = threading.Event(), threading.Event()

    def loop():
        for i in range(5):
            if task_manager.is_cancelled("loop"):
                break
            if i == 1:
                started.set()
                assert release.wait(5)
            done.append(i)

    task_manager.submit_task(loop, task_id="loop")
    assert started.wait(5)
    snapshot = task_manager.cancel_task("loop")
    assert snapshot["status"] == TASK_PROCESSING and snapshot["current_step"].startswith("Cancelling")
    assert task_manager.is_cancelled("loop")
    release.set()
    final = wait_for_task("loop")
    assert final["status"] == TASK_CANCELLED
    assert done == [0, 1]  # item 1 (in flight) finished, nothing after it


def test_cancel_finished_task_leaves_it(task_manager):
    wait_for_task(task_manager.submit_task(lambda: None, task_id="done"))
    assert task_manager.cancel_task("done")["status"] == TASK_COMPLETED
    assert task_manager.cancel_task("unknown") is None


# --- shutdown and cleanup -----------------------------------------------------


def test_submit_after_shutdown_raises_clear_error(task_manager):
    task_manager.shutdown()
    with pytest.raises(TaskManagerShutdownError, match="shut down"):
        task_manager.submit_task(lambda: None)
    assert task_manager.task_count() == 0


def test_shutdown_cancels_queued_tasks_and_waits_for_running_one(task_manager):
    started, release = threading.Event(), threading.Event()
    task_manager.submit_task(blocked_task(started, release), task_id="running")
    assert started.wait(5)
    task_manager.submit_task(lambda: None, task_id="queued")
    threading.Timer(0.1, release.set).start()
    task_manager.shutdown(wait=True)
    assert task_manager.get_task_status("queued")["status"] == TASK_CANCELLED
    assert task_manager.get_task_status("running")["status"] == TASK_CANCELLED  # asked to stop, finished its item


def test_cleanup_drops_old_finished_tasks_only(task_manager, settings):
    settings.TASK_CLEANUP_THRESHOLD = 3600
    now = time.time()
    task_manager._tasks.update(
        {
            "old_done": _idle_state("old_done", status=TASK_COMPLETED, completed_at=now - 3601),
            "old_failed": _idle_state("old_failed", status=TASK_FAILED, completed_at=now - 7200),
            "old_cancelled": _idle_state("old_cancelled", status=TASK_CANCELLED, completed_at=now - 4000),
            "fresh_done": _idle_state("fresh_done", status=TASK_COMPLETED, completed_at=now - 10),
            "old_pending": _idle_state("old_pending", status=TASK_PENDING, created_at=now - 99999),
            "old_processing": _idle_state("old_processing", status=TASK_PROCESSING, created_at=now - 99999),
        }
    )
    assert task_manager._cleanup_old_tasks() == 3
    assert set(task_manager._tasks) == {"fresh_done", "old_pending", "old_processing"}


def test_cleanup_threshold_comes_from_settings(task_manager, settings):
    settings.TASK_CLEANUP_THRESHOLD = 5
    assert task_manager.cleanup_threshold == 5
    task_manager._tasks["recent"] = _idle_state("recent", status=TASK_COMPLETED, completed_at=time.time() - 6)
    task_manager.submit_task(lambda: None)  # cleanup piggybacks on submit
    assert task_manager.get_task_status("recent") is None


def test_default_cleanup_threshold_is_one_hour(task_manager, settings):
    del settings.TASK_CLEANUP_THRESHOLD
    assert task_manager.cleanup_threshold == 3600


def test_worker_closes_its_database_connection(task_manager, monkeypatch):
    from api.tasks import manager as tasks

    closed = []
    monkeypatch.setattr(tasks.connections, "close_all", lambda: closed.append(threading.current_thread().name))
    wait_for_task(task_manager.submit_task(lambda: None))
    wait_until(lambda: closed)
    assert closed[0].startswith("storyflow-tts")


def _idle_state(task_id="p", **fields):
    """A running task's state, put straight into the registry by the progress tests."""
    return TaskState(task_id=task_id, **{"status": TASK_PROCESSING, **fields})


def test_interpreter_exit_stops_running_task_after_current_step(tmp_path):
    """A process that exits mid-task (Ctrl-C on the server) waits for the current step only, not the whole batch."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    progress = tmp_path / "steps.txt"
    script = f"""
import os, sys, time
sys.path.insert(0, {str(repo / "backend")!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "storyflow.settings"
import django
django.setup()
from api.tasks import get_task_manager
manager = get_task_manager()
def batch():
    for step in range(100):
        if manager.is_cancelled("batch"):
            return
        time.sleep(0.1)
        with open({str(progress)!r}, "a") as f:
            f.write(f"{{step}}\\n")
manager.submit_task(batch, task_id="batch")
while not os.path.exists({str(progress)!r}):
    time.sleep(0.01)
sys.exit(0)
"""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    steps = progress.read_text().split()
    assert len(steps) <= 3, steps  # the batch of 100 steps stopped right after the one in flight
    assert elapsed < 10
