#!/usr/bin/env python
"""Benchmark StoryFlow's TTS pipeline on a real story.

Usage (from the repository root)::

    .venv/bin/python bench/tts_benchmark.py [--story PATH] [--chars N] [--voice ID] [--speed X] [--no-timings]
    .venv/bin/python bench/tts_benchmark.py --compare ROUNDS [--baseline-rev REV] [--chars N] ...

Synthesizes the first N characters (default 3000, cut back to a word boundary)
of ``../shared/data/stories/poe_tell_tale_heart.txt`` through
``core_engine.tts_wrapper.generate_audio`` — the same code path the API uses —
into a temporary folder, and prints: the CPU (model name, VNNI or not, usable cores;
every figure below is for that CPU), model variant, model load time, whether the
session reports per-token durations (exact sentence cues), characters, audio
seconds, wall seconds, RTF (wall / audio; < 1 is faster than real time),
characters per second, chunk count, mean tokens per chunk, sentence cues, and peak
RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on Linux, shown in MB).

``--no-timings`` loads the graph as it is, without the duration output the loader
adds (``KokoroModelLoader.expose_durations = False``): cues are then estimated.

``--compare ROUNDS`` measures a baseline against the current engine in one run:
ROUNDS rounds, each running both variants in fresh processes (alternating which
goes first, so drift on a shared machine hits both), then prints the medians and
minima (the least disturbed run on a shared machine) and the ratios current / baseline,
under the CPU line. The baseline is the current code with
``--no-timings``, or, with ``--baseline-rev REV``, ``backend/core_engine`` as of git
revision REV (extracted with ``git archive`` into a temporary folder).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORY = REPO.parent / "shared" / "data" / "stories" / "poe_tell_tale_heart.txt"
#: Measurements compared by --compare: (key, label, unit).
COMPARED = (
    ("load_seconds", "load time", "s"),
    ("wall_seconds", "synthesis wall", "s"),
    ("rtf", "RTF (wall/audio)", ""),
    ("peak_rss_mb", "peak RSS", "MB"),
    ("audio_seconds", "audio", "s"),
)


def setup_django(engine_dir: Path | None = None) -> None:
    """Put backend/ on sys.path (and ``engine_dir``, holding another core_engine, before it)
    and point Django at storyflow.settings. The apps are not loaded: the engine reads only
    settings, and the current ``api`` models would not import beside an older core_engine."""
    sys.path.insert(0, str(REPO / "backend"))
    if engine_dir is not None:
        sys.path.insert(0, str(engine_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")


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


def cpu_description() -> str:
    """``"<model name>, <VNNI flags or 'no VNNI'>, <n> cores"`` of this machine (the int8 model's
    speed depends on VNNI), e.g. ``"AMD EPYC, avx512_vnni, 2 cores"``, from this checkout's
    ``core_engine/cpu_info.py``, loaded by path: a ``--baseline-rev`` child has an older
    ``core_engine`` first on sys.path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("storyflow_cpu_info", REPO / "backend" / "core_engine" / "cpu_info.py")
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    info = module.cpu_info()
    vnni = [flag for flag in info.flags if flag in ("avx512_vnni", "avx_vnni")]
    return f"{info.model_name}, {' '.join(vnni) or 'no VNNI'}, {info.cores} cores"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(args) -> dict:
    """Load the model and synthesize the story once in this process; return the measurements.

    Raises:
        SystemExit: no model installed, or synthesis failed.
    """
    setup_django(args.engine_dir)
    from core_engine.model_loader import KokoroModelLoader
    from core_engine.tts_wrapper import KokoroEngine, generate_audio

    files = KokoroModelLoader.resolve_model_files()
    if files is None:
        print("No model installed: run `.venv/bin/python manage.py install_model` first.", file=sys.stderr)
        raise SystemExit(2)
    if args.no_timings:
        KokoroModelLoader.expose_durations = False
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
        raise SystemExit(1)
    return {
        "cpu": cpu_description(),
        "model": f"{files.model_path.name} ({files.variant})",
        "timings": bool(getattr(kokoro, "has_timings", False)),
        "load_seconds": load_seconds,
        "characters": len(text),
        "audio_seconds": result["duration"],
        "wall_seconds": wall,
        "rtf": wall / result["duration"],
        "chunks": progress[-1][1] if progress else len(plan),
        "mean_tokens": sum(c.tokens for c in plan) / max(1, len(plan)),
        "max_tokens": max((c.tokens for c in plan), default=0),
        "cues": len(result["cues"]) if "cues" in result else None,  # engines before sentence cues have none
        "peak_rss_mb": peak_rss_mb(),
    }


def print_report(args, m: dict) -> None:
    rows = [
        ("CPU", m["cpu"]),
        ("model", m["model"]),
        ("voice / speed", f"{args.voice} / {args.speed}"),
        ("load time", f"{m['load_seconds']:.2f} s"),
        ("token timings", "yes (exact cues)" if m["timings"] else "no (estimated cues)"),
        ("characters", f"{m['characters']}"),
        ("audio", f"{m['audio_seconds']:.2f} s"),
        ("wall", f"{m['wall_seconds']:.2f} s"),
        ("RTF (wall/audio)", f"{m['rtf']:.3f}"),
        ("chars per second", f"{m['characters'] / m['wall_seconds']:.1f}"),
        ("chunks", f"{m['chunks']}"),
        ("mean tokens/chunk", f"{m['mean_tokens']:.1f}"),
        ("max tokens/chunk", f"{m['max_tokens']}"),
        ("sentence cues", "n/a (engine without cues)" if m["cues"] is None else f"{m['cues']}"),
        ("peak RSS", f"{m['peak_rss_mb']:.0f} MB"),
    ]
    print(f"StoryFlow TTS benchmark: {args.story.name}")
    for name, value in rows:
        print(f"  {name:<18} {value}")


def extract_engine(rev: str, into: Path) -> Path:
    """``backend/core_engine`` as of git revision ``rev``, extracted under ``into``; returns the folder
    to put on sys.path (it holds a ``core_engine`` package)."""
    archive = into / "engine.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", rev, "backend/core_engine"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "backend"


def child_run(args, baseline: bool, engine_dir: Path | None) -> dict:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--json",
        "--story", str(args.story), "--chars", str(args.chars), "--voice", args.voice, "--speed", str(args.speed),
    ]
    if baseline and engine_dir is not None:
        command += ["--engine-dir", str(engine_dir)]
    elif baseline:
        command.append("--no-timings")
    return run_json_child(command)


def run_json_child(command: list[str]) -> dict:
    """Run a benchmark child process from the repository root; its last stdout line, as JSON.
    A failing child stops the benchmark with the command and the tail of its stderr."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({' '.join(command)}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args) -> int:
    """Alternate baseline and current runs in fresh processes; print medians and current/baseline ratios."""
    print(f"CPU: {cpu_description()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="storyflow-bench-engine-") as tmp:
        engine_dir = extract_engine(args.baseline_rev, Path(tmp)) if args.baseline_rev else None
        runs: dict[str, list[dict]] = {"baseline": [], "current": []}
        for round_ in range(args.compare):
            order = ("baseline", "current") if round_ % 2 == 0 else ("current", "baseline")
            for variant in order:
                result = child_run(args, variant == "baseline", engine_dir)
                runs[variant].append(result)
                print(
                    f"round {round_ + 1} {variant:<8}: load {result['load_seconds']:.2f} s, wall "
                    f"{result['wall_seconds']:.2f} s, RTF {result['rtf']:.3f}, peak RSS {result['peak_rss_mb']:.0f} MB, "
                    f"timings {result['timings']}, cues {result['cues']}",
                    flush=True,
                )
    baseline_name = f"core_engine@{args.baseline_rev}" if args.baseline_rev else "current code, --no-timings"
    print(f"\nStoryFlow TTS comparison: {args.story.name}, {runs['current'][0]['characters']} characters, "
          f"{args.compare} rounds; baseline = {baseline_name}")
    for cpu in sorted({r["cpu"] for variant in runs.values() for r in variant}):
        print(f"  CPU: {cpu}")
    print(f"  {'':<22} {'baseline':>11} {'current':>11} {'current/baseline':>13}")
    for key, label, unit in COMPARED:
        for name, pick in (("median", statistics.median), ("min", min)):
            base = pick(r[key] for r in runs["baseline"])
            cur = pick(r[key] for r in runs["current"])
            print(f"  {label + ' ' + name:<22} {base:>9.3f}{unit:<2} {cur:>9.3f}{unit:<2} {cur / base:>12.3f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--story", type=Path, default=DEFAULT_STORY, help="UTF-8 text file")
    parser.add_argument("--chars", type=int, default=3000, help="characters to synthesize (default 3000)")
    parser.add_argument("--voice", default="jf_alpha")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--no-timings", action="store_true", help="load the graph without the duration output")
    parser.add_argument("--compare", type=int, metavar="ROUNDS", help="compare a baseline with the current engine")
    parser.add_argument("--baseline-rev", metavar="REV", help="with --compare: baseline core_engine at git REV")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one JSON line (compare's child)
    parser.add_argument("--engine-dir", type=Path, help=argparse.SUPPRESS)  # folder holding another core_engine
    args = parser.parse_args(argv)

    if args.compare:
        return compare(args)
    measurements = measure(args)
    if args.json:
        print(json.dumps(measurements))
    else:
        print_report(args, measurements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
