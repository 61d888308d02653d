"""Voice ids and blends: parsing, validation, canonical form, the style mix and the language."""
import numpy as np
import pytest

from core_engine.voices import MAX_BLEND_VOICES, InvalidVoice, blend_style, language_for_voice, parse_voice

VOICES = ["af_bella", "bf_emma", "jf_alpha", "jf_nezumi", "jm_kumo", "jf_tebukuro"]


@pytest.mark.parametrize(
    "spec, canonical",
    [
        ("jf_alpha", "jf_alpha"),
        ("  jf_alpha ", "jf_alpha"),
        ("jf_alpha:0.6+jm_kumo:0.4", "jf_alpha:0.6+jm_kumo:0.4"),
        ("jm_kumo:0.4+jf_alpha:0.6", "jf_alpha:0.6+jm_kumo:0.4"),  # sorted by voice id
        ("jf_alpha:3+jm_kumo:1", "jf_alpha:0.75+jm_kumo:0.25"),  # weights normalized
        ("jf_alpha+jm_kumo", "jf_alpha:0.5+jm_kumo:0.5"),  # omitted weights mix equally
        ("jf_alpha:1+jm_kumo:2", "jf_alpha:0.3333+jm_kumo:0.6667"),
        ("jf_alpha:2", "jf_alpha"),  # one voice is that voice whatever its weight
        ("jf_alpha : 0.6 + jm_kumo : 0.4", "jf_alpha:0.6+jm_kumo:0.4"),
    ],
)
def test_canonical_form(spec, canonical):
    assert parse_voice(spec, VOICES).canonical == canonical


def test_equal_proportions_give_equal_canonical_forms():
    a = parse_voice("jf_alpha:1+jm_kumo:2", VOICES)
    b = parse_voice("jm_kumo:0.6666666+jf_alpha:0.3333333", VOICES)
    assert a.canonical == b.canonical
    assert sum(w for _, w in a.components) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nobody", "Unknown voice 'nobody'; available voices: af_bella"),
        ("jf_alpha:0.5+nobody:0.5", "Unknown voice 'nobody' in the blend"),
        ("jf_alpha:0+jm_kumo:1", "weight of 'jf_alpha' must be a positive number, got '0'"),
        ("jf_alpha:-1+jm_kumo:1", "weight of 'jf_alpha' must be a positive number, got '-1'"),
        ("jf_alpha:abc+jm_kumo:1", "weight of 'jf_alpha' must be a positive number, got 'abc'"),
        ("jf_alpha:nan+jm_kumo:1", "positive number, got 'nan'"),
        ("jf_alpha:inf+jm_kumo:1", "positive number, got 'inf'"),
        ("jf_alpha:+jm_kumo:1", "positive number, got ''"),
        ("jf_alpha++jm_kumo", "Empty part in the blend"),
        ("jf_alpha:0.5+jf_alpha:0.5", "'jf_alpha' appears twice"),
        ("", "The voice is empty"),
        ("   ", "The voice is empty"),
        ("jf alpha", "is not a voice id"),
        ("x" * 201, "longer than 200 characters"),
        ("+".join(VOICES), f"at most {MAX_BLEND_VOICES} voices; this one has 6"),
    ],
)
def test_bad_voices_are_named(spec, message):
    with pytest.raises(InvalidVoice) as caught:
        parse_voice(spec, VOICES)
    assert message in str(caught.value)


@pytest.mark.parametrize("spec", [None, 3, ["jf_alpha"], {"voice": "jf_alpha"}])
def test_a_voice_must_be_a_string(spec):
    with pytest.raises(InvalidVoice, match="must be a string"):
        parse_voice(spec, VOICES)


def test_no_voices_installed_says_so():
    with pytest.raises(InvalidVoice, match="no model installed"):
        parse_voice("jf_alpha", [])


def test_five_voices_is_the_limit():
    blend = parse_voice("+".join(VOICES[:5]), VOICES)
    assert len(blend.components) == MAX_BLEND_VOICES
    assert all(w == pytest.approx(0.2) for _, w in blend.components)


def test_blend_style_is_the_weighted_sum():
    rng = np.random.default_rng(7)
    styles = {name: rng.standard_normal((510, 1, 256)).astype(np.float32) for name in ("jf_alpha", "jm_kumo")}
    blend = parse_voice("jf_alpha:3+jm_kumo:1", VOICES)
    mixed = blend_style(blend, styles)
    assert mixed.dtype == np.float32 and mixed.shape == (510, 1, 256)
    np.testing.assert_allclose(mixed, 0.75 * styles["jf_alpha"] + 0.25 * styles["jm_kumo"], rtol=1e-5, atol=1e-6)
    single = blend_style(parse_voice("jm_kumo", VOICES), styles)
    np.testing.assert_array_equal(single, styles["jm_kumo"])


def test_blend_style_rejects_mismatched_shapes():
    styles = {"jf_alpha": np.zeros((510, 1, 256), np.float32), "jm_kumo": np.zeros((510, 256), np.float32)}
    with pytest.raises(ValueError, match="differ in shape"):
        blend_style(parse_voice("jf_alpha+jm_kumo", VOICES), styles)


@pytest.mark.parametrize(
    "spec, lang",
    [
        ("bf_emma", "en-gb"),
        ("af_bella", "en-us"),
        ("jf_alpha", "en-us"),
        ("bf_emma:0.7+af_bella:0.3", "en-gb"),  # the heaviest voice decides
        ("bf_emma:0.3+af_bella:0.7", "en-us"),
    ],
)
def test_language_follows_the_main_voice(spec, lang):
    assert language_for_voice(parse_voice(spec, VOICES)) == lang
