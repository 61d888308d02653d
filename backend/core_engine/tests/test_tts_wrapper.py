"""tts_wrapper without the model: paths/URLs, input validation, model missing, spoken forms, chunk token counts."""

import pytest

from core_engine.tts_wrapper import (
    SAMPLE_RATE,
    KokoroEngine,
    construct_audio_path,
    construct_audio_url,
    generate_audio,
)


def test_sample_rate():
    assert SAMPLE_RATE == 24000


def test_construct_audio_path_uses_media_root_at_call_time(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "m1"
    assert construct_audio_path(7, 42) == str(tmp_path / "m1" / "projects" / "7" / "audio" / "42.wav")
    settings.MEDIA_ROOT = str(tmp_path / "m2")
    assert construct_audio_path("p", "s") == str(tmp_path / "m2" / "projects" / "p" / "audio" / "s.wav")


def test_construct_audio_url():
    assert construct_audio_url(7, 42) == "/media/projects/7/audio/42.wav"


def test_model_missing_is_a_clean_failure(tmp_models_dir, tmp_path):
    out = tmp_path / "x.wav"
    calls = []
    result = generate_audio("Hello there.", "jf_alpha", 1.0, out, on_progress=lambda *a: calls.append(a))
    assert result == {
        "success": False,
        "audio_path": None,
        "duration": None,
        "error": result["error"],
        "cues": [],
    }
    assert "python manage.py install_model" in result["error"]
    assert not out.exists() and calls == []


@pytest.mark.parametrize(
    "text, speed, message",
    [
        ("", 1.0, "empty"),
        ("   \n\t", 1.0, "empty"),
        (None, 1.0, "empty"),
        ("* * *", 1.0, "nothing to speak"),
        ("... !!! ---", 1.0, "nothing to speak"),
        ("Hello.", 0.49, "between 0.5 and 2.0"),
        ("Hello.", 2.01, "between 0.5 and 2.0"),
        ("Hello.", float("nan"), "between 0.5 and 2.0"),
        ("Hello.", "fast", "between 0.5 and 2.0"),
        ("Hello.", None, "between 0.5 and 2.0"),
    ],
)
def test_bad_input_fails_before_touching_the_model(tmp_models_dir, tmp_path, text, speed, message):
    # no model installed: these must be rejected on input grounds alone
    out = tmp_path / "x.wav"
    result = generate_audio(text, "jf_alpha", speed, out)
    assert result["success"] is False and result["audio_path"] is None and result["duration"] is None
    assert message in result["error"] and result["cues"] == []
    assert not out.exists()


class _Phonemizer:
    """The phonemizing half of a ``kokoro_onnx.Kokoro`` (espeak-ng; no model file needed)."""

    def __init__(self):
        from kokoro_onnx.tokenizer import Tokenizer

        self.tokenizer = Tokenizer()


@pytest.mark.parametrize("target", [250, 510])
def test_a_chunk_counts_the_phonemes_the_model_is_given(target):
    # phonemizer drops the space between two quoted sentences ("madam!' 'Is") when it reads a
    # whole chunk; the model is given the chunk phonemized sentence by sentence, space kept
    text = " ".join(f"'No, madam number {n}!' 'Is it TOM?' 'It is not.'" for n in range(60))
    engine = KokoroEngine(_Phonemizer(), target_tokens=target)
    chunks = engine.plan(text)
    assert len(chunks) > 1
    for chunk in chunks:
        phonemes = engine.chunk_phonemes(chunk.pieces).phonemes
        assert chunk.tokens == len(phonemes) <= target
        engine.kokoro.tokenizer.tokenize(phonemes)  # within kokoro-onnx's 510 limit (ValueError beyond)
