#!/usr/bin/env python
"""How good is the ETA? Run a story batch twice and measure the ETA error at 25, 50 and 75 %.

Usage (from the repository root)::

    .venv/bin/python bench/eta_benchmark.py [--story PATH] [--chars N] [--interval S]

Uses a fresh temporary database and media folder (nothing of yours is touched).
Imports the first N characters (default 2500) of the story as a project and
runs ``generate-all-audio``'s service twice (the second time with
``force_regenerate``) on the real model, polling the task's status every
``--interval`` seconds (default 0.1). Run 1 starts with no learned speed;
run 2 is the "repeated task" of the product documents, whose target is an
ETA within 20 % of the real remaining time.

For each run it prints, at the first sample whose ``overall_progress`` reached
25/50/75 %: the ETA shown, the real remaining time (task end - sample time) and
the relative error ``(eta - actual) / actual``; and the first sample with an ETA.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from task_bench_common import DEFAULT_STORY, import_story_prefix, setup_django


def run_once(project, interval: float, force: bool) -> tuple[list[tuple[float, float, float | None]], float, dict]:
    """Run one batch; return (samples [(t, overall %, eta s)], total seconds, final status)."""
    from api.services.audio_generation import start_project_audio_generation
    from api.tasks import TERMINAL_STATUSES, get_task_manager

    manager = get_task_manager()
    _, body = start_project_audio_generation(project, force_regenerate=force)
    task_id = body["task_id"]
    samples = []
    started = None
    while True:
        state = manager.get_task_status(task_id)
        now = time.monotonic()
        if state["status"] == "PROCESSING" and started is None:
            started = now
        if started is not None:
            samples.append((now - started, state["overall_progress"], state["eta_seconds"]))
        if state["status"] in TERMINAL_STATUSES:
            return samples, now - started, state
        time.sleep(interval)


def report(label: str, samples, total: float) -> list[float]:
    """Print the ETA error at 25/50/75 %; return the absolute relative errors."""
    print(f"\n{label}: {total:.1f} s")
    first_eta = next(((t, p) for t, p, eta in samples if eta is not None), None)
    if first_eta:
        print(f"  first ETA after {first_eta[0]:.1f} s (at {first_eta[1]:.1f} %)")
    errors = []
    print(f"  {'mark':>5} {'at s':>7} {'ETA s':>7} {'actual s':>9} {'error':>7}")
    for mark in (25, 50, 75):
        t, progress, eta = next(s for s in samples if s[1] >= mark)
        actual = total - t
        if eta is None:
            print(f"  {mark:>4}% {t:7.1f} {'--':>7} {actual:9.1f}     n/a")
            continue
        error = (eta - actual) / actual
        errors.append(abs(error))
        print(f"  {mark:>4}% {t:7.1f} {eta:7.1f} {actual:9.1f} {error:+7.1%}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--story", type=Path, default=DEFAULT_STORY)
    parser.add_argument("--chars", type=int, default=2500)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="storyflow-eta-") as tmp:
        setup_django(Path(tmp))
        project, size = import_story_prefix(args.story, args.chars, "ETA benchmark")
        count = project.segments.count()
        print(f"Story: {args.story.name}, {count} segments, {size:,} characters; sampling every {args.interval} s")

        samples1, total1, final1 = run_once(project, args.interval, force=False)
        errors1 = report("Run 1 (no learned speed)", samples1, total1)
        samples2, total2, final2 = run_once(project, args.interval, force=True)
        errors2 = report("Run 2 (repeated task, learned speed)", samples2, total2)
        print(f"\nStatus: run 1 {final1['status']}, run 2 {final2['status']}; RTF {final2['realtime_factor']}")
        worst = max(errors2) if errors2 else float("nan")
        verdict = "PASS" if errors2 and worst <= 0.20 else "FAIL"
        print(f"Repeated-task ETA error, worst of 25/50/75 %: {worst:.1%} (target <= 20 %): {verdict}")
        from api.tasks import get_task_manager

        get_task_manager().shutdown(wait=True)  # before the temporary database goes away
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
