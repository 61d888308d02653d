"""Fixtures for the audiobook builder's tests: synthetic segment WAVs with known sentence cues,
a 3-chapter book made of them, and helpers that decode written files with PyAV."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from audiobook import Cue, Pacing, SegmentAudio

RATE = 24_000


def speech_like(seconds: float, seed: int, level: float = 0.3) -> np.ndarray:
    """A burst that behaves like a spoken phrase for the meters: harmonics of a 140 Hz voice plus
    noise, under a 4 Hz syllable envelope. Starts at full phase (sample 0 is not zero)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * RATE))) / RATE
    voice = sum(np.cos(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.cos(2 * np.pi * 4.0 * t)
    signal = (voice / 2.3 + 0.15 * rng.standard_normal(t.size)) * envelope
    return (level * signal / np.max(np.abs(signal))).astype(np.float32)


@dataclass
class Book:
    """A synthetic book: its segments (as the export service would pass them) and its pacing."""

    segments: list[SegmentAudio]
    pacing: Pacing
    titles: list[str]

    def expected_duration(self) -> float:
        """lead_in + segments + pauses + tail, from the inputs (not from the plan)."""
        pauses = sum(
            self.pacing.chapter_pause if s.chapter_title else self.pacing.paragraph_pause for s in self.segments[1:]
        )
        return self.pacing.lead_in + sum(s.duration for s in self.segments) + pauses + self.pacing.tail

    def expected_segment_start(self, index: int) -> float:
        """Where segment ``index``'s audio starts in the book, from the inputs."""
        start = self.pacing.lead_in
        for previous, segment in zip(self.segments[:index], self.segments[1:index + 1]):
            start += previous.duration
            start += self.pacing.chapter_pause if segment.chapter_title else self.pacing.paragraph_pause
        return start


def write_segment(path: Path, sentences: list[tuple[str, float]], seed: int, level: float = 0.3,
                  gap: float = 0.25, lead_silence: float = 0.0, extra_samples: int = 0) -> SegmentAudio:
    """A 24 kHz mono PCM_16 WAV with one speech-like burst per sentence, ``gap`` s apart.

    Returns its SegmentAudio with the true cues and the duration rounded to 10 ms like the
    engine's (so the file differs from it by a few samples); ``extra_samples`` adds that many
    zero samples more at the end.
    """
    parts, cues, position = [], [], 0.0
    if lead_silence:
        parts.append(np.zeros(int(round(lead_silence * RATE)), dtype=np.float32))
        position = lead_silence
    for number, (text, seconds) in enumerate(sentences):
        if number:
            parts.append(np.zeros(int(round(gap * RATE)), dtype=np.float32))
            position += gap
        parts.append(speech_like(seconds, seed * 100 + number, level))
        cues.append(Cue(start=round(position, 3), end=round(position + seconds, 3), text=text))
        position += seconds
    if extra_samples:
        parts.append(np.zeros(extra_samples, dtype=np.float32))
    audio = np.concatenate(parts)
    sf.write(str(path), audio, RATE, subtype="PCM_16")
    return SegmentAudio(segment_id=path.stem, path=path, duration=round(audio.size / RATE, 2), cues=cues)


@pytest.fixture
def make_book(tmp_path) -> Callable[..., Book]:
    """Factory: ``make_book(levels=None, pacing=Pacing())`` → a 3-chapter, 6-segment Book in tmp_path/wavs.

    Chapters "Chapter One" (segments 0–1), "Chapter Two" (2–3), "Chapter Three" (4–5); each segment
    has two sentences. ``levels`` optionally gives each segment's peak level (linear).
    """

    def make(levels: list[float] | None = None, pacing: Pacing = Pacing(), folder: str = "wavs") -> Book:
        wavs = tmp_path / folder
        wavs.mkdir(exist_ok=True)
        titles = ["Chapter One", "Chapter Two", "Chapter Three"]
        segments = []
        for index in range(6):
            segment = write_segment(
                wavs / f"seg{index}.wav",
                [(f"Sentence {index}a is spoken here.", 0.9 + 0.1 * index), (f"Sentence {index}b ends it.", 0.7)],
                seed=index,
                level=(levels[index] if levels else 0.3),
            )
            title = titles[index // 2] if index % 2 == 0 else None
            segments.append(SegmentAudio(segment.segment_id, segment.path, segment.duration, segment.cues, title))
        return Book(segments=segments, pacing=pacing, titles=titles)

    return make


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """An empty folder for the export (made by export_book itself)."""
    return tmp_path / "exports"


def decode(source) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a path or binary file object with PyAV → (mono float64 samples, rate)."""
    import av

    with av.open(source if hasattr(source, "read") else str(source)) as container:
        stream = container.streams.audio[0]
        chunks = []
        for frame in container.decode(stream):
            audio = frame.to_ndarray().astype(np.float64)
            if frame.format.is_planar:
                chunks.append(audio.mean(axis=0))
            else:
                chunks.append(audio.reshape(-1, frame.layout.nb_channels).mean(axis=1))
        if stream.codec_context.format.name.startswith("s16"):
            scale = 32768.0
        else:
            scale = 1.0
        return np.concatenate(chunks) / scale, stream.codec_context.sample_rate


def decoded_duration(path: Path | str) -> float:
    """Seconds of audio PyAV decodes from ``path``."""
    samples, rate = decode(path)
    return samples.size / rate
