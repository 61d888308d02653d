"""Encoding and muxing with PyAV (FFmpeg): AAC in MP4/M4B, MP3 (LAME) with ID3, PCM WAV.

No encoder or container code of our own: frames go to PyAV's encoder (which also converts the
sample format and rate with libswresample) and packets to its muxer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Callable, Iterable, Optional, Sequence, Union

import numpy as np

from audiobook.types import BookMetadata, ChapterMark


@dataclass(frozen=True)
class Encoding:
    """How one kind of file is written.

    Attributes:
        container_format: FFmpeg muxer name.
        codec: FFmpeg encoder name.
        sample_rate: Hz of the encoded audio (PyAV resamples to it).
        bit_rate: bits per second (constant for MP3, average for AAC); None for PCM.
        options: muxer options.
        extension: file name extension, without the dot.
    """

    container_format: str
    codec: str
    sample_rate: int
    bit_rate: Optional[int]
    extension: str
    options: dict = field(default_factory=dict)


#: M4B: AAC-LC, mono, 24 kHz (Kokoro's rate: nothing above 12 kHz to keep), 64 kbit/s
#: (the rate Audible's "High quality" downloads use for spoken word). The "ipod" muxer with
#: brand "M4B " is what players treat as an audiobook; faststart puts the index (moov) first so
#: a browser can play and seek over HTTP before the whole file arrives. Chapters are written by
#: FFmpeg both as a QuickTime chapter track and as Nero "chpl" chapters.
M4B_ENCODING = Encoding("ipod", "aac", 24_000, 64_000, "m4b", {"movflags": "+faststart", "brand": "M4B "})
#: MP3: MPEG-1 Layer III (44.1 kHz, the form every player decodes), mono, 64 kbit/s CBR
#: (LibriVox's audiobook MP3 rate). ID3v2.3 (read more widely than 2.4) with CHAP/CTOC chapters.
#: Measured: LAME (through FFmpeg) writes its input 0.44 dB quieter (×0.951) at 64–160 kbit/s,
#: 0.26–0.28 dB quieter at 192 kbit/s (ACX_ENCODING) and within 0.02 dB at 256 kbit/s and up
#: (a 440 Hz sine and speech-like test audio, 24 and 44.1 kHz input, decoded by FFmpeg and by
#: libsndfile, which agree); so the book MP3 measures -18.5 LUFS where the WAV and M4B measure
#: -18.1. Not compensated.
MP3_ENCODING = Encoding("mp3", "libmp3lame", 44_100, 64_000, "mp3", {"id3v2_version": "3"})
#: WAV: PCM signed 16-bit little-endian, mono, 24 kHz; RF64 only if the file passes 4 GiB (> 24 h).
WAV_ENCODING = Encoding("wav", "pcm_s16le", 24_000, None, "wav", {"rf64": "auto"})
#: ACX chapter files: MP3 at 44.1 kHz and 192 kbit/s CBR (ACX audio submission requirements).
ACX_ENCODING = Encoding("mp3", "libmp3lame", 44_100, 192_000, "mp3", {"id3v2_version": "3"})


def container_tags(metadata: BookMetadata, encoding: Encoding, **extra: str) -> dict[str, str]:
    """FFmpeg metadata keys for ``metadata`` (FFmpeg maps them to ©nam/TIT2/INAM and so on).

    ``extra`` adds or overrides keys (e.g. ``title`` and ``track`` for one ACX chapter file).
    Blank values are left out. For M4B, ``media_type`` 2 marks the file as an audiobook (the
    iTunes "stik" atom).
    """
    album = (metadata.album or "").strip() or metadata.title
    tags = {
        "title": metadata.title,
        "artist": metadata.author,
        "album_artist": metadata.author,
        "album": album,
        "genre": metadata.genre,
        "composer": metadata.narrator,
        "date": metadata.date,
        "comment": metadata.comment,
    }
    if encoding.container_format == "ipod":
        tags["media_type"] = "2"
    tags.update(extra)
    return {key: str(value).strip() for key, value in tags.items() if value is not None and str(value).strip()}


def encode(
    target: Union[str, Path],
    encoding: Encoding,
    blocks: Iterable[np.ndarray],
    input_rate: int,
    tags: dict[str, str],
    chapters: Sequence[ChapterMark] = (),
    on_samples: Optional[Callable[[int], None]] = None,
) -> None:
    """Encode mono float32 ``blocks`` (at ``input_rate`` Hz) into the file ``target``.

    The file is written in one streaming pass: memory does not grow with the audio's length
    (the muxer keeps only its packet index). Chapters (seconds on the input timeline) are
    given to the muxer with a time base of one input sample, so they are exact.

    Args:
        target: the file to write (its name does not choose the format: ``encoding`` does).
        encoding: one of the ``*_ENCODING`` constants.
        blocks: the audio, float32 in [-1, 1].
        input_rate: Hz of ``blocks``.
        tags: container metadata (see :func:`container_tags`).
        chapters: chapter marks to write (M4B, MP3); ignored by WAV.
        on_samples: called with the number of input samples after each block is encoded.

    Raises:
        Whatever PyAV raises (``av.FFmpegError``) or ``blocks`` raises; the partly written
        file is then left for the caller to remove.
    """
    import av

    container = av.open(str(target), mode="w", format=encoding.container_format, options=dict(encoding.options))
    try:
        stream = container.add_stream(encoding.codec, rate=encoding.sample_rate, layout="mono")
        if encoding.bit_rate:
            stream.bit_rate = encoding.bit_rate
        container.metadata.update(tags)
        if chapters and encoding.container_format != "wav":
            container.set_chapters([
                {
                    "id": number + 1,
                    "start": int(round(chapter.start * input_rate)),
                    "end": int(round(chapter.end * input_rate)),
                    "time_base": Fraction(1, input_rate),
                    "metadata": {"title": chapter.title},
                }
                for number, chapter in enumerate(chapters)
            ])
        time_base = Fraction(1, input_rate)
        pts = 0
        for block in blocks:
            if not block.size:
                continue
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = input_rate
            frame.time_base = time_base
            frame.pts = pts
            pts += block.size
            for packet in stream.encode(frame):
                container.mux(packet)
            if on_samples:
                on_samples(block.size)
        for packet in stream.encode(None):
            container.mux(packet)
    except BaseException:
        try:
            container.close()
        except Exception:  # the original error matters more than a failed trailer
            pass
        raise
    container.close()


def probe_duration(source: Union[str, Path, IO[bytes]]) -> float:
    """Duration of an audio file in seconds, from its container (the MP4 edit list, the MP3
    Xing/Info frame count, the WAV header), without decoding it.

    Raises:
        av.FFmpegError: the file cannot be opened; ValueError: it has no audio stream.
    """
    import av

    with av.open(source if not isinstance(source, Path) else str(source)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000
    raise ValueError("the file does not state its duration")
