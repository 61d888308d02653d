"""ACX (Audible's audiobook store) preset: per-chapter mastering and the per-file check report.

Requirements checked (ACX "Audio Submission Requirements"): MP3 at 192 kbit/s or more, constant
bit rate, 44.1 kHz; RMS between -23 and -18 dB; peaks no higher than -3 dB; 0.5–1 s of room
tone at the head and 1–5 s at the tail of each file; each file at most 120 minutes.
RMS is unweighted over the whole file, 0 dB = a full-scale square wave (as Audacity's ACX Check).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from audiobook.audio import (
    LevelMeter,
    SegmentReader,
    chapter_timeline,
    counted,
    db,
    filtered,
    from_db,
    mastering_chain,
    render,
)
from audiobook.encode import ACX_ENCODING

# --- the requirements (what the report checks) ---
#: Sample rate, Hz.
ACX_SAMPLE_RATE = ACX_ENCODING.sample_rate
#: Bit rate, bit/s, constant.
ACX_BIT_RATE = ACX_ENCODING.bit_rate
#: RMS window, dB.
ACX_RMS_MIN_DB, ACX_RMS_MAX_DB = -23.0, -18.0
#: Highest allowed sample peak, dBFS.
ACX_PEAK_MAX_DB = -3.0
#: Room tone at the head of each file, seconds.
ACX_HEAD_MIN_SECONDS, ACX_HEAD_MAX_SECONDS = 0.5, 1.0
#: Room tone at the tail of each file, seconds.
ACX_TAIL_MIN_SECONDS, ACX_TAIL_MAX_SECONDS = 1.0, 5.0
#: Longest allowed file, seconds (120 minutes).
ACX_MAX_FILE_SECONDS = 120 * 60.0

# --- the mastering (how the files are made to meet them) ---
# Measured on jf_alpha Kokoro segments (engine output, -18.00 LUFS each): RMS -17.8 to -18.7 dB,
# sample peaks -1.6 to -6.6 dBFS; a chapter with 0.6 s pauses and the room tone: RMS -18.4 dB,
# peak -1.6 dBFS. So a chapter needs about -2.4 dB to bring its peaks under -4 dBFS, which
# leaves its RMS near -20.8 dB: inside the window without a limiter. The written MP3s then
# measured RMS -20.3 to -20.9 dB and peaks -4.2 dBFS (LAME at 192 kbit/s writes 0.26–0.28 dB
# quieter, see encode.py).
#: RMS each chapter file is mastered to, dB: inside the window with 2–3 dB to spare each side.
ACX_TARGET_RMS_DB = -20.0
#: Sample peaks are kept at or below this before encoding, dBFS: 1 dB under ACX's -3 dB, room
#: for the overshoot of resampling to 44.1 kHz and MP3 coding (measured on the written files).
ACX_PEAK_TARGET_DBFS = -4.0
#: When meeting the peak target by lowering the gain would leave the RMS below this (dB), the
#: gain for ACX_TARGET_RMS_DB is used and the look-ahead limiter holds the peaks instead.
ACX_MIN_RMS_WITHOUT_LIMITER_DB = -22.0
#: Largest gain mastering applies, dB: more would push speech so far into the limiter that it
#: is audibly squashed (and nearly silent chapters would be blown up into noise); such a
#: chapter is reported as failing the RMS check instead.
ACX_MAX_GAIN_DB = 12.0
#: With the limiter, the limited audio is measured up to this many times to settle the gain.
ACX_LIMITER_PASSES = 3
#: ... until its RMS is within this many dB of ACX_TARGET_RMS_DB.
ACX_RMS_TOLERANCE_DB = 0.5
#: Room tone put at the head / tail of each file, seconds: counted from the first / last sound,
#: so a segment's own leading or trailing silence counts towards it.
ACX_HEAD_SECONDS = 0.75
ACX_TAIL_SECONDS = 2.5

_FILE_TITLE_UNSAFE = re.compile(r"[^\w\s\-.,()'!&]+", re.UNICODE)


@dataclass(frozen=True)
class ChapterMaster:
    """How one chapter file is mastered (decided from measurements, see :func:`analyse_chapter`).

    Attributes:
        head_samples, tail_samples: silence added before / after the chapter (book rate).
        gain_db: gain applied to the chapter's audio, dB.
        limiter: whether the look-ahead limiter runs (ceiling ACX_PEAK_TARGET_DBFS).
        rms_db, peak_db: the chapter file's RMS (dB) and sample peak (dBFS) before the gain, at
            44.1 kHz, with the added head and tail silence counted.
        expected_rms_db: the RMS the mastered audio measured before encoding (with the limiter),
            or ``rms_db + gain_db`` (without).
        passes: how many times the limited audio was measured to settle the gain.
    """

    head_samples: int
    tail_samples: int
    gain_db: float
    limiter: bool
    rms_db: float
    peak_db: float
    expected_rms_db: float
    passes: int = 0

    def as_dict(self) -> dict:
        """JSON-able summary for the report."""
        return {
            "gain_db": round(self.gain_db, 2),
            "limiter": self.limiter,
            "limiter_ceiling_dbfs": ACX_PEAK_TARGET_DBFS if self.limiter else None,
            "rms_before_db": _round(self.rms_db),
            "peak_before_dbfs": _round(self.peak_db),
            "expected_rms_db": _round(self.expected_rms_db),
            "limiter_passes": self.passes,
        }


def _round(value: float, digits: int = 2) -> Optional[float]:
    return round(value, digits) if math.isfinite(value) else None


def choose_gain(rms_db: float, peak_db: float) -> tuple[float, bool]:
    """Mastering gain (dB) and whether a limiter is needed, from a file's RMS (dB) and peak (dBFS).

    The gain that puts the RMS at ACX_TARGET_RMS_DB, if the peak then stays at or below
    ACX_PEAK_TARGET_DBFS; otherwise the lower gain that puts the peak there, if the RMS stays at
    or above ACX_MIN_RMS_WITHOUT_LIMITER_DB; otherwise the target gain with the limiter.
    Gains are capped at ACX_MAX_GAIN_DB; silence gets 0 dB.
    """
    if not math.isfinite(rms_db) or not math.isfinite(peak_db):
        return 0.0, False
    gain = min(ACX_TARGET_RMS_DB - rms_db, ACX_MAX_GAIN_DB)
    if peak_db + gain <= ACX_PEAK_TARGET_DBFS:
        return gain, False
    peak_gain = ACX_PEAK_TARGET_DBFS - peak_db
    if rms_db + peak_gain >= ACX_MIN_RMS_WITHOUT_LIMITER_DB:
        return peak_gain, False
    return gain, True


def master_blocks(reader: SegmentReader, items, gain_db: float, limiter: bool, before_block: Callable[[], None],
                  on_samples: Optional[Callable[[int], None]] = None) -> Iterator[np.ndarray]:
    """A chapter timeline mastered for ACX: the gain, resampling to 44.1 kHz, then (if ``limiter``)
    the look-ahead limiter at ACX_PEAK_TARGET_DBFS. ``on_samples`` counts book-rate samples read."""
    chain = mastering_chain(reader.plan.sample_rate, ACX_SAMPLE_RATE, ACX_PEAK_TARGET_DBFS if limiter else None)
    blocks = render(reader, items, gain=from_db(gain_db), before_block=before_block)
    return filtered(counted(blocks, on_samples), chain)


def _measure(blocks: Iterable[np.ndarray]) -> LevelMeter:
    meter = LevelMeter(ACX_SAMPLE_RATE)
    for block in blocks:
        meter.add(block)
    return meter


def analyse_chapter(reader: SegmentReader, chapter: int, before_block: Callable[[], None],
                    on_samples: Callable[[int], None]) -> ChapterMaster:
    """Measure a chapter and decide its room tone, gain and limiter.

    The chapter's audio (segments at the book's loudness, with their pauses) is read once and
    measured at 44.1 kHz: the room tone already at its head and tail sets how much silence to
    add (to reach ACX_HEAD_SECONDS / ACX_TAIL_SECONDS), and its RMS and peak (with that silence)
    set the gain and whether the limiter is needed (:func:`choose_gain`). With the limiter, the
    limited audio is measured again (at most ACX_LIMITER_PASSES times) and the gain corrected
    by the RMS the limiter took away. ``on_samples(n)`` reports the first read (book-rate samples).
    """
    plan = reader.plan
    rate = plan.sample_rate
    meter = _measure(master_blocks(reader, chapter_timeline(plan, chapter, 0, 0), 0.0, False, before_block, on_samples))
    head = max(0, int(round((ACX_HEAD_SECONDS - meter.head_seconds) * rate)))
    tail = max(0, int(round((ACX_TAIL_SECONDS - meter.tail_seconds) * rate)))
    total = meter.samples + int(round((head + tail) * ACX_SAMPLE_RATE / rate))
    rms = db(math.sqrt(meter.sum_of_squares / total)) if total else -math.inf
    gain, limiter = choose_gain(rms, meter.peak_db)
    expected = rms + gain
    passes = 0
    if limiter:
        items = chapter_timeline(plan, chapter, head, tail)
        for passes in range(1, ACX_LIMITER_PASSES + 1):
            expected = _measure(master_blocks(reader, items, gain, True, before_block)).rms_db
            shortfall = ACX_TARGET_RMS_DB - expected
            if abs(shortfall) <= ACX_RMS_TOLERANCE_DB or passes == ACX_LIMITER_PASSES:
                break
            if shortfall > 0 and gain >= ACX_MAX_GAIN_DB:
                break
            gain = min(gain + shortfall, ACX_MAX_GAIN_DB)
    return ChapterMaster(head_samples=head, tail_samples=tail, gain_db=gain, limiter=limiter,
                         rms_db=rms, peak_db=meter.peak_db, expected_rms_db=expected, passes=passes)


def chapter_file_name(number: int, count: int, title: str) -> str:
    """``"01 - CHAPTER I. Down the Rabbit-Hole.mp3"``: the chapter's place (zero-padded) and a
    file-name-safe title (at most 80 characters)."""
    safe = re.sub(r"\s+", " ", _FILE_TITLE_UNSAFE.sub("_", title)).strip(" ._")[:80].strip() or "Chapter"
    width = max(2, len(str(count)))
    return f"{number:0{width}d} - {safe}.{ACX_ENCODING.extension}"


def _check(value, passed: bool, requirement: str, unit: str = "") -> dict:
    return {"value": value, "unit": unit, "requirement": requirement, "passed": bool(passed)}


def check_acx_file(source: Union[str, Path, IO[bytes]], name: Optional[str] = None) -> dict:
    """Measure one written MP3 against the ACX requirements.

    Everything is measured on the file: the bit rate of every MP3 frame (from the packet sizes
    PyAV demuxes), the encoder's CBR/VBR header (mutagen), and, on the audio FFmpeg decodes
    from it, the sample rate, RMS, sample peak, duration and the room tone at the head and tail
    (:class:`audiobook.audio.LevelMeter`: 20 ms windows, quiet = RMS at or below -60 dB).

    Args:
        source: a path, or a seekable binary file object (e.g. a member of the zip).
        name: the file name to put in the report (default: the path's name).

    Returns:
        ``{"file", "duration", "passed", "checks": {name: {"value", "unit", "requirement",
        "passed"}}}`` with checks sample_rate, bit_rate, constant_bit_rate, rms, peak,
        head_room_tone, tail_room_tone and length. A file that cannot be decoded gives
        ``passed: False`` and an ``"error"``.
    """
    import av
    import mutagen.mp3

    if name is None:
        name = Path(str(source)).name if isinstance(source, (str, Path)) else getattr(source, "name", "file")
    seekable = not isinstance(source, (str, Path))
    try:
        if seekable:
            source.seek(0)
        header = mutagen.mp3.MP3(source if seekable else str(source)).info
        if seekable:
            source.seek(0)
        frame_rates: set[int] = set()
        with av.open(source if seekable else str(source)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            meter = LevelMeter(rate)
            for packet in container.demux(stream):
                if packet.size and packet.duration and packet.time_base:
                    # one MP3 frame per packet: its bit rate in kbit/s
                    seconds = float(packet.duration * packet.time_base)
                    frame_rates.add(int(round(packet.size * 8 / seconds / 1000)))
                for frame in packet.decode():
                    audio = frame.to_ndarray().astype(np.float64, copy=False)
                    meter.add(audio.mean(axis=0) if audio.shape[0] > 1 else audio[0])
    except Exception as exc:  # report, do not crash: a broken file fails the check
        return {"file": name, "duration": None, "passed": False, "error": f"cannot decode: {exc}", "checks": {}}

    declared_cbr = header.bitrate_mode in (mutagen.mp3.BitrateMode.CBR, mutagen.mp3.BitrateMode.UNKNOWN)
    lowest = min(frame_rates) if frame_rates else 0
    # MPEG frames alternate between n and n+1 bytes (the padding slot), ±1 kbit/s.
    constant = bool(frame_rates) and max(frame_rates) - lowest <= 1 and declared_cbr
    wanted_kbps = ACX_BIT_RATE // 1000
    checks = {
        "sample_rate": _check(rate, rate == ACX_SAMPLE_RATE, f"{ACX_SAMPLE_RATE} Hz", "Hz"),
        "bit_rate": _check(lowest, lowest >= wanted_kbps - 1, f">= {wanted_kbps} kbit/s", "kbit/s"),
        "constant_bit_rate": _check(
            "CBR" if constant else "VBR", constant, "CBR (every frame the same bit rate)"),
        "rms": _check(_round(meter.rms_db), ACX_RMS_MIN_DB <= meter.rms_db <= ACX_RMS_MAX_DB,
                      f"{ACX_RMS_MIN_DB:g} to {ACX_RMS_MAX_DB:g} dB", "dB"),
        "peak": _check(_round(meter.peak_db), meter.peak_db <= ACX_PEAK_MAX_DB,
                       f"<= {ACX_PEAK_MAX_DB:g} dB", "dBFS"),
        "head_room_tone": _check(
            round(meter.head_seconds, 3), ACX_HEAD_MIN_SECONDS <= meter.head_seconds <= ACX_HEAD_MAX_SECONDS,
            f"{ACX_HEAD_MIN_SECONDS:g} to {ACX_HEAD_MAX_SECONDS:g} s", "s"),
        "tail_room_tone": _check(
            round(meter.tail_seconds, 3), ACX_TAIL_MIN_SECONDS <= meter.tail_seconds <= ACX_TAIL_MAX_SECONDS,
            f"{ACX_TAIL_MIN_SECONDS:g} to {ACX_TAIL_MAX_SECONDS:g} s", "s"),
        "length": _check(round(meter.duration, 3), 0 < meter.duration <= ACX_MAX_FILE_SECONDS,
                         f"<= {ACX_MAX_FILE_SECONDS / 60:g} minutes", "s"),
    }
    return {
        "file": name,
        "duration": round(meter.duration, 3),
        "passed": all(check["passed"] for check in checks.values()),
        "checks": checks,
    }


def build_report(files: list[dict]) -> dict:
    """The whole ACX report: ``{"standard", "measured_on", "passed", "requirements", "files"}``."""
    return {
        "standard": "ACX Audio Submission Requirements",
        "measured_on": "the MP3 files in this zip, decoded again with FFmpeg (PyAV) and read with mutagen",
        "passed": bool(files) and all(entry["passed"] for entry in files),
        "requirements": {
            "sample_rate_hz": ACX_SAMPLE_RATE,
            "bit_rate_kbps": ACX_BIT_RATE // 1000,
            "constant_bit_rate": True,
            "rms_db": [ACX_RMS_MIN_DB, ACX_RMS_MAX_DB],
            "peak_max_db": ACX_PEAK_MAX_DB,
            "head_room_tone_s": [ACX_HEAD_MIN_SECONDS, ACX_HEAD_MAX_SECONDS],
            "tail_room_tone_s": [ACX_TAIL_MIN_SECONDS, ACX_TAIL_MAX_SECONDS],
            "max_length_s": ACX_MAX_FILE_SECONDS,
        },
        "files": files,
    }
