"""Voice blends and lexicon phoneme rules through the real Kokoro-82M model (seconds per test)."""
import numpy as np
import pytest

from core_engine.lexicon import LexiconRule, compile_lexicon
from core_engine.tts_wrapper import synthesize

pytestmark = pytest.mark.real_model

SENTENCE = "The sea was calm, and the lighthouse keeper climbed the stairs."


def spectrum(audio: np.ndarray) -> np.ndarray:
    """Average magnitude spectrum (1024-point frames, hop 512): a voice's timbre, independent of length."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, 1024)[::512] * np.hanning(1024)
    magnitude = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    return magnitude / magnitude.sum()


def test_a_blend_sounds_unlike_either_voice_alone_and_lasts_about_as_long(installed_model):
    alpha = synthesize(SENTENCE, "jf_alpha", 1.0).audio
    kumo = synthesize(SENTENCE, "jm_kumo", 1.0).audio
    blend = synthesize(SENTENCE, "jf_alpha:0.5+jm_kumo:0.5", 1.0).audio
    shortest, longest = min(len(alpha), len(kumo)), max(len(alpha), len(kumo))
    assert 0.8 * shortest < len(blend) < 1.2 * longest
    s_alpha, s_kumo, s_blend = spectrum(alpha), spectrum(kumo), spectrum(blend)
    distance = lambda a, b: float(np.abs(a - b).sum())  # noqa: E731
    # the blend differs from both voices, and each voice is closer to the blend than to the other voice
    assert distance(s_blend, s_alpha) > 0.02 and distance(s_blend, s_kumo) > 0.02
    assert distance(s_blend, s_alpha) < distance(s_kumo, s_alpha)
    assert distance(s_blend, s_kumo) < distance(s_alpha, s_kumo)


def test_a_blends_weights_are_normalized(installed_model):
    a = synthesize(SENTENCE, "jf_alpha:3+jm_kumo:1", 1.0).audio
    b = synthesize(SENTENCE, "jm_kumo:0.25+jf_alpha:0.75", 1.0).audio
    np.testing.assert_array_equal(a, b)


def test_a_lexicon_phoneme_rule_is_spoken(installed_model):
    text = "Edmond Dantès smiled."
    plain = synthesize(text, "jf_alpha", 1.0)
    # "Dantès" read as "Dantès Dantès Dantès": the same sentence, audibly longer
    rule = LexiconRule("r1", "Dantès", "/dɑːntˈɛs dɑːntˈɛs dɑːntˈɛs/")
    ruled = synthesize(text, "jf_alpha", 1.0, lexicon=compile_lexicon((rule,)))
    assert ruled.duration > plain.duration + 0.6
    assert [cue.text for cue in ruled.cues] == ["Edmond Dantès smiled."]  # cues keep the written text
