"""A project's pronunciation lexicon: words or phrases replaced before phonemization.

A rule has a ``pattern`` (a word or phrase, matched on word boundaries, case-
insensitively unless ``case_sensitive``) and a ``replacement``, which is either

- a **respelling** ("Dantès" → "Dahn-tess"), phonemized by espeak-ng like any text, or
- **phonemes** written between slashes (``/dɑːntˈɛs/``): IPA as Kokoro's vocabulary
  writes it (the symbols espeak-ng produces, see ``model_vocabulary``), sent to the
  model as they are.

The lexicon is applied after text normalization (``text_normalization``) and
before phonemization, in one pass over the text: longer patterns win over shorter
ones ("Edmond Dantès" before "Dantès"), and text a rule has replaced is never
matched again. A pattern is matched both as written and in its normalized form,
so a rule for "1815" still finds "eighteen fifteen" after normalization.

Pure: no Django, no model. ``Lexicon.apply`` gives a ``SpokenForm``: the text as a
sequence of pieces, each plain text (for espeak-ng) or phonemes (for the model).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

#: Longest pattern, characters (a name or short phrase).
MAX_PATTERN_LENGTH = 100
#: Longest replacement, characters (a respelling or up to ~200 phoneme symbols).
MAX_REPLACEMENT_LENGTH = 200

PHONEMES = "phonemes"
RESPELLING = "respelling"


class InvalidRule(ValueError):
    """A lexicon rule that cannot be used. ``field`` is ``"pattern"`` or ``"replacement"``;
    the message names the bad part."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=1)
def model_vocabulary() -> frozenset[str]:
    """The symbols Kokoro-82M has tokens for (kokoro-onnx's ``config.json`` vocab, 114 symbols:
    IPA letters and stress/length marks, a few ASCII letters, punctuation and the space)."""
    from kokoro_onnx.config import DEFAULT_VOCAB  # kokoro_onnx pulls in onnxruntime: import lazily

    return frozenset(DEFAULT_VOCAB)


def replacement_kind(replacement: str) -> str:
    """``"phonemes"`` for ``/.../``, else ``"respelling"``."""
    text = replacement.strip()
    return PHONEMES if len(text) >= 2 and text.startswith("/") and text.endswith("/") else RESPELLING


def clean_pattern(pattern: object) -> str:
    """The pattern with surrounding spaces removed and inner runs of whitespace collapsed.

    Raises:
        InvalidRule("pattern", ...): not a string, empty, over ``MAX_PATTERN_LENGTH``
            characters, no letter or digit, or containing "/" (reserved for phonemes).
    """
    if not isinstance(pattern, str):
        raise InvalidRule("pattern", "The pattern must be a string (a word or phrase).")
    text = " ".join(pattern.split())
    if not text:
        raise InvalidRule("pattern", "The pattern is empty: give the word or phrase to replace.")
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidRule("pattern", f"The pattern is {len(text)} characters; at most {MAX_PATTERN_LENGTH}.")
    if not any(ch.isalnum() for ch in text):
        raise InvalidRule("pattern", f"The pattern {text!r} has no letter or digit; it must name a word or phrase.")
    if "/" in text:
        raise InvalidRule("pattern", f"The pattern {text!r} contains '/': slashes mark phonemes and belong in the replacement.")
    return text


def clean_replacement(replacement: object) -> str:
    """The replacement, checked: a respelling with a letter, or ``/phonemes/`` of known symbols.

    Raises:
        InvalidRule("replacement", ...): not a string, empty, over
            ``MAX_REPLACEMENT_LENGTH`` characters, a respelling without a letter or
            with a "/", phonemes not closed by "/" or empty, or phoneme symbols the
            model has no token for (each listed with its code point).
    """
    if not isinstance(replacement, str):
        raise InvalidRule("replacement", "The replacement must be a string: a respelling or /phonemes/.")
    text = replacement.strip()
    if not text:
        raise InvalidRule("replacement", "The replacement is empty: give a respelling (Dahn-tess) or phonemes (/dɑːntˈɛs/).")
    if len(text) > MAX_REPLACEMENT_LENGTH:
        raise InvalidRule("replacement", f"The replacement is {len(text)} characters; at most {MAX_REPLACEMENT_LENGTH}.")
    if replacement_kind(text) == PHONEMES:
        symbols = " ".join(text[1:-1].split())
        if not symbols:
            raise InvalidRule("replacement", "The phonemes between the slashes are empty.")
        vocabulary = model_vocabulary()
        unknown = sorted({ch for ch in symbols if ch not in vocabulary})
        if unknown:
            listed = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in unknown)
            raise InvalidRule(
                "replacement",
                f"Unknown phoneme symbols: {listed}. Write IPA as the model uses it, e.g. /dɑːntˈɛs/ "
                "(the speech preview shows the phonemes espeak-ng gives for a word).",
            )
        if "/" in symbols:
            raise InvalidRule("replacement", "Phonemes are written between one pair of slashes: /.../.")
        return f"/{symbols}/"
    if text.startswith("/") or text.endswith("/") or "/" in text:
        raise InvalidRule(
            "replacement", "A '/' marks phonemes: write them as /.../ (both slashes), or a respelling without slashes."
        )
    if not any(ch.isalpha() for ch in text):
        raise InvalidRule("replacement", f"The respelling {text!r} has no letter.")
    return " ".join(text.split())


@dataclass(frozen=True)
class LexiconRule:
    """One rule as the engine uses it: ``key`` identifies it (the database id), ``pattern`` and
    ``replacement`` as checked by ``clean_pattern``/``clean_replacement``."""

    key: str
    pattern: str
    replacement: str
    case_sensitive: bool = False

    @property
    def kind(self) -> str:
        """``"phonemes"`` or ``"respelling"``."""
        return replacement_kind(self.replacement)

    @property
    def content(self) -> str:
        """What the rule does, for the audio identity (independent of its id)."""
        return f"{self.pattern}\x1f{self.replacement}\x1f{int(self.case_sensitive)}"


@dataclass(frozen=True)
class Piece:
    """Part of a spoken form: ``text`` for espeak-ng, or ``phonemes`` (``is_phonemes``) for the model."""

    text: str
    is_phonemes: bool = False


@dataclass(frozen=True)
class SpokenForm:
    """Text as it will be spoken: ``pieces`` in order, and the rules that matched (``rule_keys``, first match order)."""

    pieces: tuple[Piece, ...]
    rule_keys: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The pieces as one string, phonemes between slashes: ``"Edmond /dɑːntˈɛs/ smiled."``."""
        return "".join(f"/{p.text}/" if p.is_phonemes else p.text for p in self.pieces)


def _pattern_regex(pattern: str, case_sensitive: bool) -> str:
    body = r"\s+".join(re.escape(word) for word in pattern.split())
    start = r"(?<!\w)" if pattern[0].isalnum() or pattern[0] == "_" else ""
    end = r"(?!\w)" if pattern[-1].isalnum() or pattern[-1] == "_" else ""
    return f"{start}{body}{end}" if case_sensitive else f"(?i:{start}{body}{end})"


class Lexicon:
    """Compiled rules of one project. Immutable; ``apply`` is thread-safe.

    Args:
        rules: the project's rules (already checked). Patterns are also matched in
            their normalized form (``normalize``), when that differs.
        normalize: the text normalizer the engine applies before the lexicon
            (``text_normalization.normalize_text``); None matches patterns as written only.
    """

    def __init__(self, rules: Iterable[LexiconRule], normalize=None):
        self.rules: tuple[LexiconRule, ...] = tuple(rules)
        alternatives: list[tuple[int, str, int]] = []  # (length, regex, rule index)
        for index, rule in enumerate(self.rules):
            forms = {rule.pattern}
            if normalize is not None:
                normalized = " ".join(normalize(rule.pattern).split())
                if normalized and any(ch.isalnum() for ch in normalized):
                    forms.add(normalized)
            for form in forms:
                alternatives.append((len(form), _pattern_regex(form, rule.case_sensitive), index))
        alternatives.sort(key=lambda item: (-item[0], item[2]))
        self._owners = [index for _, _, index in alternatives]
        self._regex = (
            re.compile("|".join(f"({regex})" for _, regex, _ in alternatives)) if alternatives else None
        )

    @property
    def key(self) -> tuple[str, ...]:
        """What the rules do (their ``content``), for caches and the audio identity."""
        return tuple(rule.content for rule in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def apply(self, text: str) -> SpokenForm:
        """Replace every match in ``text`` (already normalized) in one left-to-right pass."""
        if self._regex is None or not text:
            return SpokenForm((Piece(text),) if text else ())
        pieces: list[Piece] = []
        keys: list[str] = []
        position = 0
        for match in self._regex.finditer(text):
            rule = self.rules[self._owners[match.lastindex - 1]]
            if match.start() > position:
                pieces.append(Piece(text[position:match.start()]))
            if rule.kind == PHONEMES:
                pieces.append(Piece(rule.replacement[1:-1], is_phonemes=True))
            else:
                pieces.append(Piece(rule.replacement))
            if rule.key not in keys:
                keys.append(rule.key)
            position = match.end()
        if position < len(text):
            pieces.append(Piece(text[position:]))
        return SpokenForm(tuple(_merge_text(pieces)), tuple(keys))

    def matches(self, text: str) -> bool:
        """True if any rule matches ``text`` (already normalized)."""
        return self._regex is not None and self._regex.search(text) is not None


def _merge_text(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces joined (a respelling is text too)."""
    merged: list[Piece] = []
    for piece in pieces:
        if merged and not piece.is_phonemes and not merged[-1].is_phonemes:
            merged[-1] = Piece(merged[-1].text + piece.text)
        else:
            merged.append(piece)
    return merged


#: A lexicon without rules.
EMPTY_LEXICON = Lexicon(())


@lru_cache(maxsize=256)
def compile_lexicon(rules: tuple[LexiconRule, ...]) -> Lexicon:
    """The ``Lexicon`` of ``rules`` (patterns matched as written and normalized), reused for
    equal rule tuples so that per-sentence caches keyed by the lexicon hit across requests."""
    if not rules:
        return EMPTY_LEXICON
    from core_engine.text_normalization import normalize_text

    return Lexicon(rules, normalize=normalize_text)
