#!/usr/bin/env python
"""What the audio cache saves: a 10-segment batch cold, then regenerated unchanged.

Usage (from the repository root)::

    .venv/bin/python bench/cache_benchmark.py [--segments 10] [--chars 120] [--story PATH]

Uses a fresh temporary database and media folder (nothing of yours is touched)
and the real Kokoro model. The story's first sentences, grouped into ``--segments``
segments of at least ``--chars`` characters, become a project; then, each through ``generate-all-audio``'s service and the
TaskManager's one worker:

1. **cold**: every segment is synthesized with the project voice A (cache empty);
2. **voice B**: the project voice changes, every segment is stale and synthesized;
3. **back to A, unchanged**: every segment is stale again, but its audio for A is in
   the cache: it is copied, no model call;
4. **force_regenerate** with A: the cache is bypassed, the model runs again.

For each it prints the batch's wall time (the task's own started → completed),
the CPU seconds of this process during it (``time.process_time``), ms per
segment, and the model's RTF where the model ran. Also the CPU model and
whether it has VNNI (compare speeds only within one run).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from task_bench_common import DEFAULT_STORY, setup_django


def run_batch(project, force: bool = False) -> dict:
    """Run one generate-all batch to its end; return wall s, CPU s, audio s and the status."""
    from api.services.audio_generation import start_project_audio_generation
    from api.tasks import TERMINAL_STATUSES, get_task_manager

    manager = get_task_manager()
    cpu_before = time.process_time()
    code, body = start_project_audio_generation(project, force_regenerate=force)
    assert code == 202, body
    while True:
        state = manager.get_task_status(body["task_id"])
        if state["status"] in TERMINAL_STATUSES:
            break
        time.sleep(0.01)
    cpu = time.process_time() - cpu_before
    assert state["status"] == "COMPLETED", state
    wall = (datetime.fromisoformat(state["completed_at"]) - datetime.fromisoformat(state["started_at"])).total_seconds()
    audio = sum(item["duration"] for item in state["completed_segments"])
    return {"wall": wall, "cpu": cpu, "audio": audio, "segments": len(state["completed_segments"])}


def segment_texts(text: str, count: int, chars: int) -> list[str]:
    """``count`` segment texts of whole sentences of ``text``, each at least ``chars`` characters."""
    import re

    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]
    segments, current = [], ""
    for sentence in sentences:
        current = f"{current} {sentence}".strip()
        if len(current) >= chars:
            segments.append(current)
            current = ""
        if len(segments) == count:
            break
    return segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--chars", type=int, default=120, help="characters per segment, at least (whole sentences)")
    parser.add_argument("--story", type=Path, default=DEFAULT_STORY)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="storyflow-cache-bench-") as folder:
        setup_django(Path(folder))
        from api.models import Project
        from api.services.story_import import import_story, parse_story_file
        from api.tasks import get_task_manager
        from core_engine import audio_cache
        from core_engine.model_loader import KokoroModelLoader

        _, text = parse_story_file(args.story.read_text(encoding="utf-8"))
        paragraphs = segment_texts(text, args.segments, args.chars)
        project = import_story(title="cache bench", text="\n\n".join(paragraphs))
        chars = sum(len(p) for p in paragraphs)
        voices = KokoroModelLoader.get_voices()
        voice_a, voice_b = voices[0], voices[1]
        KokoroModelLoader.get_session()  # load outside the timings

        from core_engine.cpu_info import cpu_info

        print(f"CPU: {cpu_info().describe()}")
        print(f"Text: {len(paragraphs)} segments, {chars} characters of {args.story.name}; voices {voice_a} / {voice_b}")
        rows = []
        for label, voice, force in (
            ("cold (voice A)", voice_a, False),
            ("voice B (model)", voice_b, False),
            ("back to A, unchanged (cache)", voice_a, False),
            ("force_regenerate A (model)", voice_a, True),
        ):
            Project.objects.filter(pk=project.pk).update(voice=voice)
            project.refresh_from_db()
            result = run_batch(project, force=force)
            rows.append((label, result))
            rtf = result["wall"] / result["audio"] if result["audio"] else float("nan")
            print(
                f"{label:32s} wall {result['wall']:8.3f} s  CPU {result['cpu']:8.3f} s  "
                f"{1000 * result['wall'] / result['segments']:9.1f} ms/segment  "
                f"audio {result['audio']:6.1f} s  RTF {rtf:.3f}"
            )
        cold, cached = rows[0][1], rows[2][1]
        print(f"unchanged regenerate vs cold: {cold['wall'] / cached['wall']:.0f}x faster "
              f"({1000 * cached['wall']:.0f} ms for {cached['segments']} segments)")
        entries = list(audio_cache.cache_dir().glob("*.wav"))
        print(f"cache: {len(entries)} entries, {sum(p.stat().st_size for p in entries) / 1e6:.1f} MB")
        get_task_manager().shutdown(wait=True)


if __name__ == "__main__":
    main()
