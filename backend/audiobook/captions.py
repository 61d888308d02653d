"""SRT and WebVTT captions for the whole book, one cue per sentence, with the ``srt`` and
``webvtt-py`` libraries. Cue times come from :attr:`BookPlan.cues` (whole milliseconds)."""
from __future__ import annotations

import datetime
import html
from pathlib import Path
from typing import Callable, Optional, Sequence

from audiobook.types import Cue


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def srt_text(cues: Sequence[Cue]) -> str:
    """The cues as an SRT document (numbered from 1; times ``HH:MM:SS,mmm``)."""
    import srt

    subtitles = [
        srt.Subtitle(
            index=number,
            start=datetime.timedelta(milliseconds=_ms(cue.start)),
            end=datetime.timedelta(milliseconds=_ms(cue.end)),
            content=cue.text,
        )
        for number, cue in enumerate(cues, start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def vtt_text(cues: Sequence[Cue]) -> str:
    """The cues as a WebVTT document (times ``HH:MM:SS.mmm``; ``&``, ``<`` and ``>`` in the text
    written as character references, as WebVTT requires).

    Raises:
        ValueError: webvtt-py could not read a cue's text back (should not happen for cleaned text).
    """
    import webvtt
    from webvtt.models import Timestamp

    captions = [
        webvtt.Caption(
            start=str(Timestamp.from_seconds(_ms(cue.start) / 1000)),
            end=str(Timestamp.from_seconds(_ms(cue.end) / 1000)),
            text=html.escape(cue.text, quote=False),
        )
        for cue in cues
    ]
    return webvtt.WebVTT(captions=captions).content


def write_captions(
    cues: Sequence[Cue],
    srt_path: Path,
    vtt_path: Path,
    on_step: Optional[Callable[[int], None]] = None,
) -> None:
    """Write ``cues`` to ``srt_path`` (SRT) and ``vtt_path`` (WebVTT), UTF-8.

    The paths are written directly (the caller passes temp paths for an atomic export).
    ``on_step(done)`` is called with 0 before and ``len(cues)`` after (progress and cancel checks):
    each document is composed by one library call, so there is no step in between to report.
    """
    if on_step:
        on_step(0)
    srt_document = srt_text(cues)
    vtt_document = vtt_text(cues)
    Path(srt_path).write_text(srt_document, encoding="utf-8")
    Path(vtt_path).write_text(vtt_document, encoding="utf-8")
    if on_step:
        on_step(len(cues))
