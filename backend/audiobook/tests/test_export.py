"""export_book on synthetic 3-chapter books, checked by decoding the written files with PyAV."""
from __future__ import annotations

import html

import av
import mutagen.mp3
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import srt
import webvtt

from audiobook import (
    BOOK_TARGET_LUFS,
    EXPORT_FORMATS,
    AudiobookError,
    BookMetadata,
    ExportCancelled,
    Pacing,
    SegmentAudio,
    export_book,
    plan_book,
)

from .conftest import RATE, decoded_duration, write_segment

METADATA = BookMetadata(title="The Test Book", author="Ann Author", album="Test Album", genre="Audiobook")
TOLERANCE = 0.05  # seconds (the issue's ±50 ms)


def export(book, fmt, out_dir, **kwargs):
    plan = plan_book(book.segments, book.pacing, default_chapter_title="The Test Book")
    return plan, export_book(plan, fmt, out_dir, "book-1234", metadata=METADATA, **kwargs)


def test_m4b_is_aac_with_the_planned_chapters_duration_and_tags(make_book, out_dir):
    book = make_book()
    plan, result = export(book, "m4b", out_dir)

    assert result.main_path == out_dir.resolve() / "book-1234.m4b"
    with av.open(str(result.main_path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        chapters = container.chapters()
        tags = container.metadata
    assert [c["metadata"]["title"] for c in chapters] == book.titles
    expected_starts = [0.0, book.expected_segment_start(2), book.expected_segment_start(4)]
    for chapter, expected, planned in zip(chapters, expected_starts, plan.chapters):
        start = float(chapter["start"] * chapter["time_base"])
        assert start == pytest.approx(expected, abs=TOLERANCE)
        assert start == pytest.approx(planned.start, abs=TOLERANCE)
    assert decoded_duration(result.main_path) == pytest.approx(book.expected_duration(), abs=TOLERANCE)
    assert result.duration == pytest.approx(book.expected_duration(), abs=TOLERANCE)
    assert (tags["title"], tags["artist"], tags["album"], tags["genre"]) == (
        "The Test Book", "Ann Author", "Test Album", "Audiobook")
    assert tags["major_brand"].strip() == "M4B"
    assert result.size_bytes == result.main_path.stat().st_size
    assert [c.title for c in result.chapters] == book.titles
    assert result.report is None


def test_mp3_and_wav_decode_to_the_same_duration(make_book, out_dir):
    book = make_book()
    _, mp3 = export(book, "mp3", out_dir)
    _, wav = export(book, "wav", out_dir)

    mp3_seconds, wav_seconds = decoded_duration(mp3.main_path), decoded_duration(wav.main_path)
    assert mp3_seconds == pytest.approx(wav_seconds, abs=TOLERANCE)
    assert wav_seconds == pytest.approx(book.expected_duration(), abs=TOLERANCE)
    assert mp3.duration == pytest.approx(mp3_seconds, abs=TOLERANCE)


def test_mp3_is_cbr_with_id3_tags_and_chapters(make_book, out_dir):
    book = make_book()
    plan, result = export(book, "mp3", out_dir)

    tagged = mutagen.mp3.MP3(str(result.main_path))
    assert tagged.info.bitrate_mode == mutagen.mp3.BitrateMode.CBR
    assert tagged.tags.version[:2] == (2, 3)
    assert str(tagged.tags["TIT2"]) == "The Test Book"
    assert str(tagged.tags["TPE1"]) == "Ann Author"
    assert str(tagged.tags["TALB"]) == "Test Album"
    assert str(tagged.tags["TCON"]) == "Audiobook"
    chaps = sorted(tagged.tags.getall("CHAP"), key=lambda frame: frame.start_time)
    assert [str(frame.sub_frames["TIT2"]) for frame in chaps] == book.titles
    for frame, chapter in zip(chaps, plan.chapters):
        assert frame.start_time / 1000 == pytest.approx(chapter.start, abs=TOLERANCE)


def test_wav_is_pcm16_and_sample_exact(make_book, out_dir):
    book = make_book()
    plan, result = export(book, "wav", out_dir)

    info = sf.info(str(result.main_path))
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", RATE, 1)
    audio, _ = sf.read(str(result.main_path), dtype="int16")
    assert audio.size == plan.total_samples
    for index in range(len(book.segments)):
        # each synthetic segment starts with a non-zero sample and is preceded by pure silence
        start = round(book.expected_segment_start(index) * RATE)
        assert np.flatnonzero(audio[start - 200:start + 1])[0] == 200
        assert not audio[start - 200:start].any()
    assert not audio[-round(book.pacing.tail * RATE):].any()


def test_captions_parse_and_match_the_cues(make_book, out_dir):
    book = make_book()
    plan, result = export(book, "m4b", out_dir)
    audio_seconds = decoded_duration(result.main_path)

    assert result.srt_path == out_dir.resolve() / "book-1234.srt"
    assert result.vtt_path == out_dir.resolve() / "book-1234.vtt"
    subtitles = list(srt.parse(result.srt_path.read_text(encoding="utf-8")))
    vtt = webvtt.read(str(result.vtt_path))
    expected = [(book.expected_segment_start(i) + cue.start, book.expected_segment_start(i) + cue.end, cue.text)
                for i, segment in enumerate(book.segments) for cue in segment.cues]

    srt_cues = [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subtitles]
    vtt_cues = [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, html.unescape(c.text))
                for c in vtt]
    for cues in (srt_cues, vtt_cues):
        assert len(cues) == len(expected) == 12
        for (start, end, text), (want_start, want_end, want_text) in zip(cues, expected):
            assert text == want_text
            assert start == pytest.approx(want_start, abs=0.002)
            assert end == pytest.approx(want_end, abs=0.002)
        assert cues[0][0] >= 0.0 and cues[-1][1] <= audio_seconds
        for (start, end, _), (next_start, _, _) in zip(cues, cues[1:]):
            assert start < end <= next_start


def test_caption_text_with_markup_characters_survives(tmp_path, out_dir):
    segment = write_segment(tmp_path / "s.wav", [("Tom & Jerry <3 x --> y", 1.0)], seed=1)
    plan = plan_book([segment], Pacing())
    result = export_book(plan, "wav", out_dir, "marks")

    assert list(srt.parse(result.srt_path.read_text()))[0].content == "Tom & Jerry <3 x -> y"
    vtt_text = result.vtt_path.read_text()
    assert "Tom &amp; Jerry &lt;3 x -&gt; y" in vtt_text
    assert len(webvtt.read(str(result.vtt_path))) == 1


def test_every_segment_is_brought_to_the_book_loudness(make_book, out_dir):
    # segments recorded 20 dB apart come out at the same integrated loudness
    book = make_book(levels=[0.03, 0.3, 0.1, 0.9, 0.05, 0.5])
    plan, result = export(book, "wav", out_dir)
    audio, _ = sf.read(str(result.main_path), dtype="float64")
    meter = pyloudnorm.Meter(RATE)
    levels = [
        meter.integrated_loudness(audio[offset:offset + length])
        for offset, length in zip(plan.segment_sample_offsets, plan.segment_samples)
    ]
    assert max(levels) - min(levels) < 1.0
    assert meter.integrated_loudness(audio) == pytest.approx(BOOK_TARGET_LUFS, abs=1.0)
    assert np.max(np.abs(audio)) <= 10 ** (-1 / 20) + 1e-3


def test_files_that_differ_by_a_few_samples_are_fitted_to_the_plan(tmp_path, out_dir):
    long = write_segment(tmp_path / "long.wav", [("Long.", 1.0)], seed=1, extra_samples=600)  # +25 ms
    short = write_segment(tmp_path / "short.wav", [("Short.", 1.0)], seed=2)
    declared = [SegmentAudio(long.segment_id, long.path, 1.0, long.cues, "One"),
                SegmentAudio(short.segment_id, short.path, 1.02, short.cues, "Two")]  # file is 1.00 s
    plan = plan_book(declared, Pacing(0.5, 1.0, 0.5, 1.0))
    result = export_book(plan, "wav", out_dir, "fit")
    assert sf.info(str(result.main_path)).frames == plan.total_samples == round((0.5 + 1.0 + 1.0 + 1.02 + 1.0) * RATE)


def test_progress_reports_each_stage_in_order_up_to_its_total(make_book, out_dir):
    calls = []
    export(make_book(), "m4b", out_dir, on_progress=lambda stage, done, total: calls.append((stage, done, total)))

    stages = [stage for stage, _, _ in calls]
    assert list(dict.fromkeys(stages)) == ["assembling", "encoding", "captions"]
    encoding = [(done, total) for stage, done, total in calls if stage == "encoding"]
    assert len(encoding) >= 6 + 1  # at least once per segment
    assert [done for done, _ in encoding] == sorted(done for done, _ in encoding)
    assert encoding[-1][0] == encoding[-1][1] == pytest.approx(make_book().expected_duration(), abs=0.001)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_cancelling_mid_export_leaves_no_file(make_book, out_dir, fmt):
    book = make_book()
    seen = []

    def should_cancel():
        return "encoding" in seen and len(seen) > seen.index("encoding") + 3

    with pytest.raises(ExportCancelled):
        export(book, fmt, out_dir, on_progress=lambda stage, done, total: seen.append(stage),
               should_cancel=should_cancel)
    assert "encoding" in seen and "captions" not in seen  # it was stopped part way
    assert list(out_dir.iterdir()) == []


def test_a_failure_after_encoding_leaves_no_file(make_book, out_dir):
    def on_progress(stage, done, total):
        if stage == "captions":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        export(make_book(), "m4b", out_dir, on_progress=on_progress)
    assert list(out_dir.iterdir()) == []


def test_cancel_just_before_the_files_are_committed_leaves_no_file(make_book, out_dir):
    captions_done = []

    def should_cancel():
        return bool(captions_done)

    def on_progress(stage, done, total):
        if stage == "captions" and done == total:
            captions_done.append(True)

    with pytest.raises(ExportCancelled):
        export(make_book(), "wav", out_dir, on_progress=on_progress, should_cancel=should_cancel)
    assert captions_done and list(out_dir.iterdir()) == []


def test_missing_wav_is_a_clear_error_before_anything_is_written(make_book, out_dir):
    book = make_book()
    book.segments[3].path.unlink()
    with pytest.raises(AudiobookError, match=r"Segment seg3: audio file .*seg3\.wav does not exist"):
        export(book, "m4b", out_dir)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_unreadable_or_wrong_length_wav_is_a_clear_error(make_book, out_dir):
    book = make_book()
    book.segments[1].path.write_bytes(b"not a wav at all")
    with pytest.raises(AudiobookError, match="Segment seg1: .* is not a readable audio file"):
        export(book, "wav", out_dir)

    book = make_book(folder="other")
    stale = book.segments[2]
    book.segments[2] = SegmentAudio(stale.segment_id, stale.path, stale.duration + 0.5, stale.cues, stale.chapter_title)
    with pytest.raises(AudiobookError, match="Segment seg2: .* re-read the file's duration"):
        export(book, "wav", out_dir)


@pytest.mark.parametrize("fmt", ["ogg", "", None, "M4A"])
def test_unknown_format_is_a_clear_error(make_book, out_dir, fmt):
    with pytest.raises(AudiobookError, match="Unknown export format"):
        export(make_book(), fmt, out_dir)


@pytest.mark.parametrize("basename", ["", "../escape", "a/b", ".hidden"])
def test_a_basename_with_folders_is_refused(make_book, out_dir, basename):
    plan = plan_book(make_book().segments, Pacing())
    with pytest.raises(AudiobookError, match="basename"):
        export_book(plan, "wav", out_dir, basename)


def test_export_needs_a_plan(out_dir):
    with pytest.raises(AudiobookError, match="BookPlan"):
        export_book([], "m4b", out_dir, "x")
