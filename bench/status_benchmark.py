#!/usr/bin/env python
"""Status endpoint latency with 50 concurrent pollers during a real batch, and memory per tracked task.

Usage (from the repository root)::

    .venv/bin/python bench/status_benchmark.py [--pollers 50] [--interval 0.5] [--chars 1200]

Uses a fresh temporary database and media folder. The process serves
StoryFlow with Django's own threaded WSGI server (what ``runserver`` runs) on a
free port, in a thread, next to the TaskManager.

1. **Memory per tracked task** (``tracemalloc``): 10,000 finished task states
   are put into the registry, shaped like real ones: single-segment tasks
   (one completed segment each) and, separately, 10-segment batches.
2. **Latency**: a real batch (the first ``--chars`` characters of the Poe
   story) synthesizes while ``--pollers`` client threads in a *separate
   process* each ``GET /api/tasks/{id}/status/`` every ``--interval`` s, first
   with 10 tracked tasks, then with 10,000. Client-side latency (connect,
   request, full body) is reported as p50/p99/max. Targets: p99 <= 10 ms, and
   10,000 tasks in <= 30 MB.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from task_bench_common import DEFAULT_STORY, import_story_prefix, setup_django


def fake_finished_state(index: int, segments: int):
    """A finished task state shaped like a real one (ids, URLs, durations, timestamps)."""
    import uuid

    from api.tasks import TaskState

    project_id = str(uuid.uuid4())
    ids = tuple(str(uuid.uuid4()) for _ in range(segments))
    now = time.time()
    state = TaskState(
        task_id=f"tts_batch_{project_id}_{index:08x}" if segments > 1 else f"tts_{ids[0]}_{index:08x}",
        kind="batch" if segments > 1 else "segment",
        project_id=project_id,
        segment_id=None if segments > 1 else ids[0],
        segment_ids=ids,
        params={"voice_id": "jf_alpha", "speed": 1.0},
        status="COMPLETED",
        stage="finished",
        current_step=f"Completed: {segments} segments narrated",
        completed_segments=[
            {"segment_id": sid, "audio_url": f"/media/projects/{project_id}/audio/{sid}.wav", "duration": 17.25}
            for sid in ids
        ],
        created_at=now - 60,
        started_at=now - 59,
        completed_at=now,
        work_seconds=4.2 * segments,
        audio_seconds=17.25 * segments,
    )
    if segments > 1:
        state.progress = {"current": segments, "total": segments, "percentage": 100, "current_segment_id": ids[-1]}
    return state


def measure_memory(count: int, segments: int) -> float:
    """Bytes per task for ``count`` finished states of ``segments`` segments, in the manager's registry."""
    from api.tasks import get_task_manager

    manager = get_task_manager()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    states = [fake_finished_state(i, segments) for i in range(count)]
    with manager._tasks_lock:
        for state in states:
            manager._tasks[state.task_id] = state
            manager._by_project.setdefault(state.project_id, []).append(state.task_id)
    del states
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / count


def clear_registry(keep: set[str]) -> None:
    from api.tasks import get_task_manager

    manager = get_task_manager()
    with manager._tasks_lock:
        for task_id in [t for t in manager._tasks if t not in keep]:
            state = manager._tasks.pop(task_id)
            manager._by_project.pop(state.project_id, None)


def poller_process(url: str, pollers: int, interval: float, duration: float, queue) -> None:
    """Child process: ``pollers`` threads GET ``url`` every ``interval`` s for ``duration`` s; put latencies (s)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def poll(offset: float) -> None:
        time.sleep(offset)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            conn.request("GET", parts.path)
            response = conn.getresponse()
            response.read()
            conn.close()
            mine.append(time.perf_counter() - started)
            assert response.status == 200, response.status
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=poll, args=(i * interval / pollers,)) for i in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(latencies)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def latency_round(base_url: str, project, pollers: int, interval: float, label: str) -> dict:
    """Start a real batch, poll its status from a child process while it runs; print and return figures."""
    from api.services.audio_generation import start_project_audio_generation
    from api.tasks import get_task_manager

    manager = get_task_manager()
    _, body = start_project_audio_generation(project, force_regenerate=True)
    task_id = body["task_id"]
    while manager.get_task_status(task_id)["stage"] not in {"synthesizing", "writing", "finished"}:
        time.sleep(0.05)
    queue = mp.get_context("spawn").Queue()
    duration = 15.0
    child = mp.get_context("spawn").Process(
        target=poller_process, args=(f"{base_url}/api/tasks/{task_id}/status/", pollers, interval, duration, queue)
    )
    child.start()
    latencies = queue.get(timeout=duration + 60)
    child.join()
    state = manager.get_task_status(task_id)
    while state["status"] not in {"COMPLETED", "FAILED", "CANCELLED"}:
        time.sleep(0.2)
        state = manager.get_task_status(task_id)
    ms = [x * 1000 for x in latencies]
    figures = {
        "requests": len(ms),
        "p50": statistics.median(ms),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }
    print(
        f"{label:<28} {manager.task_count():>7,} tracked  {figures['requests']:>6} requests  "
        f"p50 {figures['p50']:6.2f} ms  p99 {figures['p99']:6.2f} ms  max {figures['max']:7.2f} ms  "
        f"(batch {state['status']}, RTF {state['realtime_factor']})"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one poller's requests")
    parser.add_argument("--chars", type=int, default=1200, help="characters of the story the batch narrates")
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="storyflow-status-") as tmp:
        setup_django(Path(tmp))
        from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run

        print(f"Memory per tracked task ({args.tasks:,} finished tasks, tracemalloc):")
        for segments in (1, 10):
            per_task = measure_memory(args.tasks, segments)
            total_mb = per_task * args.tasks / 1e6
            verdict = "PASS" if total_mb <= 30 else "over"
            print(f"  {segments:>2}-segment tasks: {per_task:,.0f} bytes/task -> {total_mb:.1f} MB for {args.tasks:,} ({verdict}, target <= 30 MB)")
            clear_registry(keep=set())

        project, size = import_story_prefix(DEFAULT_STORY, args.chars, "Status benchmark")

        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        from core_engine.model_loader import KokoroModelLoader

        KokoroModelLoader.get_session()  # load the model first: loading is not what is measured
        app = get_internal_wsgi_application()
        from api.management.commands.runserver import StoryFlowWSGIServer

        server = threading.Thread(
            target=run,
            args=("127.0.0.1", port, app),
            kwargs={"threading": True, "server_cls": StoryFlowWSGIServer},
            daemon=True,
        )
        server.start()
        time.sleep(1.0)
        base_url = f"http://127.0.0.1:{port}"
        import urllib.error
        import urllib.request

        for _ in range(20):  # warm up: the first requests import the URL and view stack
            try:
                urllib.request.urlopen(f"{base_url}/api/tasks/warm-up/status/", timeout=10)
            except urllib.error.HTTPError:
                pass  # 404, as expected
        print(f"\nStatus latency, {args.pollers} pollers each every {args.interval} s, while a real batch synthesizes "
              f"({size:,} characters), runserver's threaded WSGI server:")
        small = latency_round(base_url, project, args.pollers, args.interval, "10 tracked tasks")
        from api.tasks import get_task_manager

        manager = get_task_manager()
        keep = set(manager._tasks)
        with manager._tasks_lock:
            for i in range(args.tasks):
                state = fake_finished_state(i, 1)
                manager._tasks[state.task_id] = state
        big = latency_round(base_url, project, args.pollers, args.interval, f"{args.tasks:,} tracked tasks")
        clear_registry(keep)
        verdict = "PASS" if big["p99"] <= 10 and small["p99"] <= 10 else "over"
        print(f"\np99 with {args.tasks:,} tasks / with 10: {big['p99']:.2f} / {small['p99']:.2f} ms (target <= 10 ms): {verdict}")
        from api.tasks import get_task_manager

        get_task_manager().shutdown(wait=True)  # before the temporary database goes away
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
