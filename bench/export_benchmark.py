#!/usr/bin/env python
"""Benchmark the audiobook builder: wall time and peak memory to export a long book per format.

Usage (from the repository root)::

    .venv/bin/python bench/export_benchmark.py [--minutes 60] [--segment-seconds 20] [--chapters 12]
        [--formats m4b,mp3,wav,acx] [--wavs DIR]

Builds a book of ``--minutes`` of segment WAVs (24 kHz mono PCM_16, like the engine's) in a
temporary folder: synthetic speech-like segments (voice harmonics and noise under a syllable
envelope, sentence gaps, brought to -18 LUFS like the engine's output), or, with ``--wavs DIR``,
the WAVs in DIR (e.g. real Kokoro segments) repeated until the book is long enough. Every
``--chapters``-th part starts a chapter; each segment has one cue per 4 s. Then, for each
format, a fresh child process plans and exports the book with ``audiobook.export_book`` and
reports: wall seconds, speed (audio seconds per wall second), peak RSS of that child (MB;
VmHWM) and its peak RSS before the export (imports loaded), output size and duration.
No Django: the builder does not need it.

The first lines printed name the CPU (model name, VNNI or not, cores): quote a figure with that
line and with the other formats' rows of the same run (the "wav" row, PCM with no lossy encoder,
is the baseline the others are compared with).
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

RATE = 24_000


def speech_like(seconds: float, rng) -> "np.ndarray":
    """Synthetic phrase: 5 harmonics of a gliding 110–180 Hz voice plus noise, 4 Hz syllables."""
    import numpy as np

    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 110 + 70 * rng.random() + 20 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = np.clip(np.sin(2 * np.pi * (3.5 + rng.random()) * t), 0, None) ** 0.7
    return ((voice + 0.05 * rng.standard_normal(t.size)) * syllables).astype(np.float32)


def build_book(folder: Path, minutes: float, segment_seconds: float, chapters: int, wavs: Path | None) -> Path:
    """Write the segment WAVs and a manifest.json; return the manifest's path."""
    import numpy as np
    import soundfile as sf

    from core_engine.audio_utils import normalize_loudness

    rng = np.random.default_rng(8)
    sources = sorted(wavs.glob("*.wav")) if wavs else []
    if wavs and not sources:
        raise SystemExit(f"no .wav files in {wavs}")
    total = minutes * 60
    segments, made = [], 0.0
    index = 0
    while made < total or index < chapters:
        path = folder / f"seg{index:05d}.wav"
        if sources:
            source = sources[index % len(sources)]
            path = source  # reuse the file; the builder only reads it
            frames = sf.info(str(source)).frames
        else:
            parts = []
            length = 0.0
            while length < segment_seconds:
                phrase = 1.5 + 2.5 * rng.random()
                parts += [speech_like(phrase, rng), np.zeros(int(0.3 * RATE), np.float32)]
                length += phrase + 0.3
            audio = normalize_loudness(np.concatenate(parts), RATE)
            sf.write(str(path), audio, RATE, subtype="PCM_16")
            frames = audio.size
        duration = round(frames / RATE, 2)
        cues = [{"start": s, "end": min(duration, s + 3.9), "text": f"Sentence {index}.{n} of the benchmark."}
                for n, s in enumerate(np.arange(0, duration - 0.5, 4.0).round(3).tolist())]
        segments.append({"id": f"s{index}", "path": str(path), "duration": duration, "cues": cues, "title": None})
        made += duration
        index += 1
    per_chapter = math.ceil(len(segments) / chapters)
    for index in range(0, len(segments), per_chapter):
        segments[index]["title"] = f"Chapter {index // per_chapter + 1}"
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(segments))
    return manifest


def cpu_description() -> str:
    """``"<model name>, VNNI: <flags>|none, <n> cores"`` from /proc/cpuinfo (or ``platform`` elsewhere)."""
    import os
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, VNNI: unknown, {os.cpu_count()} cores"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.machine())
    vnni = sorted({flag for flag in info.split() if flag in ("avx512_vnni", "avx_vnni")})
    return f"{model}, VNNI: {' '.join(vnni) or 'none'}, {len(os.sched_getaffinity(0))} cores"


def peak_rss_mb() -> float:
    """This process's peak resident set size, MB: VmHWM from /proc (reset by exec, unlike
    ru_maxrss, which a child inherits from the parent it was forked from), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(manifest: Path, fmt: str, out_dir: Path) -> None:
    """Export the book in one format and print a JSON line of measurements."""
    import av  # noqa: F401  (loaded lazily by the builder; loaded here so "before" counts it)
    import pyloudnorm  # noqa: F401

    from audiobook import BookMetadata, Cue, Pacing, SegmentAudio, export_book, plan_book

    rss_before = peak_rss_mb()
    segments = [
        SegmentAudio(s["id"], Path(s["path"]), s["duration"], [Cue(c["start"], c["end"], c["text"]) for c in s["cues"]],
                     s["title"])
        for s in json.loads(manifest.read_text())
    ]
    plan = plan_book(segments, Pacing(), default_chapter_title="Benchmark")
    started = time.perf_counter()
    result = export_book(plan, fmt, out_dir, f"bench-{fmt}", BookMetadata(title="Benchmark", author="StoryFlow"))
    wall = time.perf_counter() - started
    line = {
        "format": fmt,
        "audio_s": round(plan.duration, 1),
        "wall_s": round(wall, 1),
        "rtf": round(plan.duration / wall, 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "size_mb": round(result.size_bytes / 1e6, 1),
        "duration_s": round(result.duration, 2),
        "chapters": len(result.chapters),
        "cues": len(plan.cues),
    }
    if result.report:
        line["acx_passed"] = result.report["passed"]
        line["acx_rms_db"] = [f["checks"]["rms"]["value"] for f in result.report["files"]][:3]
        line["acx_peak_dbfs"] = max(f["checks"]["peak"]["value"] for f in result.report["files"])
    print(json.dumps(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--segment-seconds", type=float, default=20.0)
    parser.add_argument("--chapters", type=int, default=12)
    parser.add_argument("--formats", default="m4b,mp3,wav,acx")
    parser.add_argument("--wavs", type=Path, default=None, help="folder of segment WAVs to repeat")
    parser.add_argument("--child", nargs=3, metavar=("MANIFEST", "FORMAT", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return

    with tempfile.TemporaryDirectory(prefix="export-bench-") as temp:
        folder = Path(temp)
        started = time.perf_counter()
        manifest = build_book(folder, args.minutes, args.segment_seconds, args.chapters, args.wavs)
        print(f"CPU: {cpu_description()}")
        print(f"book: {args.minutes:g} min in {len(json.loads(manifest.read_text()))} segments, "
              f"{args.chapters} chapters, built in {time.perf_counter() - started:.0f} s")
        header = f"{'format':6} {'audio s':>8} {'wall s':>7} {'x real':>7} {'RSS MB':>7} {'peak MB':>8} {'size MB':>8}"
        print(header)
        for fmt in args.formats.split(","):
            out = subprocess.run([sys.executable, __file__, "--child", str(manifest), fmt, str(folder / "out")],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{fmt:6} {row['audio_s']:8.0f} {row['wall_s']:7.1f} {row['rtf']:7.0f} {row['rss_before_mb']:7.0f} "
                  f"{row['peak_rss_mb']:8.0f} {row['size_mb']:8.1f}   " + json.dumps(
                      {k: v for k, v in row.items() if k not in ("format", "audio_s", "wall_s", "rtf", "rss_before_mb",
                                                                  "peak_rss_mb", "size_mb")}))


if __name__ == "__main__":
    main()
