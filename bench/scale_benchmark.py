#!/usr/bin/env python
"""The scale-out mode's cost and speedup (issue 14): the same real-model batch three ways, plus a simulation.

Usage (from the repository root; needs redis-server, see scripts/install-redis)::

    .venv/bin/python bench/scale_benchmark.py [--segments 12] [--sim-segments 2000] [--sim-slots 100]
        [--sim-seconds 2] [--only scale|simulate] [--json]

Both parts run by default (about 8 minutes on 2 cores), then the estimate for a book.

The scale part: ``--segments`` segments of about 170 characters (whole sentences of
Andersen's "The Emperor's New Clothes"), narrated with the real model as one batch,
each way in its own subprocess with a temporary database and media folder:

* ``embedded``: ``STORYFLOW_SYNTHESIS=local``, one inference session of one thread;
* ``1 worker``: ``celery`` mode, one worker process (one session, one thread);
* ``2 workers``: two such worker processes.

Workers are warmed up first (a batch of short segments, not counted); the audio cache
is bypassed (``force_regenerate``). Wall time runs from submitting the batch to
COMPLETED. Then, as the hardware's ceiling, two bare onnxruntime sessions of one
thread each (the same graph, ``KokoroModelLoader._load_many``) against one, on the
same segment texts split alternately between them. Printed: each wall time, the
pool's overhead (1 worker / embedded - 1; goal <= 5 %), the 2-worker speedup, the
bare speedup, and their quotient (goal >= 0.95).

The simulation: one Celery worker with the threads pool and ``--sim-slots`` slots, and
the tests' fake engine sleeping ``--sim-seconds`` per segment, over ``--sim-segments``
tiny segments through the real web path (TaskManager batch, results applied here:
WAV, row, journal). Printed: wall time, the ideal (segments x seconds / slots),
efficiency (ideal / wall; goal >= 0.9), the dispatch overhead per segment in ms
(slot-time beyond the sleep), where the wall went (from the worker's log: the lead-in
to the first task, the span the workers were busy with their slot occupancy and mean
task time, and the tail spent applying the last results), and whether any segment was
lost or run twice (the worker's task count). The batch's wall time is its task's own
``completed_at`` minus the submit time. Then an estimate for Pride and Prejudice (about 680,000
characters) on 1, 10 and 100 workers from the real-model rate of one worker and the
simulation's efficiency.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tts_benchmark import REPO, cpu_description, load_story, peak_rss_mb, run_json_child  # noqa: E402

STORY = REPO.parent / "shared" / "data" / "stories" / "andersen_emperors_new_clothes.txt"
PRIDE_AND_PREJUDICE_CHARS = 680_000
GOAL_OVERHEAD, GOAL_SPEEDUP_SHARE, GOAL_EFFICIENCY = 0.05, 0.95, 0.9


def segment_texts(count: int, size: int = 170) -> list[str]:
    """``count`` texts of whole sentences, each about ``size`` characters, in story order."""
    sentences = re.split(r"(?<=[.!?])\s+", load_story(STORY, 40_000).replace("\n", " "))
    texts, current = [], ""
    for sentence in sentences:
        current = f"{current} {sentence}".strip()
        if len(current) >= size:
            texts.append(current[: size + 80])
            current = ""
        if len(texts) == count:
            break
    return texts


# ------------------------------------------------------------------ children
def _django(workdir: Path) -> None:
    from task_bench_common import setup_django

    setup_django(workdir)


def _run_batch(texts: list[str], title: str, timeout: float) -> tuple[float, dict]:
    from api.models import Project, Segment
    from api.services.audio_generation import start_project_audio_generation
    from api.tasks import TERMINAL_STATUSES, get_task_manager

    project = Project.objects.create(title=title)
    Segment.objects.bulk_create([Segment(project=project, sequence_index=i, text_content=t) for i, t in enumerate(texts)])
    started, started_epoch = time.perf_counter(), time.time()
    _, body = start_project_audio_generation(project, force_regenerate=True)
    manager = get_task_manager()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        # A slow poll (the status body of a 2,000-segment batch is large: polling it every
        # 20 ms took 4 % of a core, py-spy); the wall time is the task's own completed_at (ms).
        status = manager.get_task_status(body["task_id"])
        if status and status["status"] in TERMINAL_STATUSES:
            return completed_epoch(status) - started_epoch, status
        time.sleep(0.25)
    raise SystemExit(f"batch {title} did not finish in {timeout} s")


def completed_epoch(status: dict) -> float:
    """A terminal status body's ``completed_at`` (ISO 8601 UTC, ms) as ``time.time()`` seconds."""
    return datetime.datetime.fromisoformat(status["completed_at"].replace("Z", "+00:00")).timestamp()


_LOG_LINE = re.compile(r"^\[(\S+ \S+): \w+/\w+\] Task \S+\[([0-9a-f-]+)\] (received|succeeded in ([0-9.]+)s)")


def worker_timeline(log_path: Path, started_epoch: float, ended_epoch: float, slots: int) -> dict:
    """Where a simulated batch's wall time went, from the Celery worker's INFO log ("Task ...
    received" / "succeeded in X s", millisecond wall-clock stamps): ``lead_in_seconds`` from the
    batch's start to the first task received, ``worker_span_seconds`` from then to the last
    task done, ``tail_seconds`` from then to the batch's end (results still being applied by
    the web process), and ``slot_occupancy`` (busy slot-seconds / (slots x span))."""
    received, finished, runtime = {}, {}, {}
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if match.group(3) == "received":
            received.setdefault(match.group(2), stamp)
        else:
            finished[match.group(2)], runtime[match.group(2)] = stamp, float(match.group(4))
    if not received or not finished:
        return {}
    first, last = min(received.values()), max(finished.values())
    span = max(1e-9, last - first)
    return {"lead_in_seconds": first - started_epoch, "worker_span_seconds": span, "tail_seconds": ended_epoch - last,
            "mean_task_seconds": sum(runtime.values()) / len(runtime),
            "slot_occupancy": sum(runtime.values()) / (slots * span)}


def child_batch(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="storyflow-scale-"))
    os.environ.update({"STORYFLOW_TTS_SESSIONS": "1", "STORYFLOW_TTS_THREADS": "1", "STORYFLOW_ENGINE_CALIBRATION": "0"})
    pool, redis_server = None, None
    sys.path.insert(0, str(REPO / "backend"))
    from workers.local_pool import RedisServer, Worker, wait_for_workers

    if args.workers:
        redis_server = RedisServer(workdir)  # picks the port; settings must see the URL before Django starts
        os.environ.update({"STORYFLOW_SYNTHESIS": "celery", "STORYFLOW_BROKER_URL": redis_server.url,
                           "STORYFLOW_REMOTE_WINDOW": str(2 * args.workers + 2)})
    _django(workdir)  # first: anything that reads settings (workers.celery_app) fixes the DB and media paths
    try:
        if args.workers:
            redis_server.start()
            pool = [Worker(f"bench{i}", redis_server.url, workdir / f"bench{i}.log", fake=False,
                           env={"STORYFLOW_TTS_SESSIONS": "1", "STORYFLOW_TTS_THREADS": "1"})
                    for i in range(1, args.workers + 1)]
            wait_for_workers(redis_server.url, [w.name for w in pool], timeout=180)
        texts = segment_texts(args.segments)
        warm = ["A short warm-up sentence.", "Another short one here."] * max(1, args.workers)
        _run_batch(warm, "warm-up", 600)
        cpu_started = time.process_time()
        wall, status = _run_batch(texts, "measured", 3600)
        web_cpu = time.process_time() - cpu_started
        audio = sum(float(s.get("duration") or 0) for s in status["completed_segments"])
        return {"mode": f"{args.workers} worker(s)" if args.workers else "embedded", "segments": len(texts),
                "characters": sum(len(t) for t in texts), "wall_seconds": wall, "audio_seconds": audio,
                "status": status["status"], "errors": len(status["errors"]), "peak_rss_mb": peak_rss_mb(),
                "web_cpu_seconds": web_cpu}
    finally:
        from api.tasks import get_task_manager

        get_task_manager().shutdown(wait=True)
        for worker in pool or []:
            worker.stop()
        if redis_server is not None:
            redis_server.stop()


def child_ceiling(args) -> dict:
    """Bare: one session x 1 thread serially vs two sessions x 1 thread, texts split alternately."""
    sys.path.insert(0, str(REPO / "backend"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")
    from core_engine.model_loader import KokoroModelLoader

    files = KokoroModelLoader.resolve_model_files()
    kokoros = KokoroModelLoader._load_many(files, 2, threads=1)
    voice = sorted(kokoros[0].get_voices())[0]
    phonemes = [kokoros[0].tokenizer.phonemize(t, "en-us") for t in segment_texts(args.segments)]
    for k in kokoros:
        k.create(phonemes[0], voice=voice, is_phonemes=True)
    started = time.perf_counter()
    for item in phonemes:
        kokoros[0].create(item, voice=voice, is_phonemes=True)
    one = time.perf_counter() - started

    def work(index: int) -> None:
        for item in phonemes[index::2]:
            kokoros[index].create(item, voice=voice, is_phonemes=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two = time.perf_counter() - started
    return {"one_session_seconds": one, "two_sessions_seconds": two, "speedup": one / two}


def child_simulate(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="storyflow-sim-"))
    sys.path.insert(0, str(REPO / "backend"))
    from workers.local_pool import RedisServer, Worker, wait_for_workers

    redis_server = RedisServer(workdir)
    window = 2 * args.sim_slots + 2
    os.environ.update({"STORYFLOW_SYNTHESIS": "celery", "STORYFLOW_BROKER_URL": redis_server.url,
                       "STORYFLOW_REMOTE_WINDOW": str(window), "STORYFLOW_ENGINE_CALIBRATION": "0"})
    _django(workdir)  # first: anything that reads settings (workers.celery_app) fixes the DB and media paths
    redis_server.start()
    worker = Worker("sim", redis_server.url, workdir / "sim.log", fake=True, pool="threads",
                    concurrency=args.sim_slots,
                    env={"STORYFLOW_FAKE_SEGMENT_SECONDS": str(args.sim_seconds), "STORYFLOW_FAKE_CHUNK_SECONDS": "0"})
    try:
        wait_for_workers(redis_server.url, ["sim"], timeout=60)
        from core_engine.model_loader import KokoroModelLoader

        # The fake engine reads any voice; the web side checks voices against the model files.
        texts = [f"Segment {i}." for i in range(args.sim_segments)]
        wall, status = _run_batch(texts, "simulation", 3600)
        from workers.celery_app import make_app
        from workers.synthesis import SYNTHESIZE_TASK

        ended = completed_epoch(status)
        timeline = worker_timeline(workdir / "sim.log", ended - wall, ended, args.sim_slots)
        stats = make_app(redis_server.url).control.inspect(timeout=2).stats() or {}
        runs = sum(int((s.get("total") or {}).get(SYNTHESIZE_TASK, 0)) for s in stats.values())
        from django.conf import settings

        files = len(list((Path(settings.MEDIA_ROOT) / "projects").rglob("*.wav")))
        done = [c["segment_id"] for c in status["completed_segments"]]
        ideal = args.sim_segments * args.sim_seconds / args.sim_slots
        return {"segments": args.sim_segments, "slots": args.sim_slots, "seconds_per_segment": args.sim_seconds,
                "window": window, "wall_seconds": wall, "ideal_seconds": ideal, "efficiency": ideal / wall,
                "overhead_ms_per_segment": (wall - ideal) * args.sim_slots / args.sim_segments * 1000,
                "apply_ms_per_segment": wall / args.sim_segments * 1000,
                "status": status["status"], "completed": len(done), "unique_completed": len(set(done)),
                "errors": len(status["errors"]), "files": files, "worker_runs": runs,
                "model": KokoroModelLoader.resolve_model_files() is not None, "timeline": timeline}
    finally:
        from api.tasks import get_task_manager

        get_task_manager().shutdown(wait=True)
        worker.stop()
        redis_server.stop()


# ------------------------------------------------------------------ parent
def run_child(args, *extra: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--segments", str(args.segments),
               "--sim-segments", str(args.sim_segments), "--sim-slots", str(args.sim_slots),
               "--sim-seconds", str(args.sim_seconds), *extra]
    return run_json_child(command)


def main_scale(args) -> dict:
    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    texts = segment_texts(args.segments)
    print(f"text: {len(texts)} segments, {sum(len(t) for t in texts)} characters of {STORY.name}", flush=True)
    runs = {}
    for label, extra in (("embedded", ()), ("1 worker", ("--workers", "1")), ("2 workers", ("--workers", "2"))):
        r = run_child(args, "--mode", "batch", *extra)
        runs[label] = r
        print(f"{label:<10}: wall {r['wall_seconds']:.2f} s for {r['audio_seconds']:.1f} s of audio "
              f"(RTF {r['wall_seconds'] / max(r['audio_seconds'], 1e-9):.3f}), {r['status']}, errors {r['errors']}; "
              f"web process CPU {r['web_cpu_seconds']:.1f} s",
              flush=True)
    ceiling = run_child(args, "--mode", "ceiling")
    print(f"bare onnxruntime: 1 session x 1 thread {ceiling['one_session_seconds']:.2f} s, "
          f"2 sessions x 1 thread {ceiling['two_sessions_seconds']:.2f} s: {ceiling['speedup']:.3f}x", flush=True)
    overhead = runs["1 worker"]["wall_seconds"] / runs["embedded"]["wall_seconds"] - 1
    speedup = runs["1 worker"]["wall_seconds"] / runs["2 workers"]["wall_seconds"]
    share = speedup / ceiling["speedup"]
    print("\nSummary")
    print(f"  CPU                              {cpu}")
    print(f"  pool overhead (1 worker/embedded) {overhead * 100:+.1f} %  goal <= {GOAL_OVERHEAD * 100:.0f} %: "
          f"{'MET' if overhead <= GOAL_OVERHEAD else 'NOT MET'}")
    print(f"  2 workers vs 1                   {speedup:.3f}x; bare 2 sessions vs 1 {ceiling['speedup']:.3f}x; "
          f"share {share:.3f}  goal >= {GOAL_SPEEDUP_SHARE}: {'MET' if share >= GOAL_SPEEDUP_SHARE else 'NOT MET'}")
    per_worker_cps = runs["1 worker"]["characters"] / runs["1 worker"]["wall_seconds"]
    return {"cpu": cpu, "runs": runs, "ceiling": ceiling, "overhead": overhead, "speedup": speedup, "share": share,
            "chars_per_second_one_worker": per_worker_cps}


def main_simulate(args) -> dict:
    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    r = run_child(args, "--mode", "simulate")
    lost = r["completed"] != r["segments"] or r["files"] != r["segments"]
    duplicated = r["unique_completed"] != r["completed"] or r["worker_runs"] != r["segments"]
    print(f"simulation: {r['segments']} segments x {r['seconds_per_segment']} s on {r['slots']} slots "
          f"(Celery threads pool), window {r['window']}: wall {r['wall_seconds']:.2f} s, ideal {r['ideal_seconds']:.2f} s")
    print(f"  efficiency {r['efficiency']:.3f}  goal >= {GOAL_EFFICIENCY}: {'MET' if r['efficiency'] >= GOAL_EFFICIENCY else 'NOT MET'}")
    print(f"  dispatch overhead {r['overhead_ms_per_segment']:.1f} ms of slot time per segment "
          f"(wall - ideal, x slots / segments); {r['apply_ms_per_segment']:.1f} ms of wall per segment")
    if r.get("timeline"):
        t = r["timeline"]
        print(f"  where the wall went: lead-in {t['lead_in_seconds']:.2f} s to the first task, workers busy "
              f"{t['worker_span_seconds']:.2f} s (slot occupancy {t['slot_occupancy']:.3f}, mean task "
              f"{t['mean_task_seconds'] * 1000:.0f} ms), tail {t['tail_seconds']:.2f} s applying the last results")
    print(f"  status {r['status']}, completed {r['completed']} ({r['unique_completed']} distinct), errors {r['errors']}, "
          f"files {r['files']}, worker runs {r['worker_runs']}: "
          f"{'none lost, none duplicated' if not (lost or duplicated) else 'LOST OR DUPLICATED'}")
    return {"cpu": cpu, "simulation": r, "lost": lost, "duplicated": duplicated}


def estimate_book(cps_one: float, efficiency: float) -> None:
    """Pride and Prejudice on 1, 10 and 100 workers: N x one worker's rate x the simulation's
    efficiency (measured with 100 slots; taken for 10 too)."""
    print(f"\nEstimate for Pride and Prejudice ({PRIDE_AND_PREJUDICE_CHARS:,} characters), one worker = "
          f"{cps_one:.1f} chars/s (1 session x 1 thread on this CPU), pool efficiency {efficiency:.2f}:")
    for workers in (1, 10, 100):
        rate = cps_one * workers * (efficiency if workers > 1 else 1.0)
        print(f"  {workers:>3} worker(s): {PRIDE_AND_PREJUDICE_CHARS / rate / 3600:6.2f} h")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=12)
    parser.add_argument("--only", choices=("scale", "simulate"))
    parser.add_argument("--sim-segments", type=int, default=2000)
    parser.add_argument("--sim-slots", type=int, default=100)
    parser.add_argument("--sim-seconds", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("batch", "ceiling", "simulate"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child = {"batch": child_batch, "ceiling": child_ceiling, "simulate": child_simulate}[args.mode]
        print(json.dumps(child(args)))
        return 0
    summary = {}
    if args.only in (None, "scale"):
        summary["scale"] = main_scale(args)
    if args.only in (None, "simulate"):
        summary["simulate"] = main_simulate(args)
    if len(summary) == 2:
        sim = summary["simulate"]["simulation"]
        estimate_book(summary["scale"]["chars_per_second_one_worker"], sim["efficiency"])
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
