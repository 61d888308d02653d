#!/usr/bin/env python
"""Load test (issue 11, item 6): 100 concurrent API clients for 60 s while a real batch narrates.

Usage (from the repository root; loopback only, the server is started here)::

    .venv/bin/python bench/load_benchmark.py [--clients 100] [--seconds 60] [--sse 5] [--think 1.0]
        [--conditional-edits 0.5] [--segments 20] [--side-segments 10] [--unloaded-runs 2] [--seed 1]
        [--server-env NAME=VALUE] [--keep]

Quick trial: ``--clients 10 --seconds 10 --segments 4 --unloaded-runs 1`` (about 2 minutes).
The full run (defaults) takes about 6-8 minutes on 2 cores.

What it does
------------
1. Starts ``manage.py runserver 127.0.0.1:<free port> --noreload`` (StoryFlow's own runserver:
   one process, the TaskManager and its single worker thread inside) as a subprocess on a
   temporary database and media folder (``task_bench_common.RunserverProcess``), its log in
   the temporary folder. Everything below goes through HTTP, as the editor would.
2. Imports, through ``POST /api/projects/import/``, three *batch* projects with the same
   ``--segments`` texts (about 170 characters each, whole sentences of Andersen's "The
   Emperor's New Clothes", ``scale_benchmark.segment_texts``), and one *side* project of the
   next ``--side-segments`` texts, its first segment locked. A one-segment warm-up batch
   runs first (the first inference of a process is slower; not measured).
3. **Unloaded batch** A: ``POST generate-all-audio {"force_regenerate": true}`` (the audio
   cache is bypassed, so each batch synthesizes everything), no load.
4. **Loaded batch** B, same texts: from the moment its 202 comes back, ``--clients`` clients
   (asyncio + httpx, one process, bounded: each client has at most one request in flight)
   run for ``--seconds``. Each client is a writer working in the editor: it picks an action
   by weight, sends it, then thinks for ``uniform(0.5, 1.5) x --think`` seconds (``--think 0``
   is a closed loop, a stress test rather than writers). The actions and their weights:

   ========================================  ======  =====================================
   request                                   weight  on what
   ========================================  ======  =====================================
   GET /api/projects/                          8
   GET /api/projects/{id}/                     8     the running project or the side one
   GET /api/segments/?project={id}             8     the running project or the side one
   GET /api/segments/{id}/                    12     any segment of those two
   PATCH /api/segments/{id}/ text_content     10     side project (1 in 10: its locked
                                                     segment -> 409)
   POST /api/segments/{id}/generate-audio/     6     side project 70 % (1 in 7 of those
                                                     the locked one -> 409), the running
                                                     batch's last segments 30 % (answered
                                                     202 "already in progress" with the
                                                     batch's task id: dedupe)
   POST /api/projects/{id}/generate-all-audio  1     the running project -> 409
   GET /api/tasks/{id}/status/                30     the batch, or a task this client made
   ========================================  ======  =====================================

   Half the edits (``--conditional-edits``) are sent the way the editor saves: GET the
   segment, think, PATCH with ``If-Match: <its ETag>`` (412 when another client changed it
   in between: expected, counted); the other half are plain PATCHes (last write wins).
   Edits go to the side project (a writer revising chapter 2 while chapter 1 narrates):
   editing the running batch's own segments is realistic too, but it would change the
   batch's work (a segment not reached yet is narrated with its new, longer or shorter
   text; one already done is marked stale), so loaded and unloaded batches would no longer
   do the same work. Edits cycle each text through three variants (the text, + " Truly.",
   + " So it was."). Single generate requests queue behind the batch (one worker, FIFO) and
   run after it; the dedupe (one active task per segment) bounds them to one per side
   segment at a time.
   In addition, the first ``--sse`` clients hold ``GET /api/tasks/{batch}/events/`` streams
   open instead (reading every event, reconnecting when a stream ends) for the whole
   ``--seconds``.
5. Waits until every task the run created (batches and single ones) is terminal, then runs
   **unloaded batch** C (with ``--unloaded-runs 2``, the default): A and C bracket B, so drift
   of the machine during the run shows as A != C.
6. Stops the server, runs ``manage.py check_media --json`` on its database and media folder
   (clean: exit 0, its three problem lists empty, no project skipped), looks for any ``*.tmp`` left under the media folder, and scans the server's log
   for 5xx lines and tracebacks.

All three batches are watched the same way: one status request every 0.25 s (not counted
in the load figures), which records when each segment completed.

How to read the figures
-----------------------
* ``requests``, ``req/s``: load requests completed (an SSE stream counts once) over the load
  window (first request to last answer). Per endpoint: count, p50/p99/max latency in ms
  (client side: connect, request, whole body; the server closes every connection, so each
  includes a TCP connect), and the status codes. For SSE the latency is the time to the
  first event; the streams line says how many were opened and how many events they read.
* ``4xx``: expected ones are 409 (locked segment, batch already running) and 412 (a
  conditional edit of a segment another client changed since it was read). ``5xx`` and
  ``connection errors`` (reset, refused, timeout after 30 s) should be 0.
* ``batch`` lines: wall time of each batch (the task's own ``completed_at - created_at``),
  and the slowdown ratio two ways:
  - ``under load``: B's time to finish its first *k* segments, *k* = the segments it finished
    before the load stopped, against the unloaded batches' (mean of A and C) time for the
    same *k* segments. This is the slowdown while the clients ran.
  - ``whole batch``: B's wall / the unloaded mean. The batch outlasts the load, so its tail
    ran unloaded: this ratio is diluted towards 1.
  Compare only within one run: the CPU and the machine's other load vary from day to day.
* ``cpu`` per batch: cores' worth of CPU used by the server process, by this process (the
  clients) and by everything else on the machine (``others``; over 0.25 means another
  job skewed the run, a warning is printed).
* ``drain``: after the load, how long the queued single tasks took to finish.
* Exit status: 0 when there was no 5xx (client side or in the server log), no connection
  error, every task is terminal and COMPLETED, every batch segment has its audio,
  check_media is clean and no temp file is left; 1 otherwise.

Reference runs (AMD EPYC, 2 cores, avx512_vnni, no avx_vnni; quiet machine, others 0.01 cores;
2026-12-07), both with the defaults, same machine and day:

* before request threads kept their database connection (``CONN_MAX_AGE`` 0, main at
  23cb22e): 88.7 req/s; p50 22 ms (status) to 55 ms (project detail), p99 216-765 ms;
  batch A 87.3 s, B 108.5 s, C 79.6 s: under load 2.00x, whole batch 1.30x. py-spy of the
  server: about 40 % of the request threads' CPU was ``sqlite3.connect``, the PRAGMAs and
  ``close``, on every request.
* with ``CONN_MAX_AGE`` 60 (the setting since 072c4a6): 90.4 req/s; p50 18.7 ms (status) to
  45.6 ms (project detail), p99 276-590 ms; A 83.2 s, B 119.5 s, C 84.9 s: under load 2.00x,
  whole batch 1.42x. Latency fell; the batch's slowdown did not move (it is CPU share: the
  requests take about 0.55 of the 2 cores).

Both: 0 5xx, 0 connection errors, every task COMPLETED, check_media clean.

Why asyncio + httpx and not locust: locust runs its users as gevent greenlets and
monkey-patches the standard library, and it brings its own process model (web UI, master /
workers) and a second event loop; here the benchmark also has to start the server,
orchestrate three batches, time them and check the data afterwards, in one plain script
like the other benches. httpx's ``AsyncClient`` is a well-kept library on anyio, a bounded
set of coroutines is all a fixed number of clients needs, and its ``stream()`` reads SSE.
The clients share one process (and the server's 2 cores): their CPU is shown per batch.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_benchmark import STORY, segment_texts  # noqa: E402
from status_benchmark import cpu_line, cpu_snapshot, loadavg_line, percentile  # noqa: E402
from task_bench_common import RunserverProcess  # noqa: E402

#: Terminal task statuses: the spec's COMPLETED and FAILED (audio-generation-api.md §3.2.3) and
#: StoryFlow's fifth status CANCELLED (api/tasks/manager.py).
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
#: What a deduplicated generate request answers (api/services/audio_generation.py MESSAGE_ALREADY_RUNNING).
ALREADY_RUNNING = "Audio generation already in progress"
EDIT_SUFFIXES = ("", " Truly.", " So it was.")
MONITOR_INTERVAL = 0.25
REQUEST_TIMEOUT = 30.0

EP_PROJECTS = "GET /api/projects/"
EP_PROJECT = "GET /api/projects/{id}/"
EP_SEGMENTS = "GET /api/segments/?project="
EP_SEGMENT = "GET /api/segments/{id}/"
EP_EDIT = "PATCH /api/segments/{id}/"
EP_GENERATE = "POST /api/segments/{id}/generate-audio/"
EP_GENERATE_ALL = "POST /api/projects/{id}/generate-all-audio/"
EP_STATUS = "GET /api/tasks/{id}/status/"
EP_EVENTS = "GET /api/tasks/{id}/events/ (1st event)"
ENDPOINTS = (EP_PROJECTS, EP_PROJECT, EP_SEGMENTS, EP_SEGMENT, EP_EDIT, EP_GENERATE, EP_GENERATE_ALL, EP_STATUS,
             EP_EVENTS)


# ------------------------------------------------------------------ recording
@dataclass
class Recorder:
    """Latencies (s) and status codes per endpoint, connection errors, and notes (counted events)."""

    latency: dict = field(default_factory=lambda: defaultdict(list))
    codes: dict = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None

    def record(self, endpoint: str, code: int, seconds: float) -> None:
        """One answered request."""
        self.latency[endpoint].append(seconds)
        self.codes[endpoint][code] += 1
        self.last = time.monotonic()

    def error(self, endpoint: str, exc: BaseException) -> None:
        """One request that got no HTTP answer (refused, reset, timed out)."""
        self.errors[f"{endpoint}: {type(exc).__name__}"] += 1
        self.last = time.monotonic()

    def started(self) -> None:
        if self.first is None:
            self.first = time.monotonic()

    def total(self) -> int:
        return sum(len(v) for v in self.latency.values())

    def count_codes(self, low: int, high: int) -> Counter:
        found = Counter()
        for codes in self.codes.values():
            for code, n in codes.items():
                if low <= code < high:
                    found[code] += n
        return found


async def call(client: httpx.AsyncClient, rec: Recorder, endpoint: str, method: str, url: str,
               **kwargs) -> httpx.Response | None:
    """Send one request, record its latency and status under ``endpoint``; None if it got no answer."""
    rec.started()
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:  # connect/read errors and timeouts
        rec.error(endpoint, exc)
        return None
    rec.record(endpoint, response.status_code, time.perf_counter() - started)
    return response


# ------------------------------------------------------------------ the world the clients act on
@dataclass
class World:
    """Ids the clients act on, the load's deadline, and every task id the run has seen."""

    batch_project: str
    batch_segments: list[str]
    side_project: str
    side_segments: list[str]  # unlocked side segments
    locked_segment: str
    side_texts: dict[str, str]
    batch_task: str = ""
    deadline: float = 0.0
    think: float = 1.0
    conditional: float = 0.5
    task_ids: set[str] = field(default_factory=set)
    sse_streams: int = 0
    sse_events: int = 0

    def tail_segments(self) -> list[str]:
        """The running batch's last segments: it reaches them only after the load has stopped."""
        return self.batch_segments[-max(1, len(self.batch_segments) // 5):]


def remember_task(world: World, mine: list[str], response: httpx.Response | None, rec: Recorder, what: str) -> None:
    """Note the task id of a 202 (and whether it was deduplicated to an active task)."""
    if response is None or response.status_code != 202:
        return
    body = response.json()
    task_id = body.get("task_id")
    if task_id:
        world.task_ids.add(task_id)
        mine.append(task_id)
        del mine[:-5]
    if body.get("message") == ALREADY_RUNNING:
        rec.notes[f"{what}: 202 deduplicated to an active task"] += 1
    else:
        rec.notes[f"{what}: 202 new task queued"] += 1


async def act_projects(c, rec, rng, world, mine):
    await call(c, rec, EP_PROJECTS, "GET", "/api/projects/")


async def act_project(c, rec, rng, world, mine):
    project = world.batch_project if rng.random() < 0.5 else world.side_project
    await call(c, rec, EP_PROJECT, "GET", f"/api/projects/{project}/")


async def act_segments(c, rec, rng, world, mine):
    project = world.batch_project if rng.random() < 0.5 else world.side_project
    await call(c, rec, EP_SEGMENTS, "GET", "/api/segments/", params={"project": project})


async def act_segment(c, rec, rng, world, mine):
    pool = world.batch_segments + world.side_segments + [world.locked_segment]
    await call(c, rec, EP_SEGMENT, "GET", f"/api/segments/{rng.choice(pool)}/")


async def act_edit(c, rec, rng, world, mine):
    segment = world.locked_segment if rng.random() < 0.1 else rng.choice(world.side_segments)
    text = world.side_texts[segment] + rng.choice(EDIT_SUFFIXES)
    headers = {}
    if rng.random() < world.conditional:
        # The editor's save: read the segment, type (think), PATCH with If-Match: the ETag it read.
        got = await call(c, rec, EP_SEGMENT, "GET", f"/api/segments/{segment}/")
        if got is None or got.status_code != 200:
            return
        if got.headers.get("ETag"):
            headers["If-Match"] = got.headers["ETag"]
        await think(rng, world)
    response = await call(c, rec, EP_EDIT, "PATCH", f"/api/segments/{segment}/", json={"text_content": text},
                          headers=headers)
    if response is not None and headers:
        rec.notes[f"conditional edit (If-Match): {response.status_code}"] += 1


async def act_generate(c, rec, rng, world, mine):
    if rng.random() < 0.3:
        segment, what = rng.choice(world.tail_segments()), "generate on the running batch's segment"
    elif rng.random() < 1 / 7:
        segment, what = world.locked_segment, "generate on the locked segment"
    else:
        segment, what = rng.choice(world.side_segments), "generate on a side segment"
    response = await call(c, rec, EP_GENERATE, "POST", f"/api/segments/{segment}/generate-audio/")
    remember_task(world, mine, response, rec, what)


async def act_generate_all(c, rec, rng, world, mine):
    response = await call(c, rec, EP_GENERATE_ALL, "POST", f"/api/projects/{world.batch_project}/generate-all-audio/",
                          json={})
    remember_task(world, mine, response, rec, "generate-all on the running project")


async def act_status(c, rec, rng, world, mine):
    task_id = rng.choice(mine) if mine and rng.random() < 0.5 else world.batch_task
    response = await call(c, rec, EP_STATUS, "GET", f"/api/tasks/{task_id}/status/")
    if response is not None and response.status_code == 404:
        rec.notes["status 404 for a task this run created (LOST)"] += 1


ACTIONS = ((act_projects, 8), (act_project, 8), (act_segments, 8), (act_segment, 12), (act_edit, 10),
           (act_generate, 6), (act_generate_all, 1), (act_status, 30))


async def think(rng: random.Random, world: World) -> None:
    """Sleep ``uniform(0.5, 1.5) x think`` seconds, not past the deadline."""
    if world.think > 0:
        await asyncio.sleep(max(0.0, min(rng.uniform(0.5, 1.5) * world.think, world.deadline - time.monotonic())))


async def writer(client: httpx.AsyncClient, rec: Recorder, rng: random.Random, world: World) -> None:
    """One client: weighted actions with think time between them until the deadline."""
    functions, weights = zip(*ACTIONS)
    mine: list[str] = []
    await asyncio.sleep(rng.uniform(0, max(world.think, 0.01)))  # stagger the start
    while time.monotonic() < world.deadline:
        await rng.choices(functions, weights)[0](client, rec, rng, world, mine)
        await think(rng, world)


async def sse_holder(client: httpx.AsyncClient, rec: Recorder, rng: random.Random, world: World) -> None:
    """One client holding the batch's event stream open until the deadline (reconnecting when it ends)."""
    await asyncio.sleep(rng.uniform(0, 0.5))
    while time.monotonic() < world.deadline:
        remaining = world.deadline - time.monotonic()
        rec.started()
        started = time.perf_counter()
        got_first = False
        try:
            async with asyncio.timeout(remaining):
                async with client.stream("GET", f"/api/tasks/{world.batch_task}/events/") as response:
                    world.sse_streams += 1
                    if response.status_code != 200:
                        rec.record(EP_EVENTS, response.status_code, time.perf_counter() - started)
                        got_first = True
                    else:
                        async for line in response.aiter_lines():
                            if line.startswith("data:"):
                                world.sse_events += 1
                                if not got_first:
                                    rec.record(EP_EVENTS, 200, time.perf_counter() - started)
                                    got_first = True
        except TimeoutError:
            pass  # held open until the load stopped: the normal end
        except httpx.TransportError as exc:
            rec.error(EP_EVENTS, exc)
            got_first = True
        if not got_first and time.monotonic() < world.deadline:
            rec.notes["SSE stream ended before its first event"] += 1
        await think(rng, world)


# ------------------------------------------------------------------ batches
def parse_iso(value: str | None) -> float | None:
    """An ISO 8601 UTC timestamp of a status body as ``time.time()`` seconds."""
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def monitor_batch(client: httpx.AsyncClient, task_id: str, t0: float, timeout: float) -> dict:
    """Poll the batch's status every 0.25 s until terminal; return its final body, the monotonic
    seconds since ``t0`` at which 1, 2, ... segments were done (``marks``), and its wall time."""
    marks: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = await client.get(f"/api/tasks/{task_id}/status/")
        except httpx.TransportError:
            await asyncio.sleep(MONITOR_INTERVAL)
            continue
        body = response.json()
        done = len(body.get("completed_segments") or []) + len(body.get("errors") or [])
        now = time.monotonic() - t0
        while len(marks) < done:
            marks.append(now)
        if body.get("status") in TERMINAL:
            created, completed = parse_iso(body.get("created_at")), parse_iso(body.get("completed_at"))
            wall = completed - created if created and completed else now
            return {"body": body, "marks": marks, "wall": wall}
        await asyncio.sleep(MONITOR_INTERVAL)
    raise SystemExit(f"batch {task_id} not terminal after {timeout:.0f} s")


def machine_snapshot(server: RunserverProcess) -> tuple:
    """``(status_benchmark.cpu_snapshot(), server CPU s)``."""
    return cpu_snapshot(), server.cpu_seconds()


def cpu_split(before: tuple, after: tuple) -> dict | None:
    """Cores' worth of CPU between two ``machine_snapshot()``s: server, this process, others."""
    (m0, s0), (m1, s1) = before, after
    if m0 is None or m1 is None or s0 is None or s1 is None:
        return None
    seconds = m1[0] - m0[0]
    server = (s1 - s0) / seconds
    own = (m1[2] - m0[2]) / seconds
    busy = (m1[1] - m0[1]) / seconds
    return {"server": server, "clients": own, "others": max(0.0, busy - server - own)}


async def run_batch(client: httpx.AsyncClient, server: RunserverProcess, project: str, label: str,
                    timeout: float, world: World | None = None, load=None) -> dict:
    """Submit the project's batch (cache bypassed); with ``load`` (a coroutine factory) run it
    alongside from the 202 on. Return the monitor's figures, the CPU split and the load's end."""
    before = machine_snapshot(server)
    t0 = time.monotonic()
    response = await client.post(f"/api/projects/{project}/generate-all-audio/", json={"force_regenerate": True})
    if response.status_code != 202:
        raise SystemExit(f"{label}: generate-all-audio answered {response.status_code}: {response.text}")
    task_id = response.json()["task_id"]
    if world is not None:
        world.batch_task = task_id
        world.task_ids.add(task_id)
    load_task = asyncio.create_task(load()) if load is not None else None
    figures = await monitor_batch(client, task_id, t0, timeout)
    if load_task is not None:
        figures["load_end"] = await load_task - t0
    after = machine_snapshot(server)
    figures.update(label=label, task_id=task_id, cpu=cpu_split(before, after), loadavg=os.getloadavg()[0])
    return figures


# ------------------------------------------------------------------ set-up
async def import_project(client: httpx.AsyncClient, title: str, texts: list[str]) -> tuple[str, list[str]]:
    """``POST /api/projects/import/``: the project id and its segment ids in order."""
    response = await client.post("/api/projects/import/", json={"title": title, "text": "\n\n".join(texts)})
    if response.status_code != 201:
        raise SystemExit(f"import {title}: {response.status_code} {response.text}")
    body = response.json()
    segments = sorted(body["segments"], key=lambda s: s["sequence_index"])
    if len(segments) != len(texts):
        raise SystemExit(f"import {title}: {len(segments)} segments for {len(texts)} paragraphs")
    return body["id"], [s["id"] for s in segments]


async def wait_terminal(client: httpx.AsyncClient, task_ids: set[str], timeout: float) -> dict[str, str]:
    """Poll each task's status until all are terminal or ``timeout``; return task id -> last status
    (``"404"`` for one the server does not know, ``"no answer"`` for one it did not answer)."""
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    pending = set(task_ids)
    while pending:
        for task_id in sorted(pending):
            try:
                response = await client.get(f"/api/tasks/{task_id}/status/")
                last[task_id] = response.json()["status"] if response.status_code == 200 else str(response.status_code)
            except (httpx.TransportError, ValueError, KeyError):
                last[task_id] = "no answer"
        pending = {t for t in pending if last[t] not in TERMINAL}
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    return last


# ------------------------------------------------------------------ checks afterwards
def check_media(server: RunserverProcess) -> tuple[bool, str]:
    """``manage.py check_media --json`` on the server's database and media: ``(clean, report)``."""
    done = server.manage("check_media", "--json", timeout=300)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        return False, f"check_media exit {done.returncode}, output not JSON:\n{done.stdout}{done.stderr}"
    lists = {k: v for k, v in result.items() if isinstance(v, list)}  # the problem lists
    skipped = (result.get("skipped") or {}).get("projects_with_active_tasks") or []
    # Every task is terminal by now: a project skipped as "with active tasks" was not checked.
    clean = done.returncode == 0 and not any(lists.values()) and not skipped
    summary = ", ".join(f"{k} {len(v)}" for k, v in lists.items())
    return clean, (f"check_media --json: exit {done.returncode}; {summary}; projects skipped {len(skipped)}"
                   + ("" if clean else "\n" + json.dumps(result, indent=2)))


def leftover_temp_files(server: RunserverProcess) -> list[str]:
    """Every ``*.tmp`` under the media folder, however young (check_media lists only those older
    than its stale age; after the run nothing is writing, so any is a leftover)."""
    return sorted(str(p) for p in server.media.rglob("*.tmp"))


_LOG_5XX = re.compile(r'"[A-Z]+ (\S+) HTTP/[\d.]+" (5\d\d) ')


def scan_server_log(path: Path) -> tuple[Counter, list[str]]:
    """5xx request lines in runserver's log (by path pattern and code) and its traceback blocks."""
    text = path.read_text(encoding="utf-8", errors="replace")
    fives = Counter()
    for match in _LOG_5XX.finditer(text):
        shape = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|tts_\S+?/", "{id}/", match.group(1))
        fives[f"{shape} {match.group(2)}"] += 1
    blocks, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = index + 1
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
                end += 1
            blocks.append("\n".join(lines[max(0, index - 2): end + 1]))
    return fives, blocks


# ------------------------------------------------------------------ report
def fmt_cpu(cpu: dict | None) -> str:
    if cpu is None:
        return "cpu -"
    return f"cpu: server {cpu['server']:.2f}, clients {cpu['clients']:.2f}, others {cpu['others']:.2f} cores"


def print_endpoints(rec: Recorder) -> None:
    print(f"  {'endpoint':<44}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  codes")
    for endpoint in ENDPOINTS:
        values = [x * 1000 for x in rec.latency.get(endpoint, [])]
        if not values:
            print(f"  {endpoint:<44}{0:>7}")
            continue
        codes = ", ".join(f"{code} x{n}" for code, n in sorted(rec.codes[endpoint].items()))
        print(f"  {endpoint:<44}{len(values):>7}{statistics.median(values):9.1f}{percentile(values, 99):9.1f}"
              f"{max(values):9.1f}  {codes}")


def time_for(marks: list[float], k: int) -> float | None:
    """Seconds from submit until ``k`` segments were done (None if never)."""
    return marks[k - 1] if 0 < k <= len(marks) else None


# ------------------------------------------------------------------ main
async def run(args, server: RunserverProcess) -> int:
    """The whole benchmark against a started server; returns the exit status."""
    texts = segment_texts(args.segments + args.side_segments)
    if len(texts) < args.segments + args.side_segments:
        raise SystemExit(f"{STORY.name} gives only {len(texts)} texts of about 170 characters")
    batch_texts, side_texts = texts[: args.segments], texts[args.segments:]
    rng = random.Random(args.seed)
    timeout = httpx.Timeout(REQUEST_TIMEOUT)
    limits = httpx.Limits(max_connections=args.clients + 16, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits, trust_env=False) as client:
        unloaded_ids = []
        for name in ("A", "C")[: args.unloaded_runs]:
            unloaded_ids.append((await import_project(client, f"Load unloaded {name}", batch_texts))[0])
        loaded_project, loaded_segments = await import_project(client, "Load running batch B", batch_texts)
        side_project, side_segments = await import_project(client, "Load side project", side_texts)
        locked = side_segments[0]
        response = await client.patch(f"/api/segments/{locked}/", json={"is_locked": True})
        assert response.status_code == 200, response.text
        world = World(batch_project=loaded_project, batch_segments=loaded_segments, side_project=side_project,
                      side_segments=side_segments[1:], locked_segment=locked,
                      side_texts=dict(zip(side_segments, side_texts)), think=args.think,
                      conditional=args.conditional_edits)
        chars = sum(len(t) for t in batch_texts)
        print(f"Batch: {args.segments} segments, {chars:,} characters of {STORY.name} (each of A, B"
              f"{', C' if args.unloaded_runs == 2 else ''}); side project {args.side_segments} segments (1 locked)")
        print(f"Load: {args.clients} clients ({args.sse} holding SSE streams) for {args.seconds:.0f} s, think "
              f"uniform(0.5, 1.5) x {args.think} s; server {server.url} (pid {server.proc.pid})", flush=True)

        warm_project, _ = await import_project(client, "Warm-up", ["A short warm-up sentence."])
        warm = await run_batch(client, server, warm_project, "warm-up", args.batch_timeout)
        print(f"Warm-up batch (1 segment, not counted): {warm['wall']:.2f} s, {warm['body']['status']}", flush=True)
        all_tasks = {warm["task_id"]}

        rec = Recorder()

        async def load() -> float:
            world.deadline = time.monotonic() + args.seconds
            clients = [sse_holder(client, rec, random.Random(rng.random()), world) for _ in range(args.sse)]
            clients += [writer(client, rec, random.Random(rng.random()), world)
                        for _ in range(args.clients - args.sse)]
            await asyncio.gather(*clients)
            return time.monotonic()

        runs = []
        order = [("unloaded A", unloaded_ids[0], None), ("loaded B", loaded_project, load)]
        if args.unloaded_runs == 2:
            order.append(("unloaded C", unloaded_ids[1], None))
        drain = None
        for label, project, load_fn in order:
            figures = await run_batch(client, server, project, label, args.batch_timeout,
                                      world if load_fn else None, load_fn)
            all_tasks.add(figures["task_id"])
            runs.append(figures)
            body = figures["body"]
            print(f"  {label:<11} wall {figures['wall']:7.2f} s  {body['status']}, "
                  f"{len(body['completed_segments'])} segments done, {len(body['errors'])} errors, "
                  f"RTF {body.get('realtime_factor')}; {fmt_cpu(figures['cpu'])}; load1 {figures['loadavg']:.2f}",
                  flush=True)
            if load_fn is not None:
                drain_start = time.monotonic()
                all_tasks |= world.task_ids
                states = await wait_terminal(client, all_tasks, args.batch_timeout)
                drain = time.monotonic() - drain_start
                waiting = [t for t, s in states.items() if s not in TERMINAL]
                print(f"  drain: {len(world.task_ids) - 1} task ids from the load's 202s besides the batch's, all terminal "
                      f"after {drain:.1f} s more" if not waiting else f"  drain: {len(waiting)} tasks NOT terminal "
                      f"after {drain:.1f} s", flush=True)

        final = await wait_terminal(client, all_tasks, args.batch_timeout)
        # Every batch segment has its audio (the batches' own projects; the side project's
        # segments get audio only where a single task ran).
        projects_audio = {}
        for label, project in [("A", unloaded_ids[0]), ("B", loaded_project)] + (
                [("C", unloaded_ids[1])] if args.unloaded_runs == 2 else []):
            body = (await client.get("/api/segments/", params={"project": project})).json()
            projects_audio[label] = sum(1 for s in body if s.get("audio_file"))

    # ---- figures
    print("\n=== Load (batch B running) ===")
    window = (rec.last - rec.first) if rec.first and rec.last else args.seconds
    total = rec.total()
    print(f"requests {total:,} in {window:.1f} s: {total / window:.1f} req/s "
          f"(answered; SSE streams count once: {world.sse_streams} opened, {world.sse_events:,} events read)")
    print_endpoints(rec)
    fours, fives = rec.count_codes(400, 500), rec.count_codes(500, 600)
    print(f"4xx: {sum(fours.values())} ({', '.join(f'{c} x{n}' for c, n in sorted(fours.items())) or 'none'})")
    print(f"5xx: {sum(fives.values())} ({', '.join(f'{c} x{n}' for c, n in sorted(fives.items())) or 'none'})")
    errors = sum(rec.errors.values())
    print(f"connection errors: {errors}" + (f" ({', '.join(f'{k} x{n}' for k, n in rec.errors.items())})"
                                              if errors else ""))
    for note, n in sorted(rec.notes.items()):
        print(f"  {note}: {n}")

    print("\n=== Batch slowdown (same run) ===")
    unloaded = [r for r in runs if r["label"].startswith("unloaded")]
    loaded = next(r for r in runs if r["label"] == "loaded B")
    mean_unloaded = statistics.mean(r["wall"] for r in unloaded)
    for r in runs:
        print(f"  {r['label']:<11} wall {r['wall']:7.2f} s  ({len(r['marks'])} segments)  {fmt_cpu(r['cpu'])}")
    load_end = loaded.get("load_end", args.seconds)
    k = sum(1 for mark in loaded["marks"] if mark <= load_end)
    if k:
        t_loaded = time_for(loaded["marks"], k)
        t_unloaded = statistics.mean(time_for(r["marks"], k) for r in unloaded)
        print(f"  under load: B finished {k} of {args.segments} segments while the clients ran ({load_end:.1f} s "
              f"after submit) in {t_loaded:.2f} s; unloaded (mean of {len(unloaded)}) "
              f"{t_unloaded:.2f} s -> slowdown {t_loaded / t_unloaded:.3f}x")
    else:
        print("  under load: B finished no segment while the clients ran (load too short)")
    print(f"  whole batch: B {loaded['wall']:.2f} s / unloaded mean {mean_unloaded:.2f} s = "
          f"{loaded['wall'] / mean_unloaded:.3f}x (tail after the load ran unloaded)")
    if len(unloaded) == 2:
        print(f"  drift: C / A = {unloaded[1]['wall'] / unloaded[0]['wall']:.3f}")
    if len(loaded["marks"]) == k:
        print(f"  WARNING: the batch ended before the load ({loaded['wall']:.1f} s < {load_end:.1f} s): "
              "use more --segments so it outlasts the load")
    busy = [r for r in runs if r["cpu"] and r["cpu"]["others"] > 0.25]
    if busy:
        print(f"  WARNING: other processes used > 0.25 cores during {', '.join(r['label'] for r in busy)}: "
              "the ratios are skewed by them")

    print("\n=== Afterwards ===")
    by_status = Counter(final.values())
    not_terminal = {t: s for t, s in final.items() if s not in TERMINAL}
    not_completed = {t: s for t, s in final.items() if s != "COMPLETED"}
    print(f"tasks created by the run: {len(final)}; by status: "
          f"{', '.join(f'{s} {n}' for s, n in sorted(by_status.items()))}")
    for task_id, state in sorted(not_completed.items()):
        print(f"  NOT COMPLETED: {task_id}: {state}")
    missing_audio = {label: args.segments - n for label, n in projects_audio.items() if n != args.segments}
    print("batch projects' segments with audio: "
          + ", ".join(f"{label} {n}/{args.segments}" for label, n in projects_audio.items()))
    return_code = server.stop()
    print(f"server stopped (exit {return_code})")
    clean, report = check_media(server)
    print(report)
    temps = leftover_temp_files(server)
    print(f"temp files left under media (any age): {len(temps)}" + "".join(f"\n  {t}" for t in temps[:10]))
    log_fives, tracebacks = scan_server_log(server.log)
    print(f"server log: {sum(log_fives.values())} 5xx lines"
          + (f" ({', '.join(f'{k} x{n}' for k, n in log_fives.items())})" if log_fives else "")
          + f", {len(tracebacks)} tracebacks")
    for block in tracebacks[:3]:
        print("---\n" + block)
    lost = rec.notes.get("status 404 for a task this run created (LOST)", 0)
    problems = {
        "5xx answers": sum(fives.values()) + sum(log_fives.values()),
        "connection errors": errors,
        "tasks not terminal": len(not_terminal),
        "tasks not COMPLETED": len(not_completed),
        "batch segments without audio": sum(missing_audio.values()),
        "status 404 for the run's tasks": lost,
        "check_media problems": 0 if clean else 1,
        "temp files left": len(temps),
    }
    failed = {k: v for k, v in problems.items() if v}
    print("\nVerdict (target: 0 5xx, nothing lost): "
          + ("PASS" if not failed else "FAIL: " + ", ".join(f"{k} {v}" for k, v in failed.items())))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options, start the server in a temporary folder, run the benchmark, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs (default 60)")
    parser.add_argument("--sse", type=int, default=5, help="of the clients, how many hold SSE streams (default 5)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean think time between a client's requests, s (0: closed loop; default 1)")
    parser.add_argument("--conditional-edits", type=float, default=0.5,
                        help="share of edits sent as the editor saves: GET, think, PATCH with If-Match (default 0.5)")
    parser.add_argument("--segments", type=int, default=20, help="segments of each batch (default 20)")
    parser.add_argument("--side-segments", type=int, default=10, help="segments of the side project (default 10)")
    parser.add_argument("--unloaded-runs", type=int, choices=(1, 2), default=2,
                        help="unloaded batches: 1 (before the loaded one) or 2 (before and after; default)")
    parser.add_argument("--batch-timeout", type=float, default=1200.0, help="seconds to wait for a batch to end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server, e.g. STORYFLOW_REQUEST_NICE=10 (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, media, log)")
    args = parser.parse_args(argv)
    if not 0 <= args.sse <= args.clients:
        parser.error("--sse must be between 0 and --clients")
    server_env = dict(item.split("=", 1) for item in args.server_env if "=" in item)

    print(f"CPU: {cpu_line()}")
    print(f"At start: {loadavg_line()}", flush=True)
    if server_env:
        print(f"Server environment: {' '.join(f'{k}={v}' for k, v in server_env.items())}")
    workdir = Path(tempfile.mkdtemp(prefix="storyflow-load-"))
    server = RunserverProcess(workdir, server_env)
    try:
        server.start()
        code = asyncio.run(run(args, server))
    finally:
        server.stop()
        print(f"At end: {loadavg_line()}")
        if args.keep:
            print(f"kept {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
