#!/usr/bin/env python
"""Status endpoint latency with 50 concurrent pollers during a real batch, and memory per tracked task.

Usage (from the repository root)::

    .venv/bin/python bench/status_benchmark.py [--pollers 50] [--interval 0.5] [--chars 1200]
    .venv/bin/python bench/status_benchmark.py --slowdown [--rounds 2] [--slowdown-chars 600] [--segments 4]

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

``--slowdown`` mode (instead of 1. and 2.): **a batch's wall-time slowdown under
poller load**. The same real batch (real Kokoro model; ``--segments`` segments
made of whole sentences of the Poe story, about ``--slowdown-chars`` characters
in all; a fresh project every run, so nothing is reused) runs under three loads,
for ``--rounds`` rounds (default 2), the order of the loads rotating each round:

* ``unloaded``: no pollers;
* ``50 x every 2 s``: 50 poller threads, each ``GET /api/tasks/{id}/status/``
  every 2 s;
* ``8 x tight loop``: 8 poller threads requesting back to back, no sleep.

Pollers live in a separate (spawned) process, started and ready before the batch
is submitted, and polling from submission until the batch is terminal. Per run
it prints the batch wall time (``completed_at - created_at`` of the task itself,
i.e. submit -> terminal status; the worker time ``completed_at - started_at`` in
brackets), its ratio to the median unloaded wall time, status latency p50/p99/max
(client side, new connection per request), requests served and failed requests.
Then per load the median wall time and ratio, latency p50/p99/max over all that
load's requests pooled across rounds, and the issue's targets: wall time
<= 1.10 x unloaded under each load, and status p99 <= 10 ms with 50 pollers.
runserver's per-request log lines go to a file in the temporary folder, not
stderr. Also printed: the CPU (/proc/cpuinfo model name, avx512_vnni / avx_vnni, cores)
and ``os.getloadavg()`` at start and end (another benchmark running at the same
time skews everything: check it). Per run, ``others`` is the CPU (in cores) used
by other processes during the run (``/proc/stat`` busy time minus this process's
and its poller child's), and ``load1`` the 1-minute loadavg at its end; a warning
is printed when ``others`` exceeds 0.25 cores in any run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
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


def load_process(pollers: int, interval: float, control, results, stop) -> None:
    """Child process for ``--slowdown``: say "ready", wait for the status URL on ``control``, then
    ``pollers`` threads GET it every ``interval`` s (0: back to back) until ``stop`` is set;
    put ``(latencies in s, failed requests)`` on ``results``."""
    import http.client
    from urllib.parse import urlsplit

    results.put("ready")
    parts = urlsplit(control.get())
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def poll(offset: float) -> None:
        if stop.wait(offset):
            return
        mine, failed = [], 0
        while not stop.is_set():
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                conn.request("GET", parts.path)
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    mine.append(time.perf_counter() - started)
                else:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
            if interval > 0:
                stop.wait(max(0.0, interval - (time.perf_counter() - started)))
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=poll, args=(i * interval / pollers,)) for i in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, failures[0]))


def slowdown_text(path: Path, chars: int, segments: int) -> str:
    """Whole sentences of the story (headings skipped), about ``chars`` characters, as ``segments`` paragraphs."""
    from api.services.story_import import parse_story_file

    _, text = parse_story_file(path.read_text(encoding="utf-8"))
    body = " ".join(p for p in text.split("\n\n") if p.strip() and not p.lstrip().startswith("#"))
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(body.split()))
    paragraphs, current = [], []
    for sentence in sentences:
        current.append(sentence)
        if len(" ".join(current)) >= chars / segments:
            paragraphs.append(" ".join(current))
            current = []
            if len(paragraphs) == segments:
                break
    if current and len(paragraphs) < segments:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def cpu_line() -> str:
    """``<model name>; VNNI: <flags or none>; <n> cores`` from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    vnni = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in ("avx512_vnni", "avx_vnni"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}; {vnni}; {cores} cores (os.cpu_count() {os.cpu_count()})"


def loadavg_line() -> str:
    try:
        return "loadavg (1/5/15 min) " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "loadavg unavailable"


def cpu_snapshot() -> tuple[float, float, float] | None:
    """``(monotonic s, busy CPU s of the whole machine, CPU s of this process and its reaped children)``."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(x) for x in fields]
    busy = sum(values[:8]) - values[3] - values[4]  # all but idle and iowait (guest is inside user)
    own = os.times()
    return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system + own.children_user + own.children_system


def others_cores(before, after) -> float | None:
    """Cores' worth of CPU used by *other* processes between two ``cpu_snapshot()``s."""
    if before is None or after is None:
        return None
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0]))


SLOWDOWN_LOADS = (("unloaded", 0, 0.0), ("50 x every 2 s", 50, 2.0), ("8 x tight loop", 8, 0.0))


def slowdown_run(base_url: str, text: str, label: str, pollers: int, interval: float) -> dict:
    """Import a fresh project, narrate it under the given poller load; return wall time and latency figures."""
    from api.services.audio_generation import start_project_audio_generation
    from api.services.story_import import import_story
    from api.tasks import get_task_manager

    manager = get_task_manager()
    project = import_story(title=f"Slowdown {label} {time.time():.0f}", text=text)
    child = None
    snap_before = cpu_snapshot()
    if pollers:
        ctx = mp.get_context("spawn")
        control, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        child = ctx.Process(target=load_process, args=(pollers, interval, control, results, stop))
        child.start()
        assert results.get(timeout=60) == "ready"
    measured_start = time.perf_counter()
    _, body = start_project_audio_generation(project, force_regenerate=True)
    task_id = body["task_id"]
    if child is not None:
        control.put(f"{base_url}/api/tasks/{task_id}/status/")
    while manager.get_task_status(task_id)["status"] not in {"COMPLETED", "FAILED", "CANCELLED"}:
        time.sleep(0.05)
    measured = time.perf_counter() - measured_start
    latencies, failed = [], 0
    if child is not None:
        stop.set()
        latencies, failed = results.get(timeout=60)
        child.join()
    snap_after = cpu_snapshot()
    with manager._tasks_lock:
        task = manager._tasks[task_id]
        created, started, completed = task.created_at, task.started_at, task.completed_at
    status = manager.get_task_status(task_id)
    if created is not None and completed is not None:
        wall, source = completed - created, "task"
    else:
        wall, source = measured, "measured"
    ms = [x * 1000 for x in latencies]
    return {
        "label": label,
        "wall": wall,
        "wall_source": source,
        "work": (completed - started) if started is not None and completed is not None else None,
        "measured": measured,
        "status": status["status"],
        "rtf": status["realtime_factor"],
        "audio": status["audio_seconds"],
        "segments": len(status["completed_segments"]),
        "requests": len(ms),
        "failed": failed,
        "p50": statistics.median(ms) if ms else None,
        "p99": percentile(ms, 99) if ms else None,
        "max": max(ms) if ms else None,
        "ms": ms,
        "others": others_cores(snap_before, snap_after),
        "loadavg": os.getloadavg()[0],
    }


def fmt_ms(value: float | None) -> str:
    return f"{value:7.2f}" if value is not None else "      -"


def divert_server_log(path: Path) -> None:
    """runserver logs every request (and Django every 404) to stderr: keep the formatting cost,
    send the lines to ``path`` instead."""
    import logging

    log_file = path.open("a", encoding="utf-8")
    for name in ("django.server", "django.request", "django"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setStream(log_file)


def main_slowdown(args, base_url: str) -> int:
    """``--slowdown``: the batch under three poller loads, rotating order over ``--rounds`` rounds."""
    text = slowdown_text(DEFAULT_STORY, args.slowdown_chars, args.segments)
    print(f"CPU: {cpu_line()}")
    print(f"At start: {loadavg_line()}")
    print(f"Batch: {len(text.split(chr(10) * 2))} segments, {len(text):,} characters of {DEFAULT_STORY.name}, "
          f"fresh project each run; {args.rounds} rounds, load order rotating")
    # Warm-up batch (one segment): the first inference of a session is slower; not measured.
    warm = slowdown_run(base_url, text.split("\n\n")[0], "warm-up", 0, 0.0)
    print(f"Warm-up batch (1 segment, not counted): {warm['wall']:.2f} s, {warm['status']}")
    runs: list[dict] = []
    print(f"\n{'round':<6}{'load':<16}{'wall s':>8}{'(work s)':>10}{'audio s':>9}{'RTF':>7}"
          f"{'requests':>10}{'failed':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'others':>8}{'load1':>7}  status")
    for round_index in range(args.rounds):
        shift = round_index % len(SLOWDOWN_LOADS)
        order = SLOWDOWN_LOADS[shift:] + SLOWDOWN_LOADS[:shift]
        for label, pollers, interval in order:
            run = slowdown_run(base_url, text, label, pollers, interval)
            run["round"] = round_index + 1
            runs.append(run)
            work = f"({run['work']:.2f})" if run["work"] is not None else "(-)"
            others = f"{run['others']:.2f}" if run["others"] is not None else "-"
            print(f"{run['round']:<6}{label:<16}{run['wall']:8.2f}{work:>10}{run['audio']:9.2f}{run['rtf'] or 0:7.3f}"
                  f"{run['requests']:>10}{run['failed']:>7}{fmt_ms(run['p50']):>9}{fmt_ms(run['p99']):>9}"
                  f"{fmt_ms(run['max']):>9}{others:>8}{run['loadavg']:7.2f}  {run['status']} ({run['segments']} segments)",
                  flush=True)
    print("(others = cores' worth of CPU used by other processes during the run, /proc/stat minus this process "
          "and its poller child; load1 = 1-min loadavg at the run's end)")
    busy = [run for run in runs if run["others"] is not None and run["others"] > 0.25]
    if busy:
        print(f"WARNING: other processes used > 0.25 cores during {len(busy)} of {len(runs)} runs: "
              "wall times and ratios are skewed by them, not only by the pollers")
    if any(run["wall_source"] != "task" for run in runs):
        print("(some wall times measured by this process, not from the task's timestamps)")
    unloaded = statistics.median(run["wall"] for run in runs if run["label"] == "unloaded")
    print(f"\nPer load (medians over {args.rounds} rounds; ratio = wall / unloaded median {unloaded:.2f} s; "
          f"latency over all requests of that load):")
    verdicts = []
    for label, pollers, _ in SLOWDOWN_LOADS:
        mine = [run for run in runs if run["label"] == label]
        wall = statistics.median(run["wall"] for run in mine)
        ratio = wall / unloaded
        per_run = ", ".join(f"{run['wall'] / unloaded:.3f}" for run in mine)
        line = f"  {label:<16} wall {wall:6.2f} s  ratio {ratio:.3f} (runs: {per_run})"
        if pollers:
            requests = sum(run["requests"] for run in mine)
            failed = sum(run["failed"] for run in mine)
            pooled = [x for run in mine for x in run["ms"]]
            p50, p99, worst = statistics.median(pooled), percentile(pooled, 99), max(pooled)
            line += f"  requests {requests:,} (failed {failed})  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms"
            ok = ratio <= 1.10
            verdicts.append((f"{label}: wall <= 1.10 x unloaded ({ratio:.3f})", ok))
            if pollers == 50:
                verdicts.append((f"{label}: status p99 <= 10 ms ({p99:.2f} ms)", p99 <= 10))
        print(line)
    print("\nTargets:")
    for text_, ok in verdicts:
        print(f"  {text_}: {'MET' if ok else 'NOT MET'}")
    print(f"\nAt end: {loadavg_line()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one poller's requests")
    parser.add_argument("--chars", type=int, default=1200, help="characters of the story the batch narrates")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--slowdown", action="store_true",
                        help="measure the batch's wall-time slowdown under poller load instead")
    parser.add_argument("--rounds", type=int, default=2, help="--slowdown: rounds of the three loads")
    parser.add_argument("--slowdown-chars", type=int, default=600, help="--slowdown: characters of the batch")
    parser.add_argument("--segments", type=int, default=4, help="--slowdown: segments of the batch")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="storyflow-status-") as tmp:
        setup_django(Path(tmp))
        from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run

        if not args.slowdown:
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

        KokoroModelLoader.ensure_calibrated()  # once per CPU, stored in models/: not what is measured
        KokoroModelLoader.get_sessions()  # load the model first: loading is not what is measured
        from api.tasks import get_task_manager

        get_task_manager()  # as runserver's inner_run: the worker starts before any request thread
        app = get_internal_wsgi_application()
        from api.management.commands.runserver import StoryFlowWSGIServer

        server = threading.Thread(
            target=run,
            args=("127.0.0.1", port, app),
            kwargs={"threading": False, "server_cls": StoryFlowWSGIServer},  # as runserver: its own request threads
            daemon=True,
        )
        server.start()
        time.sleep(1.0)
        base_url = f"http://127.0.0.1:{port}"
        import urllib.error
        import urllib.request

        if args.slowdown:
            divert_server_log(Path(tmp) / "server.log")
        for _ in range(20):  # warm up: the first requests import the URL and view stack
            try:
                urllib.request.urlopen(f"{base_url}/api/tasks/warm-up/status/", timeout=10)
            except urllib.error.HTTPError:
                pass  # 404, as expected
        if args.slowdown:
            try:
                return main_slowdown(args, base_url)
            finally:
                from api.tasks import get_task_manager

                get_task_manager().shutdown(wait=True)  # before the temporary database goes away
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
