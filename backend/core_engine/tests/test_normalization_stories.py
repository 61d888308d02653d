"""text_normalization on real stories from ../shared/data/stories (see its README.md): every
date, amount and "M." of the Monte Cristo chapter and "The Gift of the Magi" reads as words
in the spoken form; prose with nothing to normalize comes out unchanged.

Each story is normalized paragraph by paragraph, as the app does segment by segment. The
folder sits next to the repository (present in CI); a clone without it skips these tests.
"""
import re
from pathlib import Path

import pytest

from core_engine.text_normalization import normalize_text

# backend/core_engine/tests/<this file> → parents[3] is the repository root.
STORIES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "stories"
DUMAS = "dumas_monte_cristo_ch1_tts_hard.txt"
OHENRY = "ohenry_gift_of_the_magi.txt"
DIGIT = re.compile(r"[0-9]")


def body(name: str) -> str:
    """The story without its header (README: line 1 "# Title — Author", line 2 "Source:
    ...", line 3 blank)."""
    if not STORIES.is_dir():
        pytest.skip(f"story texts not found at {STORIES.resolve()} (they live in ../shared next to the repository; a standalone clone has no ../shared)")
    lines = (STORIES / name).read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("# ") and lines[1].startswith("Source: ") and lines[2] == ""
    return "\n".join(lines[3:])


def spoken_paragraphs(name: str) -> list[tuple[str, str]]:
    """(paragraph, its spoken form) for each paragraph of the story."""
    return [(p, normalize_text(p)) for p in body(name).split("\n\n") if p.strip()]


def spoken_story(name: str) -> str:
    return "\n\n".join(spoken for _, spoken in spoken_paragraphs(name))


def spoken_of(name: str, fragment: str) -> str:
    """The spoken form of the one paragraph that contains ``fragment``."""
    matches = [spoken for text, spoken in spoken_paragraphs(name) if fragment in text]
    assert len(matches) == 1, fragment
    return matches[0]


@pytest.mark.parametrize("name", [DUMAS, OHENRY])
def test_no_digit_left_where_there_were_dates_and_amounts(name):
    with_numbers = [(text, spoken) for text, spoken in spoken_paragraphs(name) if DIGIT.search(text)]
    assert with_numbers  # the story does have them
    assert [spoken for _, spoken in with_numbers if DIGIT.search(spoken) or "$" in spoken] == []


def test_monte_cristo_date_and_francs_read_as_words():
    assert spoken_of(DUMAS, "24th of February, 1815").startswith(
        "On the twenty-fourth of February, eighteen fifteen, the look-out at Notre-Dame de la Garde"
    )
    assert "not to take twenty-five thousand francs for the profits of the voyage." in spoken_of(DUMAS, "25,000 francs")
    assert spoken_of(DUMAS, "Chapter 1.") == "Chapter one. Marseilles—The Arrival"


def test_monte_cristo_every_m_is_monsieur():
    text, spoken = body(DUMAS), spoken_story(DUMAS)
    assert len(re.findall(r"\bM\.", text)) == 16  # as the README says
    assert re.search(r"\bM\.", spoken) is None
    assert spoken.count("Monsieur") == 16
    assert "here is your supercargo, Monsieur Danglars, coming out of his cabin" in spoken
    assert "“Ah, Monsieur Morrel,” exclaimed the young seaman" in spoken
    assert "grasping the owner’s hand, “Monsieur Morrel, I thank you" in spoken


def test_monte_cristo_keeps_its_punctuation_and_pronouns():
    text, spoken = body(DUMAS), spoken_story(DUMAS)
    assert spoken.count(".") == text.count(".") - 16  # only the stops of the 16 "M."
    assert spoken.count(",") == text.count(",") - 1  # only the one inside "25,000"
    for mark in "!?;:—“”‘’":
        assert spoken.count(mark) == text.count(mark), mark
    assert len(re.findall(r"\bI\b", spoken)) == len(re.findall(r"\bI\b", text))
    assert "Morrel and Son" in spoken and "&" not in spoken
    assert "“No, sir; I have all my pay to take" in spoken
    assert "“May I have the use of your skiff?”" in spoken


def test_gift_of_the_magi_amounts_read_as_words():
    assert "she had only one dollar and eighty-seven cents with which to buy Jim a present." in spoken_of(OHENRY, "Christmas Day")
    assert "Only one dollar and eighty-seven cents to buy a present for Jim." in spoken_of(OHENRY, "Christmas Day")
    assert "A furnished flat at eight dollars per week." in spoken_of(OHENRY, "$8 per week")
    assert "Perhaps you have seen a pierglass in an eight dollar flat." in spoken_of(OHENRY, "an $8 flat")
    twelve = spoken_of(OHENRY, "$30 per week")
    assert "was being paid thirty dollars per week. Now, when the income was shrunk to twenty dollars, though," in twelve
    assert "hurried home with the eighty-seven cents." in spoken_of(OHENRY, "the 87 cents")
    assert spoken_of(OHENRY, "At 7 o'clock").startswith("At seven o'clock the coffee was made")


def test_gift_of_the_magi_titles_read_as_words():
    text, spoken = body(OHENRY), spoken_story(OHENRY)
    assert re.search(r"\b(?:Mr|Mrs|Mme)\.", spoken) is None
    assert 'a card bearing the name "Mister James Dillingham Young."' in spoken
    assert "greatly hugged by Missus James Dillingham Young" in spoken
    assert 'the sign read: "Madame Sofronie. Hair Goods of All Kinds."' in spoken
    assert "a modest and unassuming D. But" in spoken  # a letter, not five hundred
    removed_stops = len(re.findall(r"\bM(?:r|rs|me)\.", text)) + text.count("$1.87")
    assert spoken.count(".") == text.count(".") - removed_stops
    assert spoken.count(",") == text.count(",")
    assert len(re.findall(r"\bI\b", spoken)) == len(re.findall(r"\bI\b", text))


@pytest.mark.parametrize(
    "name",
    ["poe_tell_tale_heart.txt", "wilde_selfish_giant.txt", "andersen_emperors_new_clothes.txt", "grimm_rumpelstiltskin.txt"],
)
def test_prose_with_nothing_to_normalize_is_unchanged(name):
    """Thousands of words of dialogue with "I", "No, ...", "May", capitals ("Mr
    RUMPLESTILTSKIN", "TRESPASSERS WILL BE PROSECUTED") and dashes: nothing is touched."""
    changed = [(text, spoken) for text, spoken in spoken_paragraphs(name) if spoken != text]
    assert changed == []


def test_alice_only_its_chapter_numerals_change():
    changed = {text: spoken for text, spoken in spoken_paragraphs("carroll_alice_ch1-5.txt") if spoken != text}
    assert changed == {
        "CHAPTER I. Down the Rabbit-Hole": "CHAPTER one. Down the Rabbit-Hole",
        "CHAPTER II. The Pool of Tears": "CHAPTER two. The Pool of Tears",
        "CHAPTER III. A Caucus-Race and a Long Tale": "CHAPTER three. A Caucus-Race and a Long Tale",
        "CHAPTER IV. The Rabbit Sends in a Little Bill": "CHAPTER four. The Rabbit Sends in a Little Bill",
        "CHAPTER V. Advice from a Caterpillar": "CHAPTER five. Advice from a Caterpillar",
    }
