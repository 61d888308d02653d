"""The ACX preset: one mastered 44.1 kHz 192 kbit/s CBR MP3 per chapter in a zip, and a report
measured on those written files."""
from __future__ import annotations

import io
import json
import math
import zipfile
from fractions import Fraction

import av
import mutagen.mp3
import numpy as np
import pytest

from audiobook import BookMetadata, Pacing, SegmentAudio, check_acx_file, export_book, plan_book
from audiobook.acx import ACX_HEAD_SECONDS, ACX_TAIL_SECONDS, choose_gain

from .conftest import decode, speech_like, write_segment

METADATA = BookMetadata(title="ACX Book", author="Ann Author")


def run_acx(segments, out_dir, pacing=Pacing()):
    plan = plan_book(segments, pacing, default_chapter_title="ACX Book")
    return export_book(plan, "acx", out_dir, "acx-book", metadata=METADATA)


def measure(data: bytes):
    """Independent measurement of an MP3 in memory: (rate, RMS dB, peak dBFS, head s, tail s, seconds)."""
    samples, rate = decode(io.BytesIO(data))
    loud = np.flatnonzero(np.abs(samples) > 10 ** (-60 / 20))
    rms = 20 * math.log10(math.sqrt(np.mean(samples ** 2)))
    peak = 20 * math.log10(np.max(np.abs(samples)))
    return rate, rms, peak, loud[0] / rate, (samples.size - loud[-1] - 1) / rate, samples.size / rate


def test_acx_zip_holds_one_compliant_mp3_per_chapter_and_the_report(make_book, out_dir):
    book = make_book()
    result = run_acx(book.segments, out_dir)

    assert result.main_path == out_dir.resolve() / "acx-book.zip"
    with zipfile.ZipFile(result.main_path) as archive:
        names = archive.namelist()
        assert names == ["01 - Chapter One.mp3", "02 - Chapter Two.mp3", "03 - Chapter Three.mp3", "report.json"]
        assert json.loads(archive.read("report.json")) == result.report
        members = {name: archive.read(name) for name in names[:3]}

    report = result.report
    assert report["passed"] is True
    assert [entry["file"] for entry in report["files"]] == names[:3]
    for entry, (name, data) in zip(report["files"], members.items()):
        header = mutagen.mp3.MP3(io.BytesIO(data)).info
        assert (header.sample_rate, header.bitrate, header.bitrate_mode) == (44100, 192000, mutagen.mp3.BitrateMode.CBR)
        rate, rms, peak, head, tail, seconds = measure(data)
        assert rate == 44100
        assert -23 <= rms <= -18 and peak <= -3
        assert 0.5 <= head <= 1.0 and 1.0 <= tail <= 5.0
        assert head == pytest.approx(ACX_HEAD_SECONDS, abs=0.05) and tail == pytest.approx(ACX_TAIL_SECONDS, abs=0.05)
        # the report holds what the written file measures
        checks = entry["checks"]
        assert checks["rms"]["value"] == pytest.approx(rms, abs=0.05)
        assert checks["peak"]["value"] == pytest.approx(peak, abs=0.05)
        assert checks["head_room_tone"]["value"] == pytest.approx(head, abs=0.03)
        assert checks["tail_room_tone"]["value"] == pytest.approx(tail, abs=0.03)
        assert entry["duration"] == pytest.approx(seconds, abs=0.001)
        assert all(check["passed"] for check in checks.values())
        assert set(checks) == {"sample_rate", "bit_rate", "constant_bit_rate", "rms", "peak",
                               "head_room_tone", "tail_room_tone", "length"}
    # chapters are the files laid end to end
    assert [c.title for c in result.chapters] == book.titles
    assert result.chapters[1].start == pytest.approx(report["files"][0]["duration"], abs=0.001)
    assert result.duration == pytest.approx(sum(entry["duration"] for entry in report["files"]), abs=0.001)
    # and the book's captions come along
    assert result.srt_path.is_file() and result.vtt_path.is_file()
    assert sorted(p.name for p in out_dir.iterdir()) == ["acx-book.srt", "acx-book.vtt", "acx-book.zip"]


def test_report_shows_the_files_that_fail_as_failed(tmp_path, out_dir):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    one = write_segment(wavs / "one.wav", [("Fine.", 2.0), ("Also fine.", 1.5)], seed=1)
    # chapter 2 starts with 2 s of silence in its own audio: too much room tone at its head
    two = write_segment(wavs / "two.wav", [("Late start.", 2.0)], seed=2, lead_silence=2.0)
    # chapter 3 is two short phrases 25 s apart: no gain within the peak limit reaches -23 dB RMS
    three = write_segment(wavs / "three.wav", [("Hello.", 0.6), ("Goodbye.", 0.6)], seed=3, gap=25.0)
    segments = [SegmentAudio(s.segment_id, s.path, s.duration, s.cues, title)
                for s, title in ((one, "One"), (two, "Two"), (three, "Three"))]
    report = run_acx(segments, out_dir).report

    assert report["passed"] is False
    first, second, third = report["files"]
    assert first["passed"] is True
    assert second["passed"] is False
    assert second["checks"]["head_room_tone"]["passed"] is False
    assert second["checks"]["head_room_tone"]["value"] == pytest.approx(2.0, abs=0.05)
    assert [name for name, check in second["checks"].items() if not check["passed"]] == ["head_room_tone"]
    assert third["checks"]["rms"]["passed"] is False
    assert third["checks"]["rms"]["value"] < -23
    assert third["checks"]["peak"]["passed"] is True  # the limiter held the peaks
    assert third["mastering"]["limiter"] is True


def test_peaky_chapter_is_limited_to_the_peak_ceiling(tmp_path, out_dir):
    # quiet speech with full-scale clicks: the engine-style normalisation is held back by the
    # clicks, so reaching the RMS target needs the limiter
    audio = speech_like(4.0, seed=7, level=0.2)
    audio[::4800] = 1.0
    path = tmp_path / "clicks.wav"
    import soundfile as sf

    sf.write(str(path), audio, 24000, subtype="PCM_16")
    result = run_acx([SegmentAudio("clicks", path, round(audio.size / 24000, 2), chapter_title="Clicks")], out_dir)

    entry = result.report["files"][0]
    assert entry["mastering"]["limiter"] is True
    assert entry["passed"] is True, entry["checks"]
    with zipfile.ZipFile(result.main_path) as archive:
        _, rms, peak, _, _, _ = measure(archive.read(entry["file"]))
    assert peak <= -3.0 and -23 <= rms <= -18


def _write_mp3(path, rate, bit_rate, audio):
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(audio.astype(np.float32).reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.time_base, frame.pts = rate, Fraction(1, rate), 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_check_acx_file_measures_what_is_written(tmp_path):
    # a loud 48 kHz 128 kbit/s file with sound from the first to the last sample
    rate = 48000
    t = np.arange(rate * 3) / rate
    _write_mp3(tmp_path / "bad.mp3", rate, 128_000, 0.95 * np.sin(2 * np.pi * 300 * t))
    entry = check_acx_file(tmp_path / "bad.mp3")

    assert entry["file"] == "bad.mp3" and entry["passed"] is False
    failed = {name for name, check in entry["checks"].items() if not check["passed"]}
    assert failed == {"sample_rate", "bit_rate", "rms", "peak", "head_room_tone", "tail_room_tone"}
    assert entry["checks"]["sample_rate"]["value"] == 48000
    assert entry["checks"]["bit_rate"]["value"] == 128
    assert entry["checks"]["constant_bit_rate"]["passed"] is True


def test_check_acx_file_reports_an_undecodable_file(tmp_path):
    (tmp_path / "junk.mp3").write_bytes(b"\x00" * 100)
    entry = check_acx_file(tmp_path / "junk.mp3")
    assert entry["passed"] is False and "cannot decode" in entry["error"]


@pytest.mark.parametrize(
    "rms, peak, expected_gain, limiter",
    [
        (-25.0, -12.0, 5.0, False),    # quiet and clean: straight to -20 dB RMS
        (-18.2, -1.6, -2.4, False),    # Kokoro at -18 LUFS: lower the gain until peaks are at -4 dBFS
        (-30.0, -1.0, 10.0, True),     # peaky: the target gain, and the limiter holds the peaks
        (-math.inf, -math.inf, 0.0, False),  # silence stays as it is
    ],
)
def test_choose_gain(rms, peak, expected_gain, limiter):
    gain, needs_limiter = choose_gain(rms, peak)
    assert gain == pytest.approx(expected_gain)
    assert needs_limiter is limiter


def test_each_segment_loudness_is_measured_once_per_export(make_book, out_dir, monkeypatch):
    # ACX reads every segment at least twice (measure the chapter, encode it; more with the limiter)
    import audiobook.audio

    measured = []
    real = audiobook.audio.normalize_loudness
    monkeypatch.setattr(audiobook.audio, "normalize_loudness",
                        lambda audio, *args: measured.append(audio.size) or real(audio, *args))
    book = make_book(levels=[0.03, 0.3, 0.1, 0.9, 0.05, 0.5])
    run_acx(book.segments, out_dir)
    assert len(measured) == len(book.segments)
