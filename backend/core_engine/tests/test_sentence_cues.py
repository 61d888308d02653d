"""Sentence cues without the model: token ranges, boundaries from fake timings, offsets across chunks."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from core_engine.audio_utils import join_with_pauses, part_offsets
from core_engine.sentence_cues import (
    Cue,
    SentenceSpan,
    estimated_spans,
    merge_spans,
    quiet_frames,
    quiet_runs,
    timed_spans,
    token_ranges,
)
from core_engine.text_chunking import CLAUSE_PAUSE, SENTENCE_PAUSE
from core_engine.tts_wrapper import SAMPLE_RATE, KokoroEngine

SR = SAMPLE_RATE


class Timing(NamedTuple):
    """Same fields as kokoro_onnx.sliding.Timing: one token's time in seconds."""

    phoneme: str
    start: float
    end: float


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SR)), dtype=np.float32)


def timings_for(phonemes: str, durations: list[float]) -> list[Timing]:
    out, t = [], 0.0
    for symbol, seconds in zip(phonemes, durations, strict=True):
        out.append(Timing(symbol, t, t + seconds))
        t += seconds
    return out


# ---------------------------------------------------------------- token ranges
def test_token_ranges_skip_one_separator_between_groups():
    assert token_ranges([3, 2, 4]) == [(0, 3), (4, 6), (7, 11)]
    phonemes = "abc de fghi"
    assert [phonemes[a:b] for a, b in token_ranges([3, 2, 4])] == ["abc", "de", "fghi"]
    assert token_ranges([]) == []
    with pytest.raises(ValueError):
        token_ranges([2, 0])


def test_quiet_frames_and_runs():
    audio = np.concatenate([tone(0.1), silence(0.05), tone(0.1)])
    quiet = quiet_frames(audio, SR)
    assert len(quiet) == 25
    assert quiet_runs(quiet) == [(10, 15)]
    assert quiet_runs(np.array([True, False, True, True])) == [(0, 1), (2, 4)]
    assert not quiet_frames(silence(0.1), SR).any()  # silent audio: no reference, nothing called a pause
    assert len(quiet_frames(np.zeros(10, np.float32), SR)) == 0


# --------------------------------------------------------- exact boundaries
# Two sentences "ab." and "cd." as the model gives them: the pause after the first
# sentence sits inside the durations of its last phoneme and its mark, and the
# second sentence sounds before its first phoneme's timed start.
PHONEMES = "ab. cd."
DURATIONS = [0.2, 0.55, 0.1, 0.05, 0.2, 0.2, 0.1]  # 'b' 0.2–0.75 and '.' 0.75–0.85 hold the pause
AUDIO = np.concatenate([tone(0.4), silence(0.4), tone(0.6)])  # speech 0–0.4, pause 0.4–0.8, speech 0.8–1.4


def test_boundary_is_the_pause_inside_the_timed_span():
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), AUDIO, SR)
    assert spans == [(0, int(0.4 * SR)), (int(0.8 * SR), len(AUDIO))]
    # the mark's end (0.85 s) and the next phoneme's start (0.9 s) are not where the speech is
    timings = timings_for(PHONEMES, DURATIONS)
    assert timings[2].end == pytest.approx(0.85) and timings[4].start == pytest.approx(0.9)


def test_without_a_pause_groups_meet_at_the_marks_end():
    audio = tone(1.4)  # the model ran through the full stop
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), audio, SR)
    mark_end = int(round(0.85 * SR))
    assert spans == [(0, mark_end), (mark_end, len(audio))]


def test_a_gap_shorter_than_a_pause_is_not_a_boundary():
    audio = np.concatenate([tone(0.6), silence(0.03), tone(0.77)])  # a 30 ms stop closure
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), audio, SR)
    mark_end = int(round(0.85 * SR))
    assert spans == [(0, mark_end), (mark_end, len(audio))]


def test_a_pause_before_the_last_word_is_not_taken():
    # a comma pause at 0.05–0.15 s lies before the last spoken phoneme's start (0.2 s): not the boundary
    audio = np.concatenate([tone(0.05), silence(0.1), tone(1.25)])
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), audio, SR)
    mark_end = int(round(0.85 * SR))
    assert spans == [(0, mark_end), (mark_end, len(audio))]


def test_a_pause_only_touching_the_span_is_not_taken():
    # silence from 0.9 s (the next sentence's first phoneme's start) on, after tone: touches, does not overlap
    audio = np.concatenate([tone(0.9), silence(0.3), tone(0.2)])
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), audio, SR)
    mark_end = int(round(0.85 * SR))
    assert spans == [(0, mark_end), (mark_end, len(audio))]


def test_the_longest_pause_in_the_span_wins():
    # a 60 ms gap at 0.25 s and the real 300 ms pause at 0.45 s both overlap the span
    audio = np.concatenate([tone(0.25), silence(0.06), tone(0.14), silence(0.3), tone(0.65)])
    spans = timed_spans([3, 3], timings_for(PHONEMES, DURATIONS), audio, SR)
    assert spans == [(0, int(0.45 * SR)), (int(0.75 * SR), len(audio))]


def test_three_groups_and_a_quote_after_the_mark():
    phonemes = 'ab." c! de.'
    durations = [0.1, 0.4, 0.05, 0.05, 0.05, 0.3, 0.1, 0.05, 0.1, 0.1, 0.1]
    audio = np.concatenate([tone(0.15), silence(0.45), tone(0.2), silence(0.2), tone(0.3)])
    spans = timed_spans([4, 2, 3], timings_for(phonemes, durations), audio, SR)
    assert spans == [
        (0, int(0.15 * SR)),
        (int(0.6 * SR), int(0.8 * SR)),
        (int(1.0 * SR), len(audio)),
    ]


def test_timed_spans_need_one_timing_per_token():
    with pytest.raises(ValueError, match="token timings"):
        timed_spans([3, 3], timings_for("ab.", DURATIONS[:3]), AUDIO, SR)
    assert timed_spans([], [], AUDIO, SR) == []


def test_single_group_spans_the_whole_chunk():
    timings = timings_for("ab.", [0.3, 0.3, 0.2])
    assert timed_spans([3], timings, tone(0.8), SR) == [(0, int(0.8 * SR))]


# ------------------------------------------------------ estimated boundaries
def test_estimated_spans_share_time_by_token_position():
    # "abc d": 5 tokens; the boundary sits in the middle of the space, token 3.5 of 5
    assert estimated_spans([3, 1], 1000) == [(0, 700), (700, 1000)]
    assert estimated_spans([1, 1, 1], 500) == [(0, 150), (150, 350), (350, 500)]  # "a b c"
    assert estimated_spans([4], 123) == [(0, 123)]
    assert estimated_spans([], 100) == []


# ------------------------------------------------------------------ merging
def test_merge_spans_joins_pieces_of_one_sentence_and_converts_to_seconds():
    spans = [
        SentenceSpan(0, 0, 2400),
        SentenceSpan(1, 4800, 7200),
        SentenceSpan(1, 9600, 12000),  # the same sentence, continued in the next chunk
        SentenceSpan(2, 12000, 24000),
    ]
    texts = {0: "One.", 1: "Two,\nand a half.", 2: "Three."}
    assert merge_spans(spans, texts, SR) == [
        Cue(0.0, 0.1, "One."),
        Cue(0.2, 0.5, "Two, and a half."),
        Cue(0.5, 1.0, "Three."),
    ]
    assert Cue(0.12345, 1.98765, "x").as_dict() == {"start": 0.123, "end": 1.988, "text": "x"}


def test_merge_spans_rejects_overlap_and_disorder():
    with pytest.raises(ValueError):
        merge_spans([SentenceSpan(0, 0, 100), SentenceSpan(1, 50, 200)], {0: "a", 1: "b"}, SR)
    with pytest.raises(ValueError):
        merge_spans([SentenceSpan(1, 0, 100), SentenceSpan(0, 100, 200)], {0: "a", 1: "b"}, SR)


def test_part_offsets_are_where_join_with_pauses_puts_each_part():
    parts = [np.full(100, 0.1, np.float32), np.full(50, 0.2, np.float32), np.full(70, 0.3, np.float32)]
    pauses = [0.5, 0.0123, 0.0]
    offsets = part_offsets([len(p) for p in parts], pauses, 1000)
    assert offsets == [0, 600, 662]
    joined = join_with_pauses(parts, pauses, 1000)
    for part, offset in zip(parts, offsets):
        assert np.array_equal(joined[offset : offset + len(part)], part)
    with pytest.raises(ValueError):
        part_offsets([1, 2], [0.1], 1000)


# ----------------------------------------- the engine with a fake model (offsets)
class FakeTokenizer:
    vocab = frozenset("abcdefghijklmnopqrstuvwxyz .,!?")

    def phonemize(self, text: str, lang: str = "en-us") -> str:
        return "".join(ch for ch in text.lower() if ch in self.vocab).strip()


class FakeKokoro:
    """Speaks 50 ms of tone per letter, 20 ms per space, and 300 ms of silence per full stop
    (100 ms per comma), timing the silence inside the mark's duration like the real model."""

    LETTER, SPACE, STOP, COMMA = 0.05, 0.02, 0.3, 0.1

    def __init__(self, has_timings: bool = True):
        self.tokenizer = FakeTokenizer()
        self.has_timings = has_timings
        self.calls: list[str] = []

    def create_timed(self, phonemes, voice, speed, lang, is_phonemes, trim, sentence_pause, clause_pause):
        assert is_phonemes and trim and sentence_pause == 0 and clause_pause == 0
        self.calls.append(phonemes)
        pieces, timings, t = [], [], 0.0
        for symbol in phonemes:
            if symbol in ".!?":
                seconds, audio = self.STOP, silence(self.STOP)
            elif symbol == ",":
                seconds, audio = self.COMMA, silence(self.COMMA)
            else:
                seconds = self.SPACE if symbol == " " else self.LETTER
                audio = tone(seconds)
            pieces.append(audio)
            timings.append(Timing(symbol, t, t + seconds))
            t += seconds
        audio = np.concatenate(pieces)
        end = len(audio)
        while end and audio[end - 1] == 0:  # "trim" the trailing silence
            end -= 1
        audio = audio[:end]
        timings = [Timing(x.phoneme, min(x.start, end / SR), min(x.end, end / SR)) for x in timings]
        return audio, SR, timings if self.has_timings else []


def spoken_seconds(text: str) -> float:
    """Seconds of tone the fake makes for ``text`` (letters and spaces; marks are silence)."""
    phonemes = FakeTokenizer().phonemize(text)
    return sum(FakeKokoro.LETTER if ch.isalpha() else FakeKokoro.SPACE for ch in phonemes if ch.isalpha() or ch == " ")


def test_engine_places_sentences_across_chunks_exactly():
    text = "Hi there. Old man, you are slow. Go."
    kokoro = FakeKokoro()
    engine = KokoroEngine(kokoro, target_tokens=17)
    chunks = engine.plan(text)
    # "Old man, you are slow." is 22 tokens: it is split at its comma into two chunks
    assert [[(p.text, p.sentence_index) for p in c.pieces] for c in chunks] == [
        [("Hi there.", 0)],
        [("Old man,", 1)],
        [("you are slow.", 1), ("Go.", 2)],
    ]
    assert kokoro.calls == []
    synthesis = engine.synthesize(chunks, "v", 1.0)
    assert kokoro.calls == ["hi there.", "old man,", "you are slow. go."]
    assert synthesis.exact_cues is True and synthesis.sample_rate == SR
    assert [c.text for c in synthesis.cues] == ["Hi there.", "Old man, you are slow.", "Go."]

    # chunk lengths (the fake trims the silence of a final mark) and where the join puts them
    lengths = [
        round(spoken_seconds("hi there") * SR),
        round(spoken_seconds("old man") * SR),  # the comma's silence is trimmed too
        round((spoken_seconds("you are slow") + FakeKokoro.STOP + FakeKokoro.SPACE + spoken_seconds("go")) * SR),
    ]
    offsets = part_offsets(lengths, [SENTENCE_PAUSE, CLAUSE_PAUSE, 0.0], SR)
    assert synthesis.audio.size == offsets[-1] + lengths[-1]
    first, second, third = synthesis.cues
    assert (first.start, first.end) == (0.0, lengths[0] / SR)
    # the sentence split over two chunks is one cue across the clause pause of the join
    assert second.start == offsets[1] / SR
    # inside the last chunk the pause after "slow." is found in the audio: 12 letters+spaces, then 300 ms
    slow_end = offsets[2] + round(spoken_seconds("you are slow") * SR)
    assert second.end == pytest.approx(slow_end / SR, abs=0.011)
    assert third.start == pytest.approx((slow_end + FakeKokoro.STOP * SR) / SR, abs=0.011)
    assert third.end == synthesis.audio.size / SR

    # the silences between cues are silent, and the cues are not
    audio = synthesis.audio
    for before, after in zip(synthesis.cues, synthesis.cues[1:]):
        gap = audio[round(before.end * SR) : round(after.start * SR)]
        assert gap.size > 0.25 * SR and np.max(np.abs(gap)) < 1e-3
    for cue in synthesis.cues:
        heard = audio[round(cue.start * SR) : round(cue.start * SR) + 240]
        assert np.sqrt(np.mean(heard**2)) > 0.01


def test_engine_without_timings_estimates_by_phoneme_count():
    kokoro = FakeKokoro(has_timings=False)
    engine = KokoroEngine(kokoro)
    chunks = engine.plan("Hi there. Go.")
    assert len(chunks) == 1
    synthesis = engine.synthesize(chunks, "v", 1.0)
    assert synthesis.exact_cues is False
    n = synthesis.audio.size
    # "hi there. go." is 13 tokens; the boundary is the middle of the space, token 9.5
    assert [(c.start, c.end) for c in synthesis.cues] == [(0.0, round(n * 9.5 / 13) / SR), (round(n * 9.5 / 13) / SR, n / SR)]


def test_punctuation_only_sentences_get_no_cue_and_progress_is_per_chunk():
    kokoro = FakeKokoro()
    engine = KokoroEngine(kokoro, target_tokens=10)
    chunks = engine.plan("Hello there.\n\n...\n\nGood night.")
    progress = []
    synthesis = engine.synthesize(chunks, "v", 1.0, on_progress=lambda *a: progress.append(a))
    assert [c.text for c in synthesis.cues] == ["Hello there.", "Good night."]
    assert [p[0] for p in progress] == list(range(len(chunks) + 1))
    assert synthesis.cues[0].end < synthesis.cues[1].start


def test_a_punctuation_only_sentence_inside_a_chunk_keeps_its_time_but_gets_no_cue():
    kokoro = FakeKokoro()
    engine = KokoroEngine(kokoro)
    chunks = engine.plan("Hello there. ... Good night.")
    assert [p.text for p in chunks[0].pieces] == ["Hello there.", "...", "Good night."]
    synthesis = engine.synthesize(chunks, "v", 1.0)
    assert kokoro.calls == ["hello there. ... good night."]
    assert [c.text for c in synthesis.cues] == ["Hello there.", "Good night."]
    first, second = synthesis.cues
    # the pause after "there." (0.3 s), the space, and the 0.9 s silence of "..." all lie between the cues
    assert second.start - first.end == pytest.approx(4 * FakeKokoro.STOP + FakeKokoro.SPACE, abs=0.011)
