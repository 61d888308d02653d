#!/usr/bin/env python
"""Compare the float32 (dequantized) Kokoro-82M variant with the bundled int8 model.

Usage (from the repository root)::

    .venv/bin/python bench/variant_snr.py [--float PATH] [--story PATH] [--sentences 5] [--rounds 2]

Without ``--float`` the float32 model is made from ``models/kokoro-v1.0.int8.onnx``
with ``core_engine.dequantize.dequantize_model`` into a temporary folder (nothing is
written into models/). For ~5 English sentences from ``../shared/data/stories/``
(public-domain text; hard-coded sentences when the folder is missing) it prints:

* the CPU model name (/proc/cpuinfo) and whether avx512_vnni / avx_vnni is present;
* the float file's sha256 and size;
* per sentence, with the same phonemes, voice (the first in voices_ja.npz) and speed 1.0,
  untrimmed audio from ``Kokoro.create(..., trim=False)``: both lengths (samples at
  24 kHz), the waveform SNR in dB of float vs int8 on the common prefix (int8 as the
  signal, the difference as noise), the SNR of STFT magnitudes (n_fft 1024, hop 256)
  on the common prefix, and the predicted durations (``/encoder/Round_output_0``,
  frames of 600 samples) of both: total frames and how many phonemes differ, and
  both SNRs again on the prefix before the first phoneme whose duration differs
  (where the two variants are still time-aligned);
* the RTF (wall seconds / audio seconds; < 1 is faster than real time) of each variant
  through ``Kokoro.create`` with trimming (the app's path), measured alternately in
  one run (int8 and float take turns, the order flipping every round), median and
  min over all runs, plus the ratio float / int8.

Sessions: ``onnxruntime.InferenceSession(path, opts)`` with ``opts.enable_mem_pattern
= False``, wrapped with ``kokoro_onnx.Kokoro.from_session``. Durations come from a
second pair of sessions whose graphs expose the Round tensor as an extra output.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from core_engine.dequantize import dequantize_model  # noqa: E402

from kokoro_onnx import Kokoro  # noqa: E402

MODELS = ROOT / "models"
INT8 = MODELS / "kokoro-v1.0.int8.onnx"
VOICES = MODELS / "voices_ja.npz"
STORIES = ROOT.parent / "shared" / "data" / "stories"
ROUND = "/encoder/Round_output_0"
SAMPLE_RATE = 24000
HOP = 600  # samples per duration frame at 24 kHz
FALLBACK = [  # Grimm, "Rumpelstiltskin" (public domain)
    "By the side of a wood, in a country a long way off, ran a fine stream of water.",
    "The miller's house was close by, and the miller had a very beautiful daughter.",
    "Now this king was very fond of money.",
    "Then the little man went in and sat himself down to the wheel.",
    "And so it went on till the morning, when all the straw was spun.",
]


def cpu_info() -> tuple[str, list[str]]:
    name, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return name, [f for f in ("avx512_vnni", "avx_vnni") if f in flags]


def sentences(story: Path | None, count: int) -> tuple[list[str], str]:
    paths = [story] if story else sorted(STORIES.glob("grimm_*.txt")) + sorted(STORIES.glob("*.txt"))
    for path in paths:
        if path and path.exists():
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                     if ln.strip() and not ln.startswith(("#", "Source:"))]
            text = " ".join(" ".join(lines).split()).replace("\u2019", "'")
            found = [s for s in re.split(r"(?<=[.!?])\s+", text) if 30 <= len(s) <= 160]
            if len(found) >= count:
                return found[:count], str(path)
    return FALLBACK[:count], "hard-coded (Grimm, Rumpelstiltskin)"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def options() -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.enable_mem_pattern = False
    return opts


def tap_session(path: Path) -> ort.InferenceSession:
    model = onnx.load(str(path))
    model.graph.output.append(onnx.ValueInfoProto(name=ROUND))
    return ort.InferenceSession(model.SerializeToString(), options(), providers=["CPUExecutionProvider"])


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    ref, test = ref.astype(np.float64), test.astype(np.float64)
    noise = np.sum((ref - test) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


def magnitude(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)
    return np.abs(np.fft.rfft(frames, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float", dest="float_path", type=Path, help="float32 model (default: made now)")
    parser.add_argument("--story", type=Path)
    parser.add_argument("--sentences", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per sentence and variant")
    args = parser.parse_args()

    name, vnni = cpu_info()
    print(f"CPU: {name}; VNNI: {', '.join(vnni) if vnni else 'none'}; onnxruntime {ort.__version__}")

    with tempfile.TemporaryDirectory(prefix="variant_snr_") as tmp:
        float_path = args.float_path
        if float_path is None:
            float_path = Path(tmp) / "kokoro-v1.0.fp32.onnx"
            t0 = time.perf_counter()
            info = dequantize_model(INT8, float_path)
            counts = {k: v for k, v in info.items() if k not in ("sha256", "size_bytes")}
            print(f"dequantized in {time.perf_counter() - t0:.1f} s: {counts}")
        print(f"float32 model: {float_path.name} sha256 {sha256(float_path)} size {float_path.stat().st_size} bytes")
        print(f"int8 model:    {INT8.name} sha256 {sha256(INT8)} size {INT8.stat().st_size} bytes")

        variants = {"int8": INT8, "fp32": float_path}
        kokoro = {k: Kokoro.from_session(ort.InferenceSession(str(p), options()), str(VOICES))
                  for k, p in variants.items()}
        taps = {k: tap_session(p) for k, p in variants.items()}
        voices = np.load(VOICES)
        voice = list(voices.keys())[0]
        texts, source = sentences(args.story, args.sentences)
        print(f"voice {voice}, speed 1.0, sentences from {source}")
        tok = kokoro["int8"].tokenizer

        print("\n#  chars phon | samples int8 / fp32 | SNR wave dB | SNR |STFT| dB | frames int8 / fp32, phonemes differing "
              "| aligned prefix (before the first differing duration): wave / |STFT| SNR dB")
        for i, text in enumerate(texts, 1):
            phonemes = " ".join(tok.phonemize(text, "en-us").split())
            tokens = tok.tokenize(phonemes)
            audio = {k: kokoro[k].create(phonemes, voice=voice, speed=1.0, is_phonemes=True, trim=False)[0]
                     for k in variants}
            a, b = audio["int8"], audio["fp32"]
            n = min(len(a), len(b))
            style = np.asarray(voices[voice][min(len(tokens), len(voices[voice])) - 1], dtype=np.float32)
            feed = {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style.reshape(1, 256),
                    "speed": np.array([1.0], dtype=np.float32)}
            dur = {k: taps[k].run([ROUND], feed)[0].ravel() for k in variants}
            differ = int(np.sum(dur["int8"] != dur["fp32"]))
            first = np.nonzero(dur["int8"] != dur["fp32"])[0]
            # samples before the first phoneme whose duration differs: both variants are time-aligned there
            aligned = min(n, int(dur["int8"][: first[0] if len(first) else len(dur["int8"])].sum()) * HOP)
            if aligned >= 4096:
                al = f"{snr_db(a[:aligned], b[:aligned]):6.2f} / {snr_db(magnitude(a[:aligned]), magnitude(b[:aligned])):6.2f}"
            else:
                al = "  (too short)  "
            same = "same length" if len(a) == len(b) else "LENGTHS DIFFER, common prefix"
            print(f"{i}  {len(text):4d} {len(tokens):4d} | {len(a):7d} / {len(b):7d} ({same}) | "
                  f"{snr_db(a[:n], b[:n]):6.2f} | {snr_db(magnitude(a[:n]), magnitude(b[:n])):6.2f} | "
                  f"{int(dur['int8'].sum())} / {int(dur['fp32'].sum())}, {differ} of {len(dur['int8'])} | "
                  f"{aligned / SAMPLE_RATE:5.2f} s: {al}")
            print(f"   {text}")

        for k in variants:  # warm up the app path once each
            kokoro[k].create(texts[0], voice=voice, speed=1.0)
        rtf: dict[str, list[float]] = {k: [] for k in variants}
        order = list(variants)
        for r in range(args.rounds):
            for text in texts:
                for k in order:
                    t0 = time.perf_counter()
                    samples, sr = kokoro[k].create(text, voice=voice, speed=1.0)
                    rtf[k].append((time.perf_counter() - t0) / (len(samples) / sr))
                order.reverse()
        print(f"\nRTF via Kokoro.create (trimmed), {args.rounds} rounds x {len(texts)} sentences, alternating:")
        for k in variants:
            print(f"  {k:5s} median {statistics.median(rtf[k]):.3f}  min {min(rtf[k]):.3f}  mean {statistics.mean(rtf[k]):.3f}")
        print(f"  fp32 / int8 median ratio {statistics.median(rtf['fp32']) / statistics.median(rtf['int8']):.2f}")


if __name__ == "__main__":
    main()
