"""Split narration text into chunks the Kokoro model can speak in one pass.

Pure functions, no model: the token counter is passed in (in production
``len(kokoro.tokenizer.phonemize(text))``, one token per phoneme symbol).

Why chunk at all: Kokoro-82M has a 512-position context, of which 510 are
usable tokens (kokoro-onnx ``MAX_PHONEME_LENGTH = 510``; it raises or cuts
beyond that). Quality also drops on very long inputs, so peers (kokoro-onnx's
own examples, Kokoro-FastAPI's ``TARGET_MIN/MAX_TOKENS`` = 175/250) split text
at sentence and clause boundaries into chunks of roughly 175–250 tokens. We use
a target of 175 tokens and a hard ceiling of 510 (see ``DEFAULT_TARGET_TOKENS``).

Strategy:

1. ``normalize_text``: curly quotes to straight, ``--`` to an em-dash, markup
   symbols (``* _ # ~``…) removed, runs of spaces collapsed, paragraphs kept.
2. ``split_sentences``: split at . ! ? and ellipses, except after abbreviations
   (Mr. Mrs. M. Dr. …) and single-letter initials, and when the next word starts
   in lower case (``"Help!" he cried.``, ``and then... nothing``).
3. A sentence over the target is split at clause boundaries (, ; : — – and line
   breaks), and a clause still over the target at word boundaries (a single
   "word" over the target is cut by characters, so nothing is ever dropped).
4. Consecutive pieces of a paragraph are packed together while the packed text
   stays within the target.

Each chunk also lists its ``pieces``: the sentences, or pieces of one long sentence,
it was packed from, each with the index of its sentence in the whole text, so the
engine can tell which sound belongs to which sentence (sentence cues).

Each chunk records the pause that should follow it: ``SENTENCE_PAUSE`` after a
sentence end, ``CLAUSE_PAUSE`` after a clause split, ``WORD_PAUSE`` after a
word-level split, ``PARAGRAPH_PAUSE`` after a paragraph, and 0 after the last chunk.
Invariant: the chunk texts, concatenated with whitespace removed, equal
``normalize_text(text)`` with whitespace removed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Callable, Sequence

#: Soft chunk size in tokens (phonemes): the lower end of the 175–250 tokens peers use.
#: Measured on 1,200 characters of Andersen (2-core Xeon with VNNI, int8, one run each):
#: one session RTF 0.508 at 250 against 0.452 at 175 (peak RSS 710 → 569 MB); two
#: one-thread sessions RTF 0.477 at 250 against 0.382 at 175 (1,202 → 914 MB): shorter
#: chunks cost the model less per token and share out better over parallel sessions.
DEFAULT_TARGET_TOKENS = 175
#: Hard limit in tokens: Kokoro's 512 positions minus the two pad tokens (kokoro-onnx MAX_PHONEME_LENGTH).
MAX_TOKENS = 510

#: Seconds of silence after a sentence end. Typical inter-sentence pause in read
#: speech is 0.3–0.6 s; the model already leaves ~0.1 s at the end of a chunk.
SENTENCE_PAUSE = 0.30
#: Seconds after a clause-level split (comma/semicolon/dash), about half a sentence pause.
CLAUSE_PAUSE = 0.15
#: Seconds after a word-level split: just enough to avoid a click, not heard as a pause.
WORD_PAUSE = 0.03
#: Seconds after a paragraph (blank line), double the sentence pause.
PARAGRAPH_PAUSE = 0.60

_PAUSES = {
    "paragraph": PARAGRAPH_PAUSE,
    "sentence": SENTENCE_PAUSE,
    "clause": CLAUSE_PAUSE,
    "word": WORD_PAUSE,
    "end": 0.0,
}

#: Words after which a full stop does not end a sentence (compared without the dot).
ABBREVIATIONS = frozenset(
    {
        "Mr", "Mrs", "Ms", "Mssrs", "Messrs", "Dr", "St", "Mt", "Mme", "Mlle", "Mmes",
        "Jr", "Sr", "Prof", "Capt", "Col", "Gen", "Lt", "Sgt", "Maj", "Rev", "Hon",
        "Gov", "Pres", "Sen", "Rep", "Fr", "Bros", "Co", "Inc", "Ltd", "vs", "viz",
        "cf", "e.g", "i.e", "approx", "Vol", "vol", "ch", "Ch", "p", "pp",
    }
)

#: Abbreviations of "number": they end a sentence only when no digit follows ("No. 5" vs "No. I").
NUMBER_ABBREVIATIONS = frozenset({"No", "no", "Nos", "nos"})

_QUOTE_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2212": "-",
        "\u2015": "\u2014",  # horizontal bar -> em-dash
    }
)
# Symbols the phonemizer would read out ("asterisk") but a narrator never would.
_MARKUP = re.compile(r"[*_#~`|\\^<>\[\]{}]+")


@dataclass(frozen=True)
class SentencePiece:
    """A whole sentence, or one piece of a sentence split for length, inside a chunk.

    Attributes:
        text: the piece's text (normalized, stripped, never empty).
        sentence_index: 0-based index of its sentence among all sentences of the text
            given to ``chunk_text`` (counted over all paragraphs, in reading order).
        sentence: the whole sentence's normalized text (line breaks kept), the same for
            every piece of one sentence.
    """

    text: str
    sentence_index: int
    sentence: str


@dataclass(frozen=True)
class TextChunk:
    """One unit of synthesis.

    Attributes:
        text: the chunk's text (normalized; never empty).
        pause_after: seconds of silence to insert after this chunk's audio.
        tokens: token count of the chunk as ``chunk_text`` counted it (``count_chunk`` of its
            pieces, by default ``count_tokens(text)``; ≤ target ≤ 510).
        boundary: what ends the chunk: "paragraph", "sentence", "clause", "word" or "end".
        pieces: the sentences / sentence pieces packed into this chunk, in order;
            ``text == " ".join(p.text for p in pieces)``. Pieces of one sentence may span
            consecutive chunks. Empty only for a ``TextChunk`` built by hand.
    """

    text: str
    pause_after: float
    tokens: int
    boundary: str
    pieces: tuple[SentencePiece, ...] = ()


def normalize_text(text: str) -> str:
    """Normalize typography for TTS, keeping paragraph structure.

    NFKC (… becomes ..., non-breaking spaces become spaces), curly quotes and
    guillemets to straight quotes, ``--`` to an em-dash, markup symbols
    (``* _ # ~ ` | \\ ^ < > [ ] { }``) removed, runs of spaces collapsed, each
    line stripped, blank-line runs collapsed to one blank line (a paragraph
    break). Returns "" for text with nothing left.
    """
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTE_MAP)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"(?<!-)--(?!-)", "\u2014", text)
    text = _MARKUP.sub(" ", text)
    lines = [re.sub(r"[^\S\n]+", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{2,}", "\n\n", text)
    return text.strip()


def split_paragraphs(text: str) -> list[str]:
    """Split normalized text at blank lines; empty paragraphs are dropped."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# A sentence terminator: a run of . ! ? (an ellipsis is "..."), optional
# closing quotes/brackets, then whitespace before the next word.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+\S)")
_LAST_WORD = re.compile(r"([\w.'-]+)$")
_NEXT_CHAR = re.compile(r"\s+[\"'(\[]*(\S)")


def _is_sentence_end(text: str, match: re.Match) -> bool:
    marks = match.group(0).rstrip("\"')]")
    next_char = _NEXT_CHAR.match(text, match.end())
    if next_char is None:
        return False
    nxt = next_char.group(1)
    # "and then... nothing", '"Help!" he cried': the sentence goes on.
    if nxt.islower():
        return False
    if marks == ".":
        word_match = _LAST_WORD.search(text, 0, match.start())
        word = word_match.group(1) if word_match else ""
        word = word.lstrip("'-")
        if word in ABBREVIATIONS or word.rstrip(".") in ABBREVIATIONS:
            return False
        # "Room No. 5", "Nos. 3 and 4": a number sign, unless an answer ("No. I gave...").
        if word in NUMBER_ABBREVIATIONS and nxt.isdigit():
            return False
        # Initials: "J. R. R. Tolkien", "M. Morrel".
        if len(word) == 1 and word.isalpha() and word.isupper():
            return False
    return True


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences (see module docstring for the rules).

    Returns the sentences, stripped, in order; their concatenation (ignoring
    whitespace) is the paragraph.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        if _is_sentence_end(paragraph, match):
            piece = paragraph[start : match.end()].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


# Clause boundaries: after , ; : (plus closing quotes) followed by space, after a
# dash (spaced or not), and at line breaks. The mark stays with the text before.
_CLAUSE_SPLIT = re.compile(r"(?<=[,;:])[\"')\]]*\s+|(?<=[\u2014\u2013])\s*|\s*\n\s*")


def split_clauses(sentence: str) -> list[str]:
    """Split a sentence at clause boundaries (, ; : — – and line breaks); empty pieces dropped."""
    pieces: list[str] = []
    start = 0
    for match in _CLAUSE_SPLIT.finditer(sentence):
        end = match.start()
        # keep closing quotes with the clause they close
        closing = re.match(r"[\"')\]]*", sentence[end:]).group(0)
        piece = sentence[start : end + len(closing)].strip()
        if piece:
            pieces.append(piece)
        start = max(match.end(), end + len(closing))
    tail = sentence[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def _split_long_word(word: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Cut one over-long run of characters in halves until each piece fits ``limit``."""
    if len(word) <= 1 or count_tokens(word) <= limit:
        return [word]
    middle = len(word) // 2
    return _split_long_word(word[:middle], count_tokens, limit) + _split_long_word(
        word[middle:], count_tokens, limit
    )


def split_words(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Greedily pack the words of ``text`` into pieces of at most ``limit`` tokens."""
    pieces: list[str] = []
    current = ""
    for word in text.split():
        for part in _split_long_word(word, count_tokens, limit):
            candidate = f"{current} {part}" if current else part
            if current and count_tokens(candidate) > limit:
                pieces.append(current)
                current = part
            else:
                current = candidate
    if current:
        pieces.append(current)
    return pieces


def _units(sentence: str, count_tokens: Callable[[str], int], limit: int) -> list[tuple[str, str]]:
    """Break one sentence into (text, boundary) units each within ``limit`` tokens."""
    if count_tokens(sentence) <= limit:
        return [(sentence, "sentence")]
    units: list[tuple[str, str]] = []
    for clause in split_clauses(sentence):
        if count_tokens(clause) <= limit:
            units.append((clause, "clause"))
        else:
            words = split_words(clause, count_tokens, limit)
            units.extend((w, "word") for w in words[:-1])
            units.append((words[-1], "clause"))
    last_text, _ = units[-1]
    units[-1] = (last_text, "sentence")
    return units


def _chunk(
    pieces: list[SentencePiece], boundary: str, count_chunk: Callable[[Sequence[SentencePiece]], int]
) -> TextChunk:
    return TextChunk(
        text=" ".join(piece.text for piece in pieces),
        pause_after=_PAUSES[boundary],
        tokens=count_chunk(pieces),
        boundary=boundary,
        pieces=tuple(pieces),
    )


def chunk_text(
    text: str,
    count_tokens: Callable[[str], int],
    target_tokens: int = DEFAULT_TARGET_TOKENS,
    count_chunk: Callable[[Sequence[SentencePiece]], int] | None = None,
) -> list[TextChunk]:
    """Split ``text`` into ``TextChunk``s of at most ``target_tokens`` tokens.

    Args:
        text: raw narration text (any length, any typography).
        count_tokens: maps a string to its token count (production: phoneme count
            from kokoro-onnx's phonemizer). Must be roughly monotonic in length.
        target_tokens: soft chunk size; clamped to [1, MAX_TOKENS=510].
        count_chunk: token count of a chunk packed from these pieces (what packing
            keeps within the target). Default: ``count_tokens`` of their texts joined
            by spaces. The engine passes the length of what it will give the model
            (``KokoroEngine.chunk_phonemes``: phonemized sentence by sentence).

    Returns:
        Chunks in reading order; ``[]`` when the normalized text is empty. Every
        chunk has ``tokens <= target_tokens``; the last chunk's ``pause_after`` is 0.
    """
    limit = max(1, min(int(target_tokens), MAX_TOKENS))
    if count_chunk is None:

        def count_chunk(pieces: Sequence[SentencePiece]) -> int:
            return count_tokens(" ".join(piece.text for piece in pieces))

    normalized = normalize_text(text)
    chunks: list[TextChunk] = []
    sentence_index = 0
    for paragraph in split_paragraphs(normalized):
        units: list[tuple[SentencePiece, str]] = []
        for sentence in split_sentences(paragraph):
            units.extend(
                (SentencePiece(unit_text, sentence_index, sentence), boundary)
                for unit_text, boundary in _units(sentence, count_tokens, limit)
            )
            sentence_index += 1
        # Pack consecutive units within the paragraph.
        first, current_boundary = units[0]
        current = [first]
        packed: list[tuple[list[SentencePiece], str]] = []
        for piece, boundary in units[1:]:
            if count_chunk([*current, piece]) <= limit:
                current.append(piece)
                current_boundary = boundary
            else:
                packed.append((current, current_boundary))
                current, current_boundary = [piece], boundary
        packed.append((current, "paragraph"))
        chunks.extend(_chunk(pieces, boundary, count_chunk) for pieces, boundary in packed)
    if chunks:
        chunks[-1] = replace(chunks[-1], pause_after=0.0, boundary="end")
    return chunks


def has_speakable_content(text: str) -> bool:
    """True if ``text`` contains at least one letter or digit (something a narrator would say)."""
    return any(ch.isalnum() for ch in text)
