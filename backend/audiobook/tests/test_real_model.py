"""A real narration through the builder: two Kokoro segments → M4B, loudness measured on the M4B."""
import av
import pyloudnorm
import pytest
import srt

from audiobook import BOOK_TARGET_LUFS, BookMetadata, Cue, Pacing, SegmentAudio, export_book, plan_book
from audiobook.plan import clean_caption_text

from .conftest import decode

pytestmark = pytest.mark.real_model

TEXTS = [
    ("Down the Rabbit-Hole", "Alice was beginning to get very tired of sitting by her sister on the bank. "
                             "Once or twice she had peeped into the book her sister was reading."),
    (None, "So she was considering in her own mind whether the pleasure of making a daisy-chain "
           "would be worth the trouble of getting up and picking the daisies."),
]


def test_real_narration_exports_to_m4b_at_the_book_loudness(installed_model, tmp_path):
    from core_engine.tts_wrapper import generate_audio

    segments = []
    for index, (title, text) in enumerate(TEXTS):
        path = tmp_path / f"segment{index}.wav"
        result = generate_audio(text, voice_id="jf_alpha", speed=1.0, output_path=path)
        assert result["success"] is True, result["error"]
        cues = [Cue(float(c["start"]), float(c["end"]), str(c["text"])) for c in result.get("cues") or []]
        segments.append(SegmentAudio(f"s{index}", path, result["duration"], cues, title, text=text))
    pacing = Pacing()
    plan = plan_book(segments, pacing, default_chapter_title="Alice")
    out = export_book(plan, "m4b", tmp_path / "exports", "alice",
                      metadata=BookMetadata(title="Alice", author="Lewis Carroll"))

    audio, rate = decode(out.main_path)
    expected = pacing.lead_in + sum(s.duration for s in segments) + pacing.paragraph_pause + pacing.tail
    assert audio.size / rate == pytest.approx(expected, abs=0.05)
    loudness = pyloudnorm.Meter(rate).integrated_loudness(audio)
    assert loudness == pytest.approx(BOOK_TARGET_LUFS, abs=1.0)
    with av.open(str(out.main_path)) as container:
        assert [c["metadata"]["title"] for c in container.chapters()] == ["Down the Rabbit-Hole"]
    # the captions are the engine's sentence cues moved to book time (not the whole-segment
    # fallback cue a segment without cues gets: the first text has two sentences)
    engine_cues = [(plan.segment_offsets[index] + cue.start, clean_caption_text(cue.text))
                   for index, segment in enumerate(segments) for cue in segment.cues]
    assert len(engine_cues) > len(segments)
    subtitles = list(srt.parse(out.srt_path.read_text(encoding="utf-8")))
    assert [subtitle.content for subtitle in subtitles] == [text for _, text in engine_cues]
    for subtitle, (start, _) in zip(subtitles, engine_cues):
        assert subtitle.start.total_seconds() == pytest.approx(start, abs=0.002)
