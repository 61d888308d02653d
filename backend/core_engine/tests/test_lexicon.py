"""The pronunciation lexicon: checking rules, matching on word boundaries, and what the engine is given."""
import pytest

from core_engine.lexicon import (
    EMPTY_LEXICON,
    InvalidRule,
    Lexicon,
    LexiconRule,
    clean_pattern,
    clean_replacement,
    compile_lexicon,
    model_vocabulary,
    replacement_kind,
)
from core_engine.tts_wrapper import KokoroEngine, preview_speech, spoken_form_of

DANTES_IPA = "dɑːntˈɛs"


def rule(pattern, replacement, case_sensitive=False, key=None):
    return LexiconRule(key or pattern, clean_pattern(pattern), clean_replacement(replacement), case_sensitive)


# ------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    "pattern, cleaned",
    [("Dantès", "Dantès"), ("  Edmond   Dantès ", "Edmond Dantès"), ("C++", "C++"), ("1815", "1815"), ("M. Morrel", "M. Morrel")],
)
def test_good_patterns_are_cleaned(pattern, cleaned):
    assert clean_pattern(pattern) == cleaned


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("", "The pattern is empty"),
        ("   ", "The pattern is empty"),
        ("...", "has no letter or digit"),
        ("a/b", "contains '/'"),
        ("x" * 101, "at most 100"),
        (12, "must be a string"),
    ],
)
def test_bad_patterns_are_named(pattern, message):
    with pytest.raises(InvalidRule) as caught:
        clean_pattern(pattern)
    assert caught.value.field == "pattern"
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "replacement, cleaned, kind",
    [
        ("Dahn-tess", "Dahn-tess", "respelling"),
        ("  Dahn  tess ", "Dahn tess", "respelling"),
        (f"/{DANTES_IPA}/", f"/{DANTES_IPA}/", "phonemes"),
        (f"/ {DANTES_IPA}  mˈɔːɹəl /", f"/{DANTES_IPA} mˈɔːɹəl/", "phonemes"),
    ],
)
def test_good_replacements(replacement, cleaned, kind):
    assert clean_replacement(replacement) == cleaned
    assert replacement_kind(cleaned) == kind


@pytest.mark.parametrize(
    "replacement, message",
    [
        ("", "The replacement is empty"),
        ("//", "between the slashes are empty"),
        ("/dɑːn2tˈɛs/", "Unknown phoneme symbols: '2' (U+0032)"),
        ("/dɑːntˈɛsǂ/", "'ǂ' (U+01C2)"),
        ("/Xg/", "'X' (U+0058)"),
        ("/dɑːn", "write them as /.../"),
        ("and/or", "A '/' marks phonemes"),
        ("123", "has no letter"),
        ("y" * 201, "at most 200"),
        (None, "must be a string"),
    ],
)
def test_bad_replacements_are_named(replacement, message):
    with pytest.raises(InvalidRule) as caught:
        clean_replacement(replacement)
    assert caught.value.field == "replacement"
    assert message in str(caught.value)


def test_the_vocabulary_is_kokoros():
    vocabulary = model_vocabulary()
    assert len(vocabulary) == 114
    assert {"ɑ", "ː", "ˈ", "ɛ", " ", "."} <= vocabulary
    assert "2" not in vocabulary


# ------------------------------------------------------------------- matching


def test_matches_on_word_boundaries_only():
    lexicon = Lexicon([rule("Dantès", "Dahn-tess")])
    assert lexicon.apply("Dantès smiled; dantès wept.").text == "Dahn-tess smiled; Dahn-tess wept."
    assert lexicon.apply("Dantèsque and MonDantès").text == "Dantèsque and MonDantès"


def test_case_sensitive_rules_match_only_that_case():
    lexicon = Lexicon([rule("Reading", "Redding", case_sensitive=True)])
    assert lexicon.apply("Reading is a town; reading is a pastime.").text == "Redding is a town; reading is a pastime."


def test_longer_patterns_win_and_replaced_text_is_not_matched_again():
    lexicon = Lexicon([rule("Dantès", "Dahn-tess", key="short"), rule("Edmond Dantès", "Ed-mond Dahn-tess", key="long")])
    spoken = lexicon.apply("Edmond Dantès, or just Dantès.")
    assert spoken.text == "Ed-mond Dahn-tess, or just Dahn-tess."
    assert spoken.rule_keys == ("long", "short")


def test_a_phrase_matches_across_any_whitespace():
    lexicon = Lexicon([rule("Monte Cristo", "Mon-tay Kree-sto")])
    assert lexicon.apply("Monte\n Cristo").text == "Mon-tay Kree-sto"


def test_phoneme_rules_become_phoneme_pieces():
    spoken = Lexicon([rule("Dantès", f"/{DANTES_IPA}/")]).apply("Edmond Dantès smiled.")
    assert [(p.text, p.is_phonemes) for p in spoken.pieces] == [
        ("Edmond ", False), (DANTES_IPA, True), (" smiled.", False),
    ]
    assert spoken.text == f"Edmond /{DANTES_IPA}/ smiled."


def test_patterns_also_match_their_normalized_form():
    lexicon = compile_lexicon((rule("Mr. Morrel", "Mister Mor-rell"),))
    assert "Mor-rell" in spoken_form_of("Then Mr. Morrel arrived.", lexicon).text


def test_no_rules_changes_nothing():
    assert EMPTY_LEXICON.apply("Dantès").text == "Dantès"
    assert compile_lexicon(()) is EMPTY_LEXICON


def test_compiled_lexicons_are_reused_for_equal_rules():
    rules = (rule("Dantès", "Dahn-tess"),)
    assert compile_lexicon(rules) is compile_lexicon(tuple(rules))


# ------------------------------------------------- what the engine is given


class _Phonemizer:
    """The phonemizing half of a ``kokoro_onnx.Kokoro`` (espeak-ng; no model file needed)."""

    def __init__(self):
        from kokoro_onnx.tokenizer import Tokenizer

        self.tokenizer = Tokenizer()


@pytest.fixture(scope="module")
def phonemizer():
    return _Phonemizer()


def test_phoneme_rules_reach_the_model_as_written(phonemizer):
    plain = KokoroEngine(phonemizer).phonemize("Edmond Dantès smiled.")
    ruled = KokoroEngine(phonemizer, lexicon=Lexicon([rule("Dantès", f"/{DANTES_IPA}/")])).phonemize("Edmond Dantès smiled.")
    assert DANTES_IPA in ruled
    assert DANTES_IPA not in plain
    assert ruled.startswith(plain.split()[0])  # "Edmond" as espeak-ng reads it
    assert ruled.endswith(".")  # the sentence's full stop survives the split around the rule


def test_respellings_are_phonemized_like_text(phonemizer):
    engine = KokoroEngine(phonemizer, lexicon=Lexicon([rule("Dantès", "Dahn-tess")]))
    assert engine.phonemize("Dantès.") == KokoroEngine(phonemizer).phonemize("Dahn-tess.")


def test_punctuation_between_two_phoneme_rules_is_kept(phonemizer):
    lexicon = Lexicon([rule("Dantès", f"/{DANTES_IPA}/"), rule("Morrel", "/mɔɹˈɛl/")])
    phonemes = KokoroEngine(phonemizer, lexicon=lexicon).phonemize("Dantès, Morrel!")
    assert phonemes == f"{DANTES_IPA}, mɔɹˈɛl!"


def test_preview_counts_the_tokens_the_model_gets():
    lexicon = compile_lexicon((rule("Dantès", f"/{DANTES_IPA}/", key="r1"),))
    preview = preview_speech("Edmond Dantès smiled. He was 19 years old.", lexicon)
    assert preview.spoken_text.startswith(f"Edmond /{DANTES_IPA}/ smiled.")
    assert DANTES_IPA in preview.phonemes
    assert preview.token_count == len(preview.phonemes)
    assert preview.rule_keys == ("r1",)
