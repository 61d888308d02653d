"""End-to-end synthesis with the real Kokoro-82M int8 model (seconds per test).

Measured on the 2-core dev box with jf_alpha at speed 1.0: ~0.064 s of audio per
character of English prose (1.41 s for a 21-char sentence incl. trimming, 6.93 s
for 109 chars), RTF ≈ 0.25. Bounds below leave room for other voices (jm_kumo is
~15 % faster) and machines.
"""
import re


import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from core_engine.audio_utils import TARGET_LUFS
from core_engine.model_loader import KokoroModelLoader
from core_engine.text_chunking import DEFAULT_TARGET_TOKENS
from core_engine.tts_wrapper import SAMPLE_RATE, KokoroEngine, generate_audio
from core_engine.tests.helpers import word_sentence

pytestmark = pytest.mark.real_model

SENTENCE = "It is impossible to say how first the idea entered my brain; but once conceived, it haunted me day and night."
# Seconds of audio per character of text, at speed 1.0.
MIN_S_PER_CHAR, MAX_S_PER_CHAR = 0.04, 0.12
# RMS floor for "not silent": speech normalized to -18 LUFS has RMS ≈ 0.1; -50 dBFS is far below.
RMS_FLOOR = 10 ** (-50 / 20)


def read(path):
    audio, sr = sf.read(str(path), dtype="float32")
    return audio, sr, sf.info(str(path))


def test_one_sentence_gives_normalized_24k_mono_pcm16(installed_model, tmp_path):
    out = tmp_path / "projects" / "1" / "audio" / "1.wav"
    progress = []
    result = generate_audio(SENTENCE, "jf_alpha", 1.0, out, on_progress=lambda *a: progress.append(a))
    assert result["success"] is True, result["error"]
    assert result["error"] is None and result["audio_path"] == str(out)

    audio, sr, info = read(out)
    assert (sr, info.channels, info.subtype, info.format) == (SAMPLE_RATE, 1, "PCM_16", "WAV")
    assert result["duration"] == pytest.approx(len(audio) / sr, abs=0.01)
    assert MIN_S_PER_CHAR * len(SENTENCE) < result["duration"] < MAX_S_PER_CHAR * len(SENTENCE)
    assert float(np.sqrt(np.mean(audio**2))) > RMS_FLOOR
    loudness = pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64))
    assert loudness == pytest.approx(TARGET_LUFS, abs=1.0)
    assert np.max(np.abs(audio)) <= 10 ** (-1 / 20) + 1e-3

    # progress: (0, total, 0, chars) first, then one call per chunk ending at (total, total, chars, chars)
    assert progress[0][0] == 0 and progress[0][2] == 0
    total, chars = progress[0][1], progress[0][3]
    assert progress[-1] == (total, total, chars, chars)
    assert [p[0] for p in progress] == list(range(total + 1))
    # atomic write: only the final file in the folder
    assert [p.name for p in out.parent.iterdir()] == ["1.wav"]


def test_long_unpunctuated_sentence_is_fully_spoken(installed_model, tmp_path):
    short_text, long_text = word_sentence(200, seed=5), word_sentence(2000, seed=6)
    assert not re.search(r"[.,;:!?]", long_text)
    progress = []
    short = generate_audio(short_text, "jf_alpha", 1.0, tmp_path / "short.wav")
    long = generate_audio(long_text, "jf_alpha", 1.0, tmp_path / "long.wav", on_progress=lambda *a: progress.append(a))
    assert short["success"] and long["success"], (short["error"], long["error"])
    # split at words into several chunks, all spoken
    assert progress[-1][1] >= 8 and progress[-1][0] == progress[-1][1]
    short_rate = short["duration"] / len(short_text)
    long_rate = long["duration"] / len(long_text)
    assert MIN_S_PER_CHAR < long_rate < MAX_S_PER_CHAR
    # seconds per character do not depend on length (nothing dropped, nothing rushed)
    assert 0.8 < long_rate / short_rate < 1.25
    audio, sr, _ = read(tmp_path / "long.wav")
    assert pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64)) == pytest.approx(TARGET_LUFS, abs=1.0)


def test_real_chunks_fit_the_model(installed_model):
    engine = KokoroEngine(KokoroModelLoader.get_session())
    text = (SENTENCE + " ") * 12 + word_sentence(1500, seed=2)
    chunks = engine.plan(text)
    assert len(chunks) > 3
    for chunk in chunks:
        phonemes = engine.chunk_phonemes(chunk.pieces).phonemes  # what synthesis gives the model
        assert chunk.tokens == len(phonemes) <= DEFAULT_TARGET_TOKENS
        assert engine.kokoro.tokenizer.tokenize(phonemes)  # within the 510 limit: no ValueError


def test_speed_changes_duration(installed_model, tmp_path):
    normal = generate_audio(SENTENCE, "jm_kumo", 1.0, tmp_path / "n.wav")
    fast = generate_audio(SENTENCE, "jm_kumo", 1.6, tmp_path / "f.wav")
    assert normal["success"] and fast["success"]
    assert fast["duration"] < 0.8 * normal["duration"]


@pytest.mark.parametrize(
    "text, voice, speed, message",
    [
        ("", "jf_alpha", 1.0, "empty"),
        ("* * *", "jf_alpha", 1.0, "nothing to speak"),
        ("Hello there.", "af_heart", 1.0, "Unknown voice"),  # official-only voice, not in voices_ja
        ("Hello there.", "jf_alpha", 0.2, "between 0.5 and 2.0"),
        ("Hello there.", "jf_alpha", 5, "between 0.5 and 2.0"),
    ],
)
def test_bad_input_with_model_installed(installed_model, tmp_path, text, voice, speed, message):
    out = tmp_path / "bad" / "x.wav"
    result = generate_audio(text, voice, speed, out)
    assert result["success"] is False and message in result["error"]
    assert result["audio_path"] is None and result["duration"] is None
    assert not out.exists()


def test_failure_during_synthesis_is_reported_not_raised(installed_model, tmp_path, monkeypatch):
    def boom(self, phonemes, voice_id, speed):
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(KokoroEngine, "synthesize_chunk", boom)
    out = tmp_path / "x.wav"
    result = generate_audio(SENTENCE, "jf_alpha", 1.0, out)
    assert result["success"] is False and "onnxruntime exploded" in result["error"]
    assert not out.exists() and list(tmp_path.glob("*.tmp.wav")) == []


def test_voices_and_session_singleton(installed_model):
    assert KokoroModelLoader.get_voices() == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    first = KokoroModelLoader.get_session()
    assert KokoroModelLoader.get_session() is first
    assert sorted(first.get_voices()) == KokoroModelLoader.get_voices()
