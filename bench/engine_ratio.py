#!/usr/bin/env python
"""Bare kokoro-onnx vs StoryFlow's engine on the same text, in one run (issue 10, item 5).

Usage (from the repository root)::

    .venv/bin/python bench/engine_ratio.py [--story PATH] [--chars 1200] [--rounds 2] [--voice jf_alpha] [--json]
    .venv/bin/python bench/engine_ratio.py --sessions [--threads 2] [--json]

Default mode: takes the first ``--chars`` characters (default 1200, cut at a word
boundary) of a story from ``../shared/data/stories/`` and, for ``--rounds`` rounds
(default 2, alternating which engine goes first), runs each engine in its own fresh
subprocess:

* ``bare``: ``kokoro_onnx.Kokoro(model_path, voices_path).create(text, voice, speed=1.0, lang="en-us")``;
* ``storyflow``: ``core_engine.tts_wrapper.synthesize(text, voice, 1.0)`` (Django settings
  configured as in ``bench/tts_benchmark.py``, apps not loaded), with the variant and
  session layout the engine calibration chose for this CPU, and on VNNI CPUs the
  int8 convolutions as u8 x s8 GEMMs (``core_engine/conv_gemm.py``). Each run prints both.
  The calibration (first use on a CPU; stored in models/) runs before the rounds in
  its own subprocess; its time and peak RSS are printed apart from the rounds'.

For each run it prints model load time (excluded from RTF), wall seconds of synthesis,
audio seconds, RTF (= wall / audio) and the subprocess's peak RSS (``ru_maxrss``).
Then the ratio bare RTF / StoryFlow RTF (> 1 means StoryFlow is faster), medians over
rounds, the CPU (/proc/cpuinfo model name, avx512_vnni / avx_vnni, cores) and the
issue's goals: ratio >= 1.5 on a 2-core AVX2 machine, >= 1.3 on a VNNI machine, peak
RSS <= 1 GB. Absolute times swing between machines and with load: compare within a run.

AVX2 code path on a CPU that has AVX-512/VNNI: ``bench/cpuid_mask/run .venv/bin/python
bench/engine_ratio.py`` hides them from CPUID, so onnxruntime runs its AVX2 kernels
(and the calibration, keyed by the flags CPUID shows, is that of an AVX2 CPU).

``--sessions`` mode (item 2's question, measurement only): the same 12 sentences (each cut to 160 chars) of the
story, phonemized up front, synthesized by (a) one onnxruntime session with
``intra_op_num_threads=--threads`` running them serially, and (b) ``--threads`` sessions
with ``intra_op_num_threads=1`` each, the sentences split round-robin across that many
Python threads (``Kokoro.from_session``). Each configuration runs in its own subprocess;
prints both wall times and the ratio (a / b; > 1 means N sessions x 1 thread is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tts_benchmark import REPO, cpu_description, load_story, peak_rss_mb, run_json_child, setup_django  # noqa: E402

STORY_DIR = REPO.parent / "shared" / "data" / "stories"
DEFAULT_STORY = STORY_DIR / "andersen_emperors_new_clothes.txt"
MODEL = REPO / "models" / "kokoro-v1.0.int8.onnx"
VOICES = REPO / "models" / "voices_ja.npz"
GOAL_RATIO_AVX2, GOAL_RATIO_VNNI, GOAL_RSS_MB = 1.5, 1.3, 1024.0


def has_vnni(cpu: str) -> bool:
    """Whether ``cpu_description()`` names a VNNI flag (it lists them, or says "no VNNI")."""
    return "vnni" in cpu and "no VNNI" not in cpu


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------ children
def child_engine(args) -> dict:
    text = load_story(args.story, args.chars)
    if args.engine == "bare":
        import kokoro_onnx

        started = time.perf_counter()
        kokoro = kokoro_onnx.Kokoro(str(MODEL), str(VOICES))
        load = time.perf_counter() - started
        started = time.perf_counter()
        audio, rate = kokoro.create(text, voice=args.voice, speed=1.0, lang="en-us")
        wall = time.perf_counter() - started
        audio_seconds = len(audio) / rate
    elif args.engine == "calibrate":
        setup_django()
        from core_engine.model_loader import KokoroModelLoader

        needed = KokoroModelLoader.needs_calibration()
        started = time.perf_counter()
        calibration = KokoroModelLoader.ensure_calibrated()
        return {"engine": "calibrate", "ran": needed, "seconds": time.perf_counter() - started,
                "peak_rss_mb": peak_rss_mb(),
                "calibration": calibration.as_dict() if calibration is not None else None}
    else:
        setup_django()
        from core_engine.model_loader import KokoroModelLoader, conv_gemm_applies
        from core_engine.tts_wrapper import synthesize

        started = time.perf_counter()
        KokoroModelLoader.ensure_calibrated()  # stored by the calibrate child before the rounds
        KokoroModelLoader.get_sessions()
        load = time.perf_counter() - started
        started = time.perf_counter()
        result = synthesize(text, args.voice, 1.0)
        wall = time.perf_counter() - started
        audio_seconds = result.duration
        files, layout = KokoroModelLoader.loaded_files(), KokoroModelLoader.loaded_layout()
        return {"engine": args.engine, "characters": len(text), "load_seconds": load, "wall_seconds": wall,
                "audio_seconds": audio_seconds, "rtf": wall / audio_seconds, "peak_rss_mb": peak_rss_mb(),
                "variant": files.variant + (", convs as u8 x s8 GEMM" if conv_gemm_applies(files) else ""),
                "layout": layout.label}
    return {"engine": args.engine, "characters": len(text), "load_seconds": load, "wall_seconds": wall,
            "audio_seconds": audio_seconds, "rtf": wall / audio_seconds, "peak_rss_mb": peak_rss_mb(),
            "variant": "bundled-int8 (bare)", "layout": "kokoro-onnx default"}


def sentences_of(args, count: int = 12) -> list[str]:
    import re

    text = load_story(args.story, 20000)
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.replace("\n", " ")) if len(s.strip()) > 20]
    return [s[:160] for s in found[:count]]  # capped so the mode stays short


def child_sessions(args) -> dict:
    import kokoro_onnx
    import onnxruntime
    from kokoro_onnx.tokenizer import Tokenizer

    tokenizer = Tokenizer()
    phonemes = [tokenizer.phonemize(s, "en-us") for s in sentences_of(args)]
    n_sessions, threads = (1, args.threads) if args.config == "one" else (args.threads, 1)

    def make():
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False
        session = onnxruntime.InferenceSession(str(MODEL), sess_options=options, providers=["CPUExecutionProvider"])
        session._model_path = str(MODEL)
        return kokoro_onnx.Kokoro.from_session(session, str(VOICES))

    started = time.perf_counter()
    engines = [make() for _ in range(n_sessions)]
    load = time.perf_counter() - started
    for engine in engines:  # warm-up (first run allocates)
        engine.create(phonemes[0], voice=args.voice, is_phonemes=True)
    results: list = [None] * len(phonemes)

    def work(worker: int) -> None:
        for i in range(worker, len(phonemes), n_sessions):
            results[i] = engines[worker].create(phonemes[i], voice=args.voice, is_phonemes=True)[0]

    started = time.perf_counter()
    if n_sessions == 1:
        work(0)
    else:
        pool = [threading.Thread(target=work, args=(w,)) for w in range(n_sessions)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    wall = time.perf_counter() - started
    audio_seconds = sum(len(a) for a in results) / 24000
    return {"config": args.config, "sessions": n_sessions, "intra_op_threads": threads, "sentences": len(phonemes),
            "load_seconds": load, "wall_seconds": wall, "audio_seconds": audio_seconds,
            "rtf": wall / audio_seconds, "peak_rss_mb": peak_rss_mb()}


# ------------------------------------------------------------------ parent
def run_child(args, *extra: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--story", str(args.story),
               "--chars", str(args.chars), "--voice", args.voice, "--threads", str(args.threads), *extra]
    return run_json_child(command)


def main_ratio(args) -> dict:
    cpu = cpu_description()
    vnni = has_vnni(cpu)
    print(f"CPU: {cpu}; load average at start: {loadavg()}", flush=True)
    print(f"text: {args.story.name}, {len(load_story(args.story, args.chars))} characters, voice {args.voice}, "
          f"speed 1.0, {args.rounds} rounds", flush=True)
    calibration = run_child(args, "--engine", "calibrate")
    if calibration["ran"]:
        print(f"engine calibration (first use on this CPU, own subprocess, not in the rounds): "
              f"{calibration['seconds']:.1f} s, peak RSS {calibration['peak_rss_mb']:.0f} MB", flush=True)
    else:
        print("engine calibration: already stored for this CPU", flush=True)
    if calibration["calibration"]:
        c = calibration["calibration"]
        print(f"  chosen {c['variant']}, {c['layout']}; chars/s per variant and layout "
              f"{c['grid_chars_per_second']}", flush=True)
    runs: dict[str, list[dict]] = {"bare": [], "storyflow": []}
    for round_ in range(args.rounds):
        order = ("bare", "storyflow") if round_ % 2 == 0 else ("storyflow", "bare")
        for engine in order:
            r = run_child(args, "--engine", engine)
            r["loadavg"] = loadavg()
            runs[engine].append(r)
            print(f"round {round_ + 1} {engine:<9}: load {r['load_seconds']:.2f} s, wall {r['wall_seconds']:.2f} s, "
                  f"audio {r['audio_seconds']:.2f} s, RTF {r['rtf']:.3f}, peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"[{r['variant']}, {r['layout']}] (loadavg after {r['loadavg']})", flush=True)
        b, s = runs["bare"][-1]["rtf"], runs["storyflow"][-1]["rtf"]
        print(f"round {round_ + 1} ratio bare RTF / StoryFlow RTF = {b / s:.3f}", flush=True)
    med = {e: statistics.median(r["rtf"] for r in rs) for e, rs in runs.items()}
    ratio = med["bare"] / med["storyflow"]
    rss = max(r["peak_rss_mb"] for r in runs["storyflow"])
    goal = GOAL_RATIO_VNNI if vnni else GOAL_RATIO_AVX2
    summary = {"cpu": cpu, "vnni": vnni, "cores": os.cpu_count(), "calibration": calibration, "runs": runs,
               "median_rtf": med,
               "ratio": ratio, "ratio_goal": goal, "ratio_met": ratio >= goal,
               "storyflow_peak_rss_mb": rss, "bare_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["bare"]),
               "rss_goal_mb": GOAL_RSS_MB, "rss_met": rss <= GOAL_RSS_MB}
    print("\nSummary")
    print(f"  CPU                     {cpu}")
    print(f"  median RTF bare         {med['bare']:.3f}")
    print(f"  median RTF StoryFlow    {med['storyflow']:.3f}")
    print(f"  ratio (bare/StoryFlow)  {ratio:.3f}  goal >= {goal} ({'VNNI' if vnni else 'AVX2, no VNNI'}): "
          f"{'MET' if summary['ratio_met'] else 'NOT MET'}")
    print(f"  peak RSS StoryFlow      {rss:.0f} MB (bare {summary['bare_peak_rss_mb']:.0f} MB)  goal <= 1024 MB: "
          f"{'MET' if summary['rss_met'] else 'NOT MET'}")
    return summary


def main_sessions(args) -> dict:
    cpu = cpu_description()
    print(f"CPU: {cpu}; load average at start: {loadavg()}", flush=True)
    one = run_child(args, "--sessions", "--config", "one")
    many = run_child(args, "--sessions", "--config", "many")
    for r in (one, many):
        print(f"{r['sessions']} session(s) x {r['intra_op_threads']} intra-op thread(s): {r['sentences']} sentences, "
              f"wall {r['wall_seconds']:.2f} s, audio {r['audio_seconds']:.2f} s, RTF {r['rtf']:.3f}, "
              f"load {r['load_seconds']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    ratio = one["wall_seconds"] / many["wall_seconds"]
    print(f"ratio wall(1 x {args.threads} threads) / wall({args.threads} sessions x 1 thread) = {ratio:.3f} "
          f"({'N sessions x 1 thread faster' if ratio > 1 else 'one session x N threads faster'}); "
          f"load average after: {loadavg()}")
    return {"cpu": cpu, "one_session": one, "many_sessions": many, "ratio": ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--story", type=Path, default=DEFAULT_STORY)
    parser.add_argument("--chars", type=int, default=1200, help="characters of the story (1000-2500; default 1200)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--voice", default="jf_alpha")
    parser.add_argument("--sessions", action="store_true", help="item 2: 1 session x N threads vs N sessions x 1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("bare", "storyflow", "calibrate"), help=argparse.SUPPRESS)
    parser.add_argument("--config", choices=("one", "many"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_sessions(args) if args.sessions else child_engine(args)))
        return 0
    if args.rounds < 2 and not args.sessions:
        parser.error("--rounds must be at least 2")
    summary = main_sessions(args) if args.sessions else main_ratio(args)
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
