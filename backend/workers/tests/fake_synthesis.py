"""A fake ``tts_wrapper.synthesize`` for the scale-out tests (``STORYFLOW_WORKER_SYNTHESIZE``).

Mocks the model only (too slow for API tests; the real model runs in
``test_celery_real_model.py``): the request still crosses the broker to a real
Celery worker process and back. Chunks are the text's ". "-separated parts;
each takes ``STORYFLOW_FAKE_CHUNK_SECONDS`` (default 0.05) and is reported through
``on_progress`` like the real engine; ``STORYFLOW_FAKE_SEGMENT_SECONDS`` (default 0)
adds a sleep per segment (the scale benchmark's simulation). The audio is a 220 Hz tone, 0.05 s per
character at speed 1.0, so a test can check durations. A text containing
``FAIL`` raises ``SynthesisFailed`` (a permanent error: no retry). A text containing
``FLAKY<n>@<path>`` fails with a RuntimeError (a retried one) until it has been tried n
times, counting its tries in the file at ``path`` (shared by every worker process).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np

from core_engine.sentence_cues import Cue
from core_engine.tts_wrapper import SAMPLE_RATE, Synthesis, SynthesisFailed

SECONDS_PER_CHAR = 0.05
variant = "fake"
model_sha256 = None


def report_fake_chunks(text: str, on_progress=None, chunk_seconds: float = 0.0) -> list[str]:
    """The fake engines' chunks of ``text`` (its ". "-separated parts), each taking ``chunk_seconds``
    and reported as the real engine reports them: ``on_progress(0, n, 0, chars)`` first, then
    ``(i, n, chars_done, chars)`` after chunk i. Shared with the API tests' ``FakeEngine``."""
    chunks = [part for part in text.split(". ") if part]
    total = sum(len(part) for part in chunks)
    done = 0
    if on_progress:
        on_progress(0, len(chunks), 0, total)
    for index, part in enumerate(chunks, start=1):
        if chunk_seconds:
            time.sleep(chunk_seconds)
        done += len(part)
        if on_progress:
            on_progress(index, len(chunks), done, total)
    return chunks


def synthesize(text, voice_id, speed, on_progress=None, *, lexicon=None, target_tokens=None) -> Synthesis:
    """``Synthesis`` of a tone as long as ``text`` would be spoken (see the module docstring)."""
    time.sleep(float(os.environ.get("STORYFLOW_FAKE_SEGMENT_SECONDS", "0")))
    chunks = report_fake_chunks(text, on_progress, float(os.environ.get("STORYFLOW_FAKE_CHUNK_SECONDS", "0.05")))
    total = sum(len(part) for part in chunks)
    if "FAIL" in text:
        raise SynthesisFailed("fake engine failure")
    flaky = re.search(r"FLAKY(\d+)@(\S+)", text)
    if flaky:
        counter = Path(flaky.group(2))
        tries = int(counter.read_text() or "0") + 1 if counter.exists() else 1
        counter.write_text(str(tries))
        if tries < int(flaky.group(1)):
            raise RuntimeError(f"fake transient failure, try {tries}")
    seconds = max(0.1, len(text) * SECONDS_PER_CHAR / float(speed))
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    cues, start = [], 0.0
    for part in chunks:
        end = start + seconds * len(part) / total
        cues.append(Cue(start, end, part.strip()))
        start = end
    return Synthesis(audio=audio, sample_rate=SAMPLE_RATE, cues=cues, exact_cues=False)
