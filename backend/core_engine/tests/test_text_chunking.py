"""Pure tests of text_chunking (no model): limits, nothing lost, sentence rules, pauses."""
import re

import pytest

from core_engine.text_chunking import (
    CLAUSE_PAUSE,
    MAX_TOKENS,
    PARAGRAPH_PAUSE,
    SENTENCE_PAUSE,
    WORD_PAUSE,
    SentencePiece,
    chunk_text,
    normalize_text,
    split_clauses,
    split_sentences,
)
from core_engine.tests.helpers import word_sentence


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_nothing_lost(text: str, chunks) -> None:
    assert no_space("".join(c.text for c in chunks)) == no_space(normalize_text(text))


STORY = (
    "True!\u2014nervous\u2014very, very dreadfully nervous I had been and am; but why will you say "
    "that I am mad? The disease had sharpened my senses\u2014not destroyed\u2014not dulled them. "
    "Above all was the sense of hearing acute. I heard all things in the heaven and in the earth. "
    "\u201cHow, then, am I mad?\u201d Hearken! and observe how healthily\u2014how calmly I can tell "
    "you the whole story.\n\nIt is impossible to say how first the idea entered my brain; but once "
    "conceived, it haunted me day and night. Object there was none. Passion there was none. "
    "I loved the old man. He had never wronged me. He had never given me insult. For his gold "
    "I had no desire. I think it was his eye! yes, it was this! He had the eye of a vulture\u2026 "
    "a pale blue eye, with a film over it."
)


@pytest.mark.parametrize("target", [40, 120, 250])
def test_chunks_respect_target_and_lose_nothing(target):
    chunks = chunk_text(STORY, len, target)
    assert len(chunks) > 1
    assert all(0 < c.tokens <= target for c in chunks)
    assert all(len(c.text) <= target for c in chunks)  # count_tokens=len: tokens is the length
    assert_nothing_lost(STORY, chunks)


def test_short_sentences_are_packed_up_to_target():
    text = "He had never wronged me. He had never given me insult. For his gold I had no desire."
    chunks = chunk_text(text, len, 250)
    assert [c.text for c in chunks] == [text]
    # with a target just under the whole text, the first two sentences go together
    chunks = chunk_text(text, len, 60)
    assert [c.text for c in chunks] == [
        "He had never wronged me. He had never given me insult.",
        "For his gold I had no desire.",
    ]
    assert [c.pause_after for c in chunks] == [SENTENCE_PAUSE, 0.0]


def test_paragraphs_are_not_packed_together_and_get_a_longer_pause():
    chunks = chunk_text("First paragraph.\n\nSecond paragraph.", len, 250)
    assert [c.text for c in chunks] == ["First paragraph.", "Second paragraph."]
    assert [c.pause_after for c in chunks] == [PARAGRAPH_PAUSE, 0.0]


def test_long_sentence_splits_at_clauses_with_clause_pause():
    text = "One two three four five, six seven eight nine ten; eleven twelve thirteen."
    chunks = chunk_text(text, len, 30)
    assert [c.text for c in chunks] == [
        "One two three four five,",
        "six seven eight nine ten;",
        "eleven twelve thirteen.",
    ]
    assert [c.pause_after for c in chunks] == [CLAUSE_PAUSE, CLAUSE_PAUSE, 0.0]
    assert [c.boundary for c in chunks] == ["clause", "clause", "end"]


def test_2000_char_sentence_without_punctuation_is_split_at_words():
    text = word_sentence(2000)
    assert len(text) == 2000 and not re.search(r"[.,;:!?]", text)
    chunks = chunk_text(text, len)  # default target 250
    assert len(chunks) >= 8
    assert all(c.tokens <= 250 for c in chunks)
    assert all(c.pause_after == WORD_PAUSE for c in chunks[:-1])
    assert chunks[-1].pause_after == 0.0
    # split between words: every chunk starts and ends with a whole word of the pool
    assert " ".join(c.text for c in chunks) == text


def test_unbroken_run_longer_than_the_limit_is_cut_not_dropped():
    text = "x" * 1200
    chunks = chunk_text(text, len, 250)
    assert all(c.tokens <= 250 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_target_is_clamped_to_model_limit():
    chunks = chunk_text(word_sentence(3000, seed=3), len, 10_000)
    assert max(c.tokens for c in chunks) <= MAX_TOKENS
    assert max(c.tokens for c in chunks) > 400  # the clamp, not a smaller default, applies


def test_abbreviations_and_initials_do_not_end_sentences():
    para = (
        "Mr. Smith met Mrs. Jones and Dr. Watson at St. Paul's. "
        "M. Morrel greeted J. R. R. Tolkien. They left."
    )
    assert split_sentences(para) == [
        "Mr. Smith met Mrs. Jones and Dr. Watson at St. Paul's.",
        "M. Morrel greeted J. R. R. Tolkien.",
        "They left.",
    ]


def test_a_number_sign_does_not_end_a_sentence_but_an_answer_does():
    assert split_sentences("He lived at No. 5 Rue de Rome. Nos. 3 and 4 were empty.") == [
        "He lived at No. 5 Rue de Rome.",
        "Nos. 3 and 4 were empty.",
    ]
    assert split_sentences("No. I gave them a copy. No. 7 was his.") == ["No.", "I gave them a copy.", "No. 7 was his."]


def test_ellipses_and_dialogue_tags():
    para = normalize_text('And then\u2026 nothing. "Help!" he cried. Wait... Go on! "Why?" Because.')
    assert split_sentences(para) == [
        "And then... nothing.",
        '"Help!" he cried.',
        "Wait...",
        "Go on!",
        '"Why?"',
        "Because.",
    ]


def test_normalize_text_typography():
    text = "\u201cCurly\u201d \u2018quotes\u2019 --  dashes\u00a0and * * * markup_\n\n\n\nNext"
    assert normalize_text(text) == '"Curly" \'quotes\' \u2014 dashes and markup\n\nNext'


def test_clauses_split_at_dashes_and_line_breaks():
    assert split_clauses("nervous\u2014very, very nervous\nI had been") == [
        "nervous\u2014",
        "very,",
        "very nervous",
        "I had been",
    ]
    # a comma inside closing quotes stays with its clause
    assert split_clauses('"Hello," said he') == ['"Hello,"', "said he"]


@pytest.mark.parametrize("text", ["", "   \n\t ", "* * *", "___"])
def test_empty_or_markup_only_text_gives_no_chunks(text):
    assert chunk_text(text, len) == []


def test_token_counter_is_what_limits_chunks():
    # a counter that says every character is 3 tokens gives ~3x more chunks
    text = word_sentence(1500, seed=1)
    plain = chunk_text(text, len, 200)
    heavy = chunk_text(text, lambda s: 3 * len(s), 200)
    assert all(c.tokens <= 200 for c in heavy)
    assert len(heavy) >= 2.5 * len(plain)
    assert_nothing_lost(text, heavy)


def sentences_from_pieces(chunks) -> list[str]:
    """Each sentence once, in order, as recorded by the chunks' pieces."""
    seen: dict[int, str] = {}
    for chunk in chunks:
        for piece in chunk.pieces:
            seen.setdefault(piece.sentence_index, piece.sentence)
    assert sorted(seen) == list(range(len(seen)))
    return [seen[i] for i in range(len(seen))]


@pytest.mark.parametrize("target", [30, 60, 120, 250])
def test_pieces_rebuild_each_chunk_and_number_the_sentences(target):
    chunks = chunk_text(STORY, len, target)
    for chunk in chunks:
        assert chunk.pieces and chunk.text == " ".join(p.text for p in chunk.pieces)
    pieces = [p for c in chunks for p in c.pieces]
    # sentence indices never go back, and pieces of one sentence are contiguous
    indices = [p.sentence_index for p in pieces]
    assert indices == sorted(indices)
    expected = [s for para in normalize_text(STORY).split("\n\n") for s in split_sentences(para)]
    assert sentences_from_pieces(chunks) == expected
    # the pieces of each sentence, in order, spell the sentence (whitespace aside)
    for index, sentence in enumerate(expected):
        own = [p.text for p in pieces if p.sentence_index == index]
        assert no_space("".join(own)) == no_space(sentence)


def test_a_long_sentence_spans_chunks_as_pieces_of_one_sentence():
    text = "Short one. One two three four five, six seven eight nine ten; eleven twelve thirteen. Last."
    chunks = chunk_text(text, len, 36)
    assert [[(p.text, p.sentence_index) for p in c.pieces] for c in chunks] == [
        [("Short one.", 0), ("One two three four five,", 1)],
        [("six seven eight nine ten;", 1)],
        [("eleven twelve thirteen.", 1), ("Last.", 2)],
    ]
    long_sentence = "One two three four five, six seven eight nine ten; eleven twelve thirteen."
    assert chunks[1].pieces == (SentencePiece("six seven eight nine ten;", 1, long_sentence),)


def test_sentence_indices_run_across_paragraphs():
    chunks = chunk_text("One. Two.\n\nThree.", len, 250)
    assert [[p.sentence_index for p in c.pieces] for c in chunks] == [[0, 1], [2]]
