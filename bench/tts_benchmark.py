#!/usr/bin/env python
"""Benchmark StoryFlow's TTS pipeline on a real story.

Usage (from the repository root)::

    .venv/bin/python bench/tts_benchmark.py [--story PATH] [--chars N] [--voice ID] [--speed X]

Synthesizes the first N characters (default 3000, cut back to a word boundary)
of ``../shared/data/stories/poe_tell_tale_heart.txt`` through
``core_engine.tts_wrapper.generate_audio`` — the same code path the API uses —
into a temporary folder, and prints: model variant, model load time, characters,
audio seconds, wall seconds, RTF (wall / audio; < 1 is faster than real time),
characters per second, chunk count, mean tokens per chunk, and peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on Linux, shown in MB).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORY = REPO.parent / "shared" / "data" / "stories" / "poe_tell_tale_heart.txt"


def setup_django() -> None:
    """Put backend/ on sys.path and configure Django with storyflow.settings."""
    sys.path.insert(0, str(REPO / "backend"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")
    import django

    django.setup()


def load_story(path: Path, chars: int) -> str:
    """The story's body (leading '# title' / 'Source:' header lines dropped), first ``chars`` characters,
    cut back to the last whitespace so no word is split."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and (not lines[0].strip() or lines[0].startswith("#") or lines[0].startswith("Source:")):
        lines.pop(0)
    text = "\n".join(lines)
    if len(text) > chars:
        cut = text[:chars]
        space = max(cut.rfind(" "), cut.rfind("\n"))
        text = cut[:space] if space > chars // 2 else cut
    return text.strip()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--story", type=Path, default=DEFAULT_STORY, help="UTF-8 text file")
    parser.add_argument("--chars", type=int, default=3000, help="characters to synthesize (default 3000)")
    parser.add_argument("--voice", default="jf_alpha")
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args(argv)

    setup_django()
    from core_engine.model_loader import KokoroModelLoader
    from core_engine.tts_wrapper import KokoroEngine, generate_audio

    files = KokoroModelLoader.resolve_model_files()
    if files is None:
        print("No model installed: run `.venv/bin/python manage.py install_model` first.", file=sys.stderr)
        return 2
    text = load_story(args.story, args.chars)

    started = time.perf_counter()
    kokoro = KokoroModelLoader.get_session()
    load_seconds = time.perf_counter() - started

    plan = KokoroEngine(kokoro).plan(text)  # same chunking generate_audio does (cheap: phonemizer only)
    progress: list[tuple[int, int, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="storyflow-bench-") as tmp:
        out = Path(tmp) / "bench.wav"
        started = time.perf_counter()
        result = generate_audio(text, args.voice, args.speed, out, on_progress=lambda *a: progress.append(a))
        wall = time.perf_counter() - started
    if not result["success"]:
        print(f"Synthesis failed: {result['error']}", file=sys.stderr)
        return 1

    audio_seconds = result["duration"]
    rows = [
        ("model", f"{files.model_path.name} ({files.variant})"),
        ("voice / speed", f"{args.voice} / {args.speed}"),
        ("load time", f"{load_seconds:.2f} s"),
        ("characters", f"{len(text)}"),
        ("audio", f"{audio_seconds:.2f} s"),
        ("wall", f"{wall:.2f} s"),
        ("RTF (wall/audio)", f"{wall / audio_seconds:.3f}"),
        ("chars per second", f"{len(text) / wall:.1f}"),
        ("chunks", f"{progress[-1][1] if progress else len(plan)}"),
        ("mean tokens/chunk", f"{sum(c.tokens for c in plan) / max(1, len(plan)):.1f}"),
        ("max tokens/chunk", f"{max((c.tokens for c in plan), default=0)}"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB"),
    ]
    print(f"StoryFlow TTS benchmark: {args.story.name}")
    for name, value in rows:
        print(f"  {name:<18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
