"""The paragraph splitter behind POST /api/projects/import/ (pure function tests)."""
from pathlib import Path

import pytest

from api.services.story_import import split_story

STORIES = Path(__file__).resolve().parents[4] / "shared" / "data" / "stories"


def test_blank_lines_separate_paragraphs_with_crlf_and_whitespace_lines():
    assert split_story("One.\r\n\r\nTwo.\n \t\nThree.") == ["One.", "Two.", "Three."]


def test_heading_is_its_own_segment_even_without_blank_line():
    assert split_story("# The Title\nFirst line of text.\n\n## Part Two\n\nMore.") == [
        "The Title",
        "First line of text.",
        "Part Two",
        "More.",
    ]


def test_chapter_heading_detected():
    assert split_story("CHAPTER IV. The Rabbit Sends in a Little Bill\nIt was the White Rabbit.") == [
        "CHAPTER IV. The Rabbit Sends in a Little Bill",
        "It was the White Rabbit.",
    ]


def test_scene_breaks_and_whitespace_paragraphs_dropped():
    assert split_story("A.\n\n* * *\n\n   \n\n---\n\nB.") == ["A.", "B."]


def test_verse_keeps_line_breaks():
    assert split_story("Twinkle, twinkle,\nlittle bat!\n\nNext.") == ["Twinkle, twinkle,\nlittle bat!", "Next."]


def test_empty_text_gives_nothing():
    assert split_story("") == [] and split_story("\n\n \n") == []


@pytest.mark.skipif(not STORIES.is_dir(), reason="shared stories not beside the repository")
def test_alice_keeps_chapter_headings_and_all_words():
    text = (STORIES / "carroll_alice_ch1-5.txt").read_text(encoding="utf-8")
    segments = split_story(text)
    assert sum(s.startswith("CHAPTER ") for s in segments) == 5
    assert segments[0] == "Alice's Adventures in Wonderland, Chapters I–V — Lewis Carroll"
    words = lambda s: [w for w in s.replace("#", " ").split() if w != "*"]  # noqa: E731
    assert words(" ".join(segments)) == words(text)
