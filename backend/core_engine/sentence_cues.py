"""Sentence cues: where each sentence of a narration is heard in its audio.

Pure functions on numbers and arrays (no model, no files). A cue is
``Cue(start, end, text)`` in seconds from the first sample of the narration's audio.

The engine speaks a text chunk by chunk (``text_chunking.chunk_text``): one chunk may
hold several sentences, and a long sentence may be spread over several chunks. The
chunk's parts that belong to one sentence form a *group*. For each synthesized chunk:

1. **Token ranges.** The chunk's phoneme string is its groups' phonemes joined by
   single spaces, so group *k* owns tokens ``[start_k, end_k)`` of that string
   (``token_ranges``); one token is one phoneme symbol.
2. **Exact boundaries** (a model with a duration output). kokoro-onnx's
   ``create_timed`` gives each token's start and end in the chunk's trimmed audio,
   from the duration predictor's frames (one frame = 600 samples = 25 ms at 24 kHz;
   see ../shared/design/engine-facts.md). Measured on the bundled int8 graph (21
   sentence ends in Poe, jf_alpha, speed 1.0): the model puts the pause after a
   sentence into the durations of the sentence's last phoneme and its mark (the
   pause ends within 10 ms before to 50 ms after the mark's end), and the next sentence is already
   sounding 20–100 ms before its first phoneme's timed start. So the boundary is
   placed on the audio, inside the span the durations give: the longest quiet run
   (10 ms frames at least 40 dB below the chunk's loudest frame, as kokoro-onnx's
   ``pauses.py`` measures a pause; at least ``MIN_PAUSE_SECONDS`` long) that overlaps
   the span from the start of group *k*'s last spoken phoneme to the start of group
   *k+1*'s first token. Group *k* ends where that quiet run starts and group *k+1*
   begins where it ends, so the pause lies between the two cues. Without such a run
   (the model ran through the mark) both meet at the end of group *k*'s last token.
3. **Estimated boundaries** (a model without durations): the chunk's time is split
   in proportion to the groups' token counts, each boundary at the middle of the
   space token between two groups. Approximate: phonemes are not equally long.
4. The first group of a chunk starts at the chunk audio's first sample and the last
   group ends at its last sample (kokoro-onnx trims the silence around a chunk, so
   the chunk's audio is all speech).
5. **Offsets.** Each chunk's spans are shifted by where the chunk's audio starts in
   the joined narration (``audio_utils.part_offsets``: chunk lengths plus the pauses
   inserted between chunks; fades and loudness normalization do not move samples),
   and the spans of one sentence in several chunks merge into one cue
   (``merge_spans``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

#: Analysis frame for finding pauses, seconds (kokoro-onnx pauses.py uses the same 10 ms).
FRAME_SECONDS = 0.01
#: A frame this many dB below the chunk's loudest frame counts as silence (kokoro-onnx pauses.py: -40).
QUIET_DB = -40.0
#: Shortest quiet run taken as the pause between two sentences, seconds. Real sentence
#: pauses of the int8 graph measured 160–700 ms; stop closures inside words are shorter.
MIN_PAUSE_SECONDS = 0.04
#: Tokens that are not spoken sounds: the model vocabulary's punctuation and the space.
PUNCTUATION_TOKENS = frozenset(' ;:,.!?\u2014\u2026"()\u201c\u201d')


class TokenTiming(Protocol):
    """One token's time in a chunk's audio (``kokoro_onnx.sliding.Timing`` has this shape)."""

    phoneme: str
    start: float  # seconds from the chunk audio's first sample
    end: float  # seconds


@dataclass(frozen=True)
class Cue:
    """One sentence and when it is heard.

    Attributes:
        start: seconds from the first sample of the narration's audio (≥ 0).
        end: seconds, ``start <= end <=`` the audio's duration.
        text: the sentence (normalized by ``text_chunking.normalize_text``, whitespace
            collapsed to single spaces).
    """

    start: float
    end: float
    text: str

    def as_dict(self, ndigits: int = 3) -> dict:
        """``{"start", "end", "text"}`` with the times rounded to ``ndigits`` decimals (seconds)."""
        return {"start": round(self.start, ndigits), "end": round(self.end, ndigits), "text": self.text}


@dataclass(frozen=True)
class SentenceSpan:
    """Where one sentence (or the part of it in one chunk) is heard, in samples.

    Attributes:
        sentence_index: the sentence's index in the whole text (``SentencePiece.sentence_index``).
        start: first sample (inclusive).
        end: last sample (exclusive), ``start <= end``.
    """

    sentence_index: int
    start: int
    end: int


def token_ranges(token_counts: Sequence[int]) -> list[tuple[int, int]]:
    """Token ranges of groups joined by one separator token each.

    Args:
        token_counts: the phoneme count of each group, in order, each > 0.

    Returns:
        ``[(start, end), ...]`` half-open token indices into the joined string; the
        separator after group k is token ``end_k`` (so ``start_{k+1} = end_k + 1``).

    Raises:
        ValueError: a count below 1.
    """
    ranges: list[tuple[int, int]] = []
    position = 0
    for count in token_counts:
        if count < 1:
            raise ValueError(f"a group needs at least one token, got {count}")
        ranges.append((position, position + count))
        position += count + 1
    return ranges


def quiet_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Which ``FRAME_SECONDS`` frames of ``audio`` are silence.

    Args:
        audio: 1-D float array (one chunk's audio).
        sample_rate: Hz.

    Returns:
        Boolean array, one entry per whole frame (a trailing partial frame is left
        out): True where the frame's RMS is ``QUIET_DB`` or more below the loudest
        frame's. All False for silent or too-short audio.
    """
    frame = max(1, int(round(FRAME_SECONDS * sample_rate)))
    count = len(audio) // frame
    if count == 0:
        return np.zeros(0, dtype=bool)
    frames = np.asarray(audio[: count * frame], dtype=np.float64).reshape(count, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    loudest = float(rms.max())
    if loudest <= 0.0:
        return np.zeros(count, dtype=bool)
    return rms <= loudest * 10 ** (QUIET_DB / 20)


def quiet_runs(quiet: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in ``quiet`` as half-open frame ranges ``[(first, end), ...]``, in order."""
    padded = np.concatenate([[False], np.asarray(quiet, dtype=bool), [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(changes[0::2], changes[1::2])]


def _pause_in(
    runs: Sequence[tuple[int, int]], window: tuple[int, int], frame: int, min_frames: int, anchor: int
) -> tuple[int, int] | None:
    """The longest quiet run (in samples) overlapping ``window`` (samples), ties to the one nearest ``anchor``."""
    best: tuple[int, int] | None = None
    best_key: tuple[int, float] | None = None
    for first, end in runs:
        start_sample, end_sample = first * frame, end * frame
        if end - first < min_frames or end_sample <= window[0] or start_sample >= window[1]:
            continue
        key = (end - first, -abs((start_sample + end_sample) / 2 - anchor))
        if best_key is None or key > best_key:
            best, best_key = (start_sample, end_sample), key
    return best


def timed_spans(
    token_counts: Sequence[int], timings: Sequence[TokenTiming], audio: np.ndarray, sample_rate: int
) -> list[tuple[int, int]]:
    """Sample spans of a chunk's groups from the model's token timings (step 2 of the module docstring).

    Args:
        token_counts: each group's phoneme count (> 0), in order; the chunk's phoneme
            string is the groups' phonemes joined by single spaces.
        timings: one per token of that string (``sum(token_counts) + len(token_counts) - 1``),
            seconds within ``audio`` (kokoro-onnx ``create_timed`` with trimming).
        audio: the chunk's audio, 1-D float.
        sample_rate: Hz.

    Returns:
        ``[(start, end), ...]`` samples within ``audio``, one per group, in order:
        ``0 = start_0 <= end_0 <= start_1 <= ... <= end_last = len(audio)``.

    Raises:
        ValueError: ``timings`` does not have one entry per token, or a count is below 1.
    """
    ranges = token_ranges(token_counts)
    if not ranges:
        return []
    if len(timings) != ranges[-1][1]:
        raise ValueError(f"{len(timings)} token timings for a string of {ranges[-1][1]} tokens")
    n = len(audio)

    def sample(seconds: float) -> int:
        return min(n, max(0, int(round(seconds * sample_rate))))

    frame = max(1, int(round(FRAME_SECONDS * sample_rate)))
    min_frames = max(1, math.ceil(MIN_PAUSE_SECONDS / FRAME_SECONDS - 1e-9))
    runs = quiet_runs(quiet_frames(audio, sample_rate))
    starts, ends = [0], []
    for (first, end), (next_first, next_end) in zip(ranges, ranges[1:]):
        spoken = [i for i in range(first, end) if timings[i].phoneme not in PUNCTUATION_TOKENS]
        last_spoken = spoken[-1] if spoken else end - 1
        mark_end = sample(timings[end - 1].end)
        window = (sample(timings[last_spoken].start), sample(timings[next_first].start))
        pause = _pause_in(runs, window, frame, min_frames, anchor=mark_end)
        if pause is None:
            group_end = next_start = mark_end
        else:
            # the run may reach into the sentences on either side: keep each group non-empty
            group_end = max(pause[0], starts[-1])
            next_start = min(pause[1], sample(timings[next_end - 1].end))
        group_end = max(group_end, starts[-1])
        next_start = min(max(next_start, group_end), n)
        ends.append(group_end)
        starts.append(next_start)
    ends.append(n)
    return list(zip(starts, ends))


def estimated_spans(token_counts: Sequence[int], n_samples: int) -> list[tuple[int, int]]:
    """Sample spans of a chunk's groups without timings (step 3 of the module docstring).

    The chunk's ``n_samples`` are shared in proportion to token positions: the
    boundary after group k sits at the middle of the separator token that follows it.

    Returns:
        ``[(start, end), ...]``, one per group, contiguous from 0 to ``n_samples``.

    Raises:
        ValueError: a count below 1.
    """
    ranges = token_ranges(token_counts)
    if not ranges:
        return []
    total = ranges[-1][1]
    cuts = [int(round(n_samples * (end + 0.5) / total)) for _, end in ranges[:-1]]
    bounds = [0, *cuts, n_samples]
    return [(bounds[k], bounds[k + 1]) for k in range(len(ranges))]


def merge_spans(spans: Iterable[SentenceSpan], texts: Mapping[int, str], sample_rate: int) -> list[Cue]:
    """Cues from sentence spans in the joined audio (step 5 of the module docstring).

    Args:
        spans: ``SentenceSpan``s already shifted to the joined audio, in reading order;
            consecutive spans of one sentence (its pieces in several chunks) become one cue
            from the first one's start to the last one's end.
        texts: sentence index → the sentence's text (whitespace is collapsed).
        sample_rate: Hz.

    Returns:
        Cues in order, seconds (sample / sample_rate).

    Raises:
        ValueError: spans out of order (a span starting before the previous one ends,
            or a sentence index going back).
        KeyError: a sentence index missing from ``texts``.
    """
    merged: list[list[int]] = []  # [sentence_index, start, end]
    for span in spans:
        if merged and span.start < merged[-1][2]:
            raise ValueError(f"span {span} starts before the previous one ends at sample {merged[-1][2]}")
        if merged and span.sentence_index == merged[-1][0]:
            merged[-1][2] = span.end
        elif merged and span.sentence_index < merged[-1][0]:
            raise ValueError(f"sentence {span.sentence_index} comes after sentence {merged[-1][0]}")
        else:
            merged.append([span.sentence_index, span.start, span.end])
    return [
        Cue(start=start / sample_rate, end=end / sample_rate, text=" ".join(texts[index].split()))
        for index, start, end in merged
    ]
