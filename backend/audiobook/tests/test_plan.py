"""plan_book: offsets, pauses, chapters and book-time cues (pure arithmetic, no files)."""
import math
from pathlib import Path

import pytest

from audiobook import AudiobookError, Cue, Pacing, SegmentAudio, plan_book
from audiobook.plan import BOOK_SAMPLE_RATE, DEFAULT_CHAPTER_TITLE

PACING = Pacing(paragraph_pause=0.5, chapter_pause=1.5, lead_in=0.25, tail=1.0)


def seg(name, duration, title=None, cues=(), text=""):
    return SegmentAudio(segment_id=name, path=Path(f"/nowhere/{name}.wav"), duration=duration,
                        cues=list(cues), chapter_title=title, text=text)


def test_offsets_pauses_and_duration_follow_the_pacing():
    segments = [seg("a", 2.0, "One"), seg("b", 3.0), seg("c", 1.5, "Two"), seg("d", 4.25)]
    plan = plan_book(segments, PACING, default_chapter_title="Book")

    assert plan.segment_offsets == pytest.approx([0.25, 0.25 + 2.0 + 0.5, 2.75 + 3.0 + 1.5, 7.25 + 1.5 + 0.5])
    assert plan.duration == pytest.approx(0.25 + (2.0 + 3.0 + 1.5 + 4.25) + (0.5 + 1.5 + 0.5) + 1.0)
    assert plan.total_samples == round(plan.duration * BOOK_SAMPLE_RATE)


def test_chapters_start_at_their_first_segment_and_end_at_the_next():
    segments = [seg("a", 2.0, "One"), seg("b", 3.0), seg("c", 1.5, "Two"), seg("d", 4.25, "Three")]
    plan = plan_book(segments, PACING)

    assert [c.title for c in plan.chapters] == ["One", "Two", "Three"]
    assert plan.chapters[0].start == 0.0  # includes the lead-in
    assert plan.chapters[1].start == pytest.approx(plan.segment_offsets[2])
    assert plan.chapters[2].start == pytest.approx(plan.segment_offsets[3])
    assert [c.end for c in plan.chapters[:-1]] == [c.start for c in plan.chapters[1:]]
    assert plan.chapters[-1].end == pytest.approx(plan.duration)
    assert plan.chapter_segments == [(0, 2), (2, 3), (3, 4)]


def test_segments_before_the_first_title_form_the_default_chapter():
    plan = plan_book([seg("a", 1.0), seg("b", 1.0, "  Real Start  ")], PACING, default_chapter_title="My Book")
    assert [(c.title, c.start) for c in plan.chapters] == [("My Book", 0.0), ("Real Start", pytest.approx(2.75))]

    untitled = plan_book([seg("a", 1.0), seg("b", 1.0, "   ")], PACING)
    assert [c.title for c in untitled.chapters] == [DEFAULT_CHAPTER_TITLE]
    assert untitled.segment_offsets[1] == pytest.approx(0.25 + 1.0 + 0.5)  # a blank title is no chapter


def test_positions_are_whole_samples():
    plan = plan_book([seg("a", 1.00004), seg("b", 0.33333, "x")], Pacing(0.1, 0.7777, 0.12345, 0.5))
    for seconds, samples in zip(plan.segment_offsets, plan.segment_sample_offsets):
        assert seconds * BOOK_SAMPLE_RATE == pytest.approx(samples, abs=1e-6)
    assert plan.segment_samples == [24001, 8000]
    assert plan.total_samples == sum(plan.silence_before_samples) + sum(plan.segment_samples) + plan.tail_samples


def test_cues_move_to_book_time():
    cues_a = [Cue(0.0, 0.9, "First."), Cue(1.0, 1.9, "Second.")]
    cues_b = [Cue(0.1, 1.2, "Third.")]
    plan = plan_book([seg("a", 2.0, "One", cues_a), seg("b", 1.5, "Two", cues_b)], PACING)

    assert [(c.start, c.end, c.text) for c in plan.cues] == [
        (0.25, 1.15, "First."),
        (1.25, 2.15, "Second."),
        (pytest.approx(0.25 + 2.0 + 1.5 + 0.1), pytest.approx(3.75 + 1.2), "Third."),
    ]


def test_cues_are_clamped_ordered_and_cleaned():
    cues = [
        Cue(-0.5, 0.5, "Starts before the audio."),
        Cue(0.4, 1.0, "Overlaps the previous\n one."),
        Cue(1.0, 1.0, "No length."),
        Cue(1.2, 1.5, "   "),
        Cue(1.5, 9.0, "Runs past the end --> clamped."),
        Cue(5.0, 6.0, "Entirely after the audio."),
    ]
    plan = plan_book([seg("a", 2.0, None, cues)], PACING)

    assert [c.text for c in plan.cues] == [
        "Starts before the audio.", "Overlaps the previous one.", "Runs past the end -> clamped."]
    assert plan.cues[0].start == 0.25
    assert plan.cues[1].start == plan.cues[0].end  # pushed after the previous cue
    assert plan.cues[-1].end == 2.25  # the segment's end
    for earlier, later in zip(plan.cues, plan.cues[1:]):
        assert earlier.start < earlier.end <= later.start < later.end


def test_a_segment_without_cues_gets_one_cue_from_its_text():
    plan = plan_book([seg("a", 2.0, None, (), text="Old audio,\nno timings."), seg("b", 1.0)], PACING)
    assert [(c.start, c.end, c.text) for c in plan.cues] == [(0.25, 2.25, "Old audio, no timings.")]


def test_cue_times_are_whole_milliseconds():
    plan = plan_book([seg("a", 2.0, None, [Cue(0.12345, 1.98765, "x")])], Pacing(0, 0, 0.0004, 0))
    cue = plan.cues[0]
    assert cue.start * 1000 == pytest.approx(round(cue.start * 1000))
    assert cue.end * 1000 == pytest.approx(round(cue.end * 1000))
    assert (cue.start, cue.end) == (0.124, 1.988)


@pytest.mark.parametrize(
    "segments, pacing, message",
    [
        ([], PACING, "no segments"),
        ([seg("a", 0.0)], PACING, "Segment a: duration"),
        ([seg("a", -1.0)], PACING, "Segment a: duration"),
        ([seg("a", math.nan)], PACING, "Segment a: duration"),
        ([seg("a", "long")], PACING, "Segment a: duration"),
        ([seg("a", 1.0)], Pacing(paragraph_pause=-0.1), "paragraph_pause"),
        ([seg("a", 1.0)], Pacing(chapter_pause=11), "chapter_pause"),
        ([seg("a", 1.0)], Pacing(lead_in=math.inf), "lead_in"),
        ([seg("a", 1.0, cues=[Cue("soon", 1.0, "x")])], PACING, "cue start"),
    ],
)
def test_bad_input_is_a_clear_error(segments, pacing, message):
    with pytest.raises(AudiobookError, match=message):
        plan_book(segments, pacing)


def test_plan_book_does_no_io():
    # the paths do not exist: planning only does arithmetic
    plan = plan_book([seg("a", 1.0, "One")], PACING)
    assert plan.duration == pytest.approx(2.25)
