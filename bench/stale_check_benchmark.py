#!/usr/bin/env python
"""What knowing which audio is out of date costs a project's detail request.

Usage (from the repository root)::

    .venv/bin/python bench/stale_check_benchmark.py [--book PATH] [--rules 20] [--rounds 5]

Imports a whole book (default: Alice's Adventures in Wonderland, the EPUB the tests
carry) into a temporary database, gives the project ``--rules`` pronunciation rules,
and marks every segment as narrated, recording the audio identity it has now (no
synthesis: only the record matters here). Then it times ``GET /api/projects/{id}/``
through Django's test client, medians of ``--rounds``:

- **baseline**: the same project with no audio (the stale check returns at once);
- **cold**: every segment checked, the spoken-form caches emptied first (the first
  request after a server start, or after the text of every segment changed);
- **warm**: every segment checked, caches filled (every later request);

and the time ``generate-all-audio`` needs to select stale segments (its queue is
stopped, so nothing is synthesized). The first line names the CPU; compare figures
only as ratios to the baseline of the same run.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from task_bench_common import REPO, setup_django

DEFAULT_BOOK = REPO / "backend" / "api" / "tests" / "data" / "carroll_alice_pg11.epub"


def cpu_line() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    vnni = "avx512_vnni" in info or "avx_vnni" in info
    import os

    return f"CPU: {model}, {os.cpu_count()} cores, {'VNNI' if vnni else 'no VNNI'}"


def timed(fn, rounds: int, before=None) -> float:
    samples = []
    for _ in range(rounds):
        if before:
            before()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(cpu_line())

    workdir = Path(tempfile.mkdtemp(prefix="stale-bench-"))
    setup_django(workdir)
    from django.test import Client
    from django.test.utils import setup_test_environment

    from api.models import PronunciationRule, Segment
    from api.services.manuscript_import import load_manuscript_file
    from api.services.narration import NarrationContext
    from api.services.story_import import create_project
    from core_engine import tts_wrapper
    from core_engine.text_normalization import normalize_text

    setup_test_environment()
    project = create_project(load_manuscript_file(args.book))
    words = sorted({w.strip(".,;:!?'\"()") for s in project.segments.all() for w in s.text_content.split() if w[:1].isupper()})
    for word in [w for w in words if len(w) > 3][: args.rules]:
        PronunciationRule.objects.create(project=project, pattern=word, replacement=f"{word.lower()}-uh")
    segments = list(project.segments.all())
    chars = sum(len(s.text_content) for s in segments)
    print(f"Book: {args.book.name}, {len(segments)} segments, {chars:,} characters, {args.rules} lexicon rules")

    client = Client()
    url = f"/api/projects/{project.id}/"

    def clear_caches():
        tts_wrapper.spoken_form_of.cache_clear()
        tts_wrapper._spoken_sentence.cache_clear()
        normalize_text.cache_clear()

    def get_detail():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    baseline = timed(get_detail, args.rounds)

    context = NarrationContext.for_project(project)
    for segment in segments:
        identity = context.identity_for(segment)
        segment.audio_file = f"/media/projects/{project.id}/audio/{segment.id}.wav"
        segment.audio_identity, segment.audio_source = identity.digest, identity.source
    Segment.objects.bulk_update(segments, ["audio_file", "audio_identity", "audio_source"], batch_size=500)

    cold = timed(get_detail, args.rounds, before=clear_caches)
    warm = timed(get_detail, args.rounds)
    stale = sum(s["audio_stale"] for s in client.get(url).json()["segments"])
    assert stale == 0, f"{stale} segments stale right after recording their identities"

    from api.services.audio_generation import start_project_audio_generation
    from api.tasks import get_task_manager

    get_task_manager().shutdown(wait=True)  # selection only: a submitted batch is refused, never run
    started = time.perf_counter()
    try:
        start_project_audio_generation(project)
    except Exception as exc:  # TasksShutDown when something is stale; 200 body when nothing is
        print(f"(selection ended with {type(exc).__name__}, as expected with the queue stopped)")
    select = time.perf_counter() - started

    print(f"GET project detail, no audio (baseline): {baseline * 1000:8.1f} ms")
    print(f"GET project detail, stale check cold:    {cold * 1000:8.1f} ms  ({cold / baseline:.2f}x baseline)")
    print(f"GET project detail, stale check warm:    {warm * 1000:8.1f} ms  ({warm / baseline:.2f}x baseline)")
    print(f"generate-all selection (stale check):    {select * 1000:8.1f} ms")
    print(f"per segment, cold: {cold / len(segments) * 1e6:.0f} µs; per 1,000 characters, cold: {cold / chars * 1e6:.2f} ms")


if __name__ == "__main__":
    main()
