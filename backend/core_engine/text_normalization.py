r"""Written English → spoken English, before phonemization (espeak-ng through phonemizer).

``normalize_text(text)`` returns the *spoken form* of ``text``: the words a person reads
aloud for its numbers, dates, money, times, Roman numerals, abbreviations, units, fractions
and "&". The writer's text is never changed; only this spoken form goes on to the
pronunciation lexicon and the phonemizer. It is pure (no Django, no I/O), deterministic,
memoized (``functools.lru_cache``) and never raises: each rule runs inside a guard, and a
rule that fails is logged and skipped, leaving the text as it was before that rule.

The pipeline
------------
``RULES`` is one ordered tuple of small named rules, each ``NormalizationRule(name,
description, apply)`` where ``apply(str) -> str``. They run in this order:

 1. ``honorifics``          Mr. Mrs. Ms. Dr. Messrs. Mme Mlle, French "M." / "MM." before a
                            name, Prof. Capt. Col. Gen. Lt. Sgt. Rev. Gov. Hon. Mt., Jr./Sr.
 2. ``saint_street``        "St." → Saint ("St. Paul") or Street ("Baker St.") from context.
 3. ``latin_abbreviations`` etc. e.g. i.e. vs. viz. cf. &c.
 4. ``ampersand``           "&" → "and".
 5. ``number_sign``         "No. 5" / "Nos. 3" / "#5" → "number 5".
 6. ``clock_times``         "4:30", "10:05 a.m.", "7 p.m.", "14:00".
 7. ``number_ranges``       "1812–1815", "1812-15" → "1812 to 1815"; "5–10" → "5 to 10".
 8. ``money``               "$1.87", "£5", "€2.50", "$2 million", "25 €", "50¢".
 9. ``percentages``         "50%", "3.5 %".
10. ``units``               "5 km", "2.5kg", "30 °C", "60 mph" (US spelling).
11. ``fractions``           "1/2", "3/4", "2 1/2", "½", "2¾".
12. ``decades``             "the 1990s", "1800s", "the '60s".
13. ``ordinals``            "21st", "the 24th of February", "1,000th".
14. ``dates``               "February 24" → "February twenty-fourth", "24 February" →
                            "the twenty-fourth of February", ISO "2005-10-12".
15. ``roman_numerals``      "CHAPTER XIV", "Act III", "World War II" (cardinal); "Louis
                            XVIII", "Pope Pius IX" (regnal: "the Eighteenth"); a line that
                            is only a numeral ("IV.").
16. ``years``               a bare 1000–2099: "1815" → "eighteen fifteen", "2005" → "two
                            thousand five", "1066" → "ten sixty-six".
17. ``cardinals``           every other number: "1,000" → "one thousand", "3.5" → "three
                            point five", "-4" → "minus four", "2.0.1" → "two point zero
                            point one", "007" → "zero zero seven".
18. ``digit_separators``    safety net: any "." or "," still between two digits (a number
                            glued to letters, "B1.5", or one too long to spell) is rewritten
                            as the phonemizer needs it (see below).

Why the order matters
---------------------
* Abbreviations come first: their full stops would otherwise read as sentence ends, and
  "No." must become "number" while the digits after it are still digits.
* Clock times before everything numeric: "4:30" would otherwise become "four:thirty".
* Ranges before money and units, so "5–10 km" reads "five to ten kilometers" and
  "1812-15" is expanded to two full years before the year rule sees it.
* Money, percentages, units and fractions before cardinals: each needs the number whole
  ("$1.87" is dollars and cents, not "one point eight seven"; "1/2" is "one half", not
  "one/two"), and each decides singular/plural from the digits.
* Decades, ordinals and dates before years, and years before cardinals: "1990s", "1815th"
  and "February 24" are not plain years, and "1815" as a year is "eighteen fifteen", not
  "one thousand eight hundred fifteen".
* Roman numerals only in context (after a heading word, after a monarch's or pope's name,
  alone on a line): "I" is a pronoun unless a heading word or a regnal name is right
  before it and no lowercase word follows ("Chapter I" yes, "Charles I went" no), and
  words made of numeral letters ("MIX", "CIVIL", "DID", "LID", "D.") are never touched.
* ``digit_separators`` is last, so nothing with "." or "," inside a number can reach the
  phonemizer, whatever the rules before it did or did not understand.

Numbers with "." or "," inside must not reach the phonemizer
-------------------------------------------------------------
phonemizer 3.4 keeps "1.87" whole, but when the text ends in a bare "." or "," (a sentence
or clause phonemized on its own) it splits the text at the first occurrence of that mark,
which is the one inside the number: "He had $1.87." became "dollar one. eighty seven" and
"1,000 men," "one, zero zero zero" (``Punctuation._preserve_line`` cuts at
``line.split(mark)``, not at the match). So every number a rule converts leaves no "." or
"," inside: decimals are read "point" + one word per digit ("three point one four", which
also gets the stressed "point" espeak gives the spelled-out word), thousands separators
go ("one thousand"). A number no rule understands is left as digits for espeak to read,
with only its separators rewritten by ``digit_separators`` (thousands separator dropped,
decimal point → " point " + digits one by one, any other comma between digits → ", ").
Nothing is dropped.

Conventions and sources
-----------------------
* Number words: num2words 0.5.14 (``lang="en"``; ``to="ordinal"``, ``to="year"``). Its
  British "and" ("two thousand and five", "one hundred and first") and its group commas
  are removed: American usage, and no "," may be produced inside a spoken number.
* Years are read as people read them (Chicago Manual of Style's treatment of years as a
  class of their own, and common American usage): in pairs ("eighteen fifteen"), "oh"
  for a zero tens digit ("nineteen oh five"), "hundred" for round centuries ("nineteen
  hundred"), "two thousand five" for 2000–2009, "twenty ten" from 2010. A bare
  four-digit number 1000–2099 is taken as a year (CMOS writes other numbers of four
  digits and more with a thousands separator); "1500 men" still reads "fifteen hundred
  men", as Americans say it.
* Money, numbers, times and units follow the same conventions as the peer project
  Kokoro-FastAPI's normalizer (remsky/Kokoro-FastAPI,
  api/src/services/text_processing/normalizer.py): "one dollar and eighty-seven cents",
  "oh five" minutes, "o'clock" on the hour, "a.m." read as letters. Units use US
  spelling ("kilometers").
* "a.m."/"p.m." become "a-m"/"p-m": espeak-ng reads "a.m." with a full stop between the
  letters (a pause) and "AM" as the word "am"; "a-m" is read "ˈeɪˈɛm".
* Abbreviations that may end a sentence (etc., a.m., Street, Jr.) keep their full stop
  when they do (followed by the end of the text, a line break, a closing quote or a
  capitalized word), so the sentence still ends with one.
* Case: replacements keep the surrounding text as written ("CHAPTER XIV" → "CHAPTER
  fourteen"); a replaced abbreviation keeps its initial capital ("E.g." → "For example",
  "No. 5" → "Number five", "see no. 5" → "see number five").

Use it on a segment's whole text, before any sentence splitting: the rules need the
context around an abbreviation ("Room No. 5" is split after "No." by
``text_chunking.split_sentences``; on its own, "No." is an answer and stays).

Speed: ``normalize_text`` runs on every segment whenever the API checks for stale audio,
so every pattern is compiled once at import and written to start with a literal or a
character class (Python's ``re`` then skips ahead with its fast prefix search; a pattern
that starts with ``\b`` or a lookbehind is tried at every position, 10–50 times slower),
and a rule whose trigger (a digit, "$", "&", "/"…) is absent returns at once. Digits are
ASCII 0–9; other scripts' digits are left to the phonemizer. Measured uncached on the
17,504-character Monte Cristo chapter (AMD EPYC, Python 3.11): about 2.5 ms for the whole
text, 0.14 ms per 1,000 characters; a cached call is a dictionary lookup.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

from num2words import num2words

logger = logging.getLogger(__name__)

#: Bump when the spoken form of some text changes (rules added or changed), so stored
#: audio made from an older spoken form can be recognized.
NORMALIZATION_VERSION = 1


@dataclass(frozen=True)
class NormalizationRule:
    """One step of the pipeline.

    Attributes:
        name: short identifier (``rule(name)`` finds it), e.g. ``"money"``.
        description: one line for people: what it rewrites, with an example.
        apply: ``str -> str``; may raise on a bug (``normalize_text`` guards it).
    """

    name: str
    description: str
    apply: Callable[[str], str]


# ---------------------------------------------------------------------------------------
# Number words (num2words), cleaned for American English and for the phonemizer
# ---------------------------------------------------------------------------------------

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Integers longer than this are not spelled (num2words goes on to "duotrigintillion").
_MAX_SPELLED_DIGITS = 36
_AND = re.compile(r"\s+and\s+")


def _clean(words: str) -> str:
    """num2words' British "and" and group commas removed: "one thousand, nine hundred and
    five" → "one thousand nine hundred five"."""
    return _AND.sub(" ", words.replace(",", ""))


def _digits_words(digits: str) -> str:
    """One word per digit: "07" → "zero seven"."""
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits)


def _int_words(digits: str) -> Optional[str]:
    """Cardinal words for an integer written with digits (thousands separators allowed).
    A leading zero is read digit by digit ("007" → "zero zero seven"). None if too long."""
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits[0] == "0":
        return _digits_words(digits)
    if len(digits) > _MAX_SPELLED_DIGITS:
        return None
    return _clean(num2words(int(digits), lang="en"))


def _number_words(token: str) -> Optional[str]:
    """Words for "1,000", "3.5", "0.25" ("zero point two five"); None if not spelled."""
    whole, _, decimals = token.partition(".")
    words = _int_words(whole)
    if words is None:
        return None
    if decimals:
        words += " point " + _digits_words(decimals)
    return words


def _ordinal_words(digits: str) -> Optional[str]:
    """"21" → "twenty-first", "101" → "one hundred first"; None if too long."""
    digits = digits.replace(",", "")
    if len(digits) > _MAX_SPELLED_DIGITS:
        return None
    return _clean(num2words(int(digits), lang="en", to="ordinal"))


def _year_words(year: int) -> str:
    """How people read a year: 1815 "eighteen fifteen", 1905 "nineteen oh five", 1900
    "nineteen hundred", 2005 "two thousand five", 2024 "twenty twenty-four"."""
    return _clean(num2words(year, lang="en", to="year")).replace("oh-", "oh ")


def _plural_last_word(words: str) -> str:
    """"nineteen ninety" → "nineteen nineties", "eighteen hundred" → "eighteen hundreds"."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}" if head else last


def _title_words(words: str) -> str:
    """"twenty-third" → "Twenty-Third" (regnal numbers are capitalized like names)."""
    return " ".join("-".join(p.capitalize() for p in w.split("-")) for w in words.split(" "))


def _has_digit(text: str) -> bool:
    """True if ``text`` has an ASCII digit (much faster than a regex scan)."""
    return any(d in text for d in "0123456789")


def _has_any(text: str, *literals: str) -> bool:
    return any(lit in text for lit in literals)


# Regex building blocks. A number starts with its first digit, checked by a lookbehind
# placed after it ("[0-9](?<![\w.,][0-9])": not glued to a word, a "." or a ","), so that
# the pattern begins with a character class.
_NUM_REST = r"(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]+)?"  # after the first digit
_NUM_END = r"(?![\w]|[.,][0-9])"  # not followed by a letter/digit or a separator + digit
_UPPER = "A-ZÀ-ÖØ-Þ"

# What may follow an abbreviation's full stop when that stop also ends the sentence: the
# end of the text, a line break, a closing quote/bracket, or a capitalized word.
_ENDS_SENTENCE = re.compile(r"[^\S\n]*(?:$|\n)|[\"'”’)\]]|\s+[\"'“‘(\[]*[A-Z]")


def _ends_sentence(text: str, pos: int) -> bool:
    return _ENDS_SENTENCE.match(text, pos) is not None


def _keep_initial_capital(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _word_at(first: str, group: bool = False) -> str:
    """``first`` (a letter or a class like "[Ee]") at the start of a word, written so the
    pattern begins with it: "M" → "M(?<!\\wM)". ``group``: capture the letter (group 1)."""
    return f"({first})(?<!\\w{first})" if group else f"{first}(?<!\\w{first})"


# ---------------------------------------------------------------------------------------
# 1. honorifics
# ---------------------------------------------------------------------------------------

_BEFORE_NAME = rf"(?=\s+[\"'“‘]?[{_UPPER}])"
_BEFORE_FRENCH_NAME = rf"(?=\s+(?:[{_UPPER}]|de\b|d['’]))"
# (literals, one of which must be in the text; pattern; replacement). The first seven are
# the expansions of tts_wrapper.spoken_form, kept exactly (whitespace after), plus their
# upper-case forms.
_HONORIFICS = tuple(
    (literals, re.compile(pattern), replacement)
    for literals, pattern, replacement in (
        (("Mr.", "MR."), _word_at("M") + r"(?:r|R)\.(?=\s)", "Mister"),
        (("Mrs.", "MRS."), _word_at("M") + r"(?:rs|RS)\.(?=\s)", "Missus"),
        (("Ms.", "MS."), _word_at("M") + r"(?:s|S)\.(?=\s)", "Miz"),
        (("Dr.", "DR."), _word_at("D") + r"(?:r|R)\.(?=\s)", "Doctor"),
        (("Messrs.",), _word_at("M") + r"essrs\.(?=\s)", "Messieurs"),
        (("Mme",), _word_at("M") + r"me\.?(?=\s)", "Madame"),
        (("Mlle",), _word_at("M") + r"lle\.?(?=\s)", "Mademoiselle"),
        # "M. Morrel", "M. de Villefort", "M. d'Épinay": French "Monsieur" before a
        # capitalized or particle name; not after another initial ("J. M. Barrie").
        (("M.",), _word_at("M") + r"(?<!\b[A-Z]\.\sM)\." + _BEFORE_FRENCH_NAME, "Monsieur"),
        (("MM.",), _word_at("M") + r"M\." + _BEFORE_FRENCH_NAME, "Messieurs"),
        # Titles, only before a name.
        (("Prof.",), _word_at("P") + r"rof\." + _BEFORE_NAME, "Professor"),
        (("Capt.",), _word_at("C") + r"apt\." + _BEFORE_NAME, "Captain"),
        (("Col.",), _word_at("C") + r"ol\." + _BEFORE_NAME, "Colonel"),
        (("Gen.",), _word_at("G") + r"en\." + _BEFORE_NAME, "General"),
        (("Lt.",), _word_at("L") + r"t\." + _BEFORE_NAME, "Lieutenant"),
        (("Sgt.",), _word_at("S") + r"gt\." + _BEFORE_NAME, "Sergeant"),
        (("Rev.",), _word_at("R") + r"ev\." + _BEFORE_NAME, "Reverend"),
        (("Gov.",), _word_at("G") + r"ov\." + _BEFORE_NAME, "Governor"),
        (("Hon.",), _word_at("H") + r"on\." + _BEFORE_NAME, "Honorable"),
        (("Mt.",), _word_at("M") + r"t\." + _BEFORE_NAME, "Mount"),
    )
)
# "John Smith Jr." / "Sr.": after a name (and an optional comma).
_JR_SR = re.compile(_word_at("[JS]") + r"r\.")
_NAME_BEFORE = re.compile(r"[A-Za-z],?\s+$")


def _honorifics(text: str) -> str:
    for literals, pattern, replacement in _HONORIFICS:
        if _has_any(text, *literals):
            text = pattern.sub(replacement, text)
    if "Jr." not in text and "Sr." not in text:
        return text

    def jr_sr(match: re.Match) -> str:
        if not _NAME_BEFORE.search(text, max(0, match.start() - 8), match.start()):
            return match.group()
        word = "Junior" if match.group()[0] == "J" else "Senior"
        return word + ("." if _ends_sentence(text, match.end()) else "")

    return _JR_SR.sub(jr_sr, text)


# ---------------------------------------------------------------------------------------
# 2. saint_street
# ---------------------------------------------------------------------------------------

_ST = re.compile(_word_at("S") + r"t\.(?=\s|$|[,;:)\"'”’])")
_PREV_WORD = re.compile(r"(?:^|(?<=\s))(\S+)(\s+)$")
_NEXT_WORD = re.compile(rf"\s+[\"'“‘(]?([{_UPPER}][\w'’-]*)")
_NUMBERED = re.compile(r"[0-9]+(?:st|nd|rd|th)?|\w*(?:first|second|third|th)", re.IGNORECASE)
# Words before "St." that make it a saint's name ("Rue St. Honoré", "Port St. Lucie").
_SAINT_PLACES = frozenset(
    "Rue Faubourg Boulevard Port Fort Mount Mont Lake Cape Isle Ile Île Via San Santa "
    "Church Cathedral Abbey Chapel Feast Day".split()
)
# Capitalized words that usually begin a sentence: "Baker St. Then we left" is a Street.
_SENTENCE_STARTERS = frozenset(
    "The A An And But Then There This That These Those He She It They We I You His Her "
    "Its Our Their My Your When As So Now If In On At Yet Still After Before".split()
)


def _saint_street(text: str) -> str:
    if "St." not in text:
        return text

    def replace(match: re.Match) -> str:
        start = match.start()
        prev = _PREV_WORD.search(text, max(0, start - 60), start)
        nxt = _NEXT_WORD.match(text, match.end())
        prev_word = prev.group(1).strip("\"'“‘(") if prev else ""
        next_word = nxt.group(1) if nxt else ""
        prev_is_initial = True  # the previous word begins a sentence (or there is none)
        if prev:
            before = text[: prev.start()].rstrip()
            prev_is_initial = (
                not before or before[-1] in ".!?\n" or prev.group(1)[:1] in "\"'“‘("
            )
        if prev_word and _NUMBERED.fullmatch(prev_word):
            street = True  # "42nd St."
        elif prev_word in _SAINT_PLACES:
            street = False
        elif prev_word[:1].isupper() and not prev_is_initial:
            street = not next_word or next_word in _SENTENCE_STARTERS  # "Baker St."
        elif next_word:
            street = False  # "to St. Paul", "St. Paul" at the start
        else:
            return match.group()  # "the st." — cannot tell, left alone
        if not street:
            return "Saint"
        return "Street" + ("." if _ends_sentence(text, match.end()) else "")

    return _ST.sub(replace, text)


# ---------------------------------------------------------------------------------------
# 3. latin_abbreviations, 4. ampersand, 5. number_sign
# ---------------------------------------------------------------------------------------

_ETC = re.compile(r"(?:" + _word_at("[Ee]") + r"tc|&[Cc])\.")
_LATIN = tuple(
    (literals, re.compile(pattern), replacement)
    for literals, pattern, replacement in (
        (("e.g.", "E.g.", "e. g.", "E. g."), _word_at("[Ee]", group=True) + r"\.\s?g\.(?=[\s,;:)\]]|$)", "for example"),
        (("i.e.", "I.e.", "i. e.", "I. e."), _word_at("[Ii]", group=True) + r"\.\s?e\.(?=[\s,;:)\]]|$)", "that is"),
        (("vs ", "vs.", "Vs.", "Vs "), _word_at("[Vv]", group=True) + r"s\.?(?=\s)", "versus"),
        (("v. ",), _word_at("v", group=True) + r"\.(?=\s+[A-Z])", "versus"),  # "Roe v. Wade"
        (("viz.", "Viz."), _word_at("[Vv]", group=True) + r"iz\.(?=\s)", "namely"),
        (("cf.", "Cf."), _word_at("[Cc]", group=True) + r"f\.(?=\s)", "compare"),
    )
)


# One "."-first scan that tells whether any of the abbreviations above may be present
# (each literal test of a long text costs about as much as this whole scan).
_LATIN_HINT = re.compile(
    r"\.(?:(?<=[Ee]\.)(?=\s?g\.)|(?<=[Ii]\.)(?=\s?e\.)|(?<=[Vv]s\.)|(?<=v\.)|(?<=iz\.)"
    r"|(?<=[Cc]f\.)|(?<=tc\.)|(?<=&[Cc]\.))"
)


def _latin_abbreviations(text: str) -> str:
    if not _LATIN_HINT.search(text) and "vs " not in text and "Vs " not in text:
        return text
    if _has_any(text, "tc.", "&c.", "&C."):
        text = _ETC.sub(
            lambda m: ("Et cetera" if m.group()[:1] == "E" else "et cetera")
            + ("." if _ends_sentence(text, m.end()) else ""),
            text,
        )
    for literals, pattern, replacement in _LATIN:
        if _has_any(text, *literals):
            text = pattern.sub(
                lambda m, r=replacement: _keep_initial_capital(m.group(1), r), text
            )
    return text


_AMPERSAND = re.compile(r"[^\S\n]*&(?!#?\w+;)[^\S\n]*")


def _ampersand(text: str) -> str:
    """"Morrel & Son" → "Morrel and Son", "R&D" → "R and D" (HTML entities left alone)."""
    return _AMPERSAND.sub(" and ", text) if "&" in text else text


# A digit after "." / ". " / "#" / "# ": a cheap, digit-first test before _NUMBER_SIGN.
_NUMBER_SIGN_HINT = re.compile(r"[0-9](?:(?<=[.#][0-9])|(?<=[.#]\s[0-9]))")
_NUMBER_SIGN = re.compile(_word_at("[Nn]", group=True) + r"[oO](s?)\.(?=\s?#?[0-9])|#\s?(?=[0-9])")


def _number_sign(text: str) -> str:
    """"No. 5" → "number 5", "Nos. 3 and 4" → "numbers 3 and 4", "#5" → "number 5".
    "No, sir" and "No." without a number after it are answers and stay."""
    if not _has_digit(text) or not _NUMBER_SIGN_HINT.search(text):
        return text

    def replace(match: re.Match) -> str:
        if match.group().startswith("#"):
            return "number "
        return _keep_initial_capital(match.group(1), "numbers" if match.group(2) else "number")

    return _NUMBER_SIGN.sub(replace, text).replace("number #", "number ")


# ---------------------------------------------------------------------------------------
# 6. clock_times
# ---------------------------------------------------------------------------------------

_AMPM = r"(?P<ap>[AaPp]\.?[Mm]\.?)(?!\w)"
_CLOCK = re.compile(
    r"(?P<h>[0-9](?<![\w.,:][0-9])[0-9]?)(?P<sep>[:.])(?P<m>[0-5][0-9])(?::(?P<s>[0-5][0-9]))?"
    rf"(?![\w]|[.,:][0-9])(?:\s?{_AMPM})?"
)
_HOUR_AMPM = re.compile(rf"(?P<h>[0-9](?<![\w.,:][0-9])[0-9]?)\s?{_AMPM}")


def _ampm_words(text: str, match: re.Match) -> str:
    ap = match.group("ap")
    if not ap:
        return ""
    words = " a-m" if ap[0] in "Aa" else " p-m"
    if ap.endswith(".") and _ends_sentence(text, match.end()):
        words += "."
    return words


def _clock_times(text: str) -> str:
    """"4:30" → "four thirty", "10:05 a.m." → "ten oh five a-m", "10:00" → "ten o'clock",
    "14:00" → "fourteen hundred", "7 p.m." → "seven p-m". "10 o'clock" is left for
    ``cardinals`` ("ten o'clock")."""
    if not _has_digit(text):
        return text

    def clock(match: re.Match) -> str:
        hour, minute = int(match.group("h")), int(match.group("m"))
        if hour > 24 or (match.group("sep") == "." and not (match.group("ap") and hour <= 12)):
            return match.group()  # "3.45" is a decimal unless a.m./p.m. follows ("10.30 p.m.")
        words = _int_words(str(hour))
        if minute == 0:
            if not (match.group("ap") or match.group("s")):
                words += " o'clock" if 1 <= hour <= 12 else " hundred"
        elif minute < 10:
            words += " oh " + _DIGIT_WORDS[minute]
        else:
            words += " " + _int_words(str(minute))
        if match.group("s"):
            seconds = int(match.group("s"))
            words += f" and {_int_words(str(seconds))} second{'' if seconds == 1 else 's'}"
        return words + _ampm_words(text, match)

    def hour_ampm(match: re.Match) -> str:
        hour = int(match.group("h"))
        if not 1 <= hour <= 12:
            return match.group()
        return _int_words(str(hour)) + _ampm_words(text, match)

    if ":" in text or "." in text:
        text = _CLOCK.sub(clock, text)
    return _HOUR_AMPM.sub(hour_ampm, text)


# ---------------------------------------------------------------------------------------
# 7. number_ranges
# ---------------------------------------------------------------------------------------

_YEAR_RANGE = re.compile(
    r"(?P<a>[12](?<![\w.,:/][12])[0-9]{3})\s?[-–]\s?(?P<b>[12][0-9]{3}|[0-9]{2})"
    r"(?![\w]|[.,:/][0-9]|[-–][0-9])"
)
_EN_DASH_RANGE = re.compile(
    rf"(?P<a>[0-9](?<![\w.,:/][0-9]){_NUM_REST})\s?–\s?(?P<b>[$£€]?[0-9]{_NUM_REST}){_NUM_END}"
)


def _number_ranges(text: str) -> str:
    """"1812–1815" / "1812-15" → "1812 to 1815" (read as years by ``years``); other
    numbers joined by an en dash: "5–10" → "5 to 10". A hyphen between other numbers
    (scores, phone numbers) is left."""
    if not _has_digit(text) or not _has_any(text, "-", "–"):
        return text

    def year_range(match: re.Match) -> str:
        a, b = int(match.group("a")), match.group("b")
        end = a // 100 * 100 + int(b) if len(b) == 2 else int(b)
        if not (1000 <= a < end <= 2099):
            return match.group()
        return f"{a} to {end}"

    text = _YEAR_RANGE.sub(year_range, text)
    if "–" in text:
        text = _EN_DASH_RANGE.sub(lambda m: f"{m.group('a')} to {m.group('b')}", text)
    return text


# ---------------------------------------------------------------------------------------
# 8. money
# ---------------------------------------------------------------------------------------

_CURRENCIES = {  # symbol: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_MONEY = re.compile(
    r"(?P<cur>[$£€])\s?(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]+))?"
    r"(?![\w]|[.,][0-9])(?:\s+(?P<scale>hundred|thousand|million|billion|trillion)\b)?"
)
_MONEY_AFTER = re.compile(
    r"(?P<int>[0-9](?<![\w.,][0-9])(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]*))"
    r"(?:\.(?P<frac>[0-9]+))?\s?(?P<cur>[£€])(?!\w)"
)
_CENTS_SIGN = re.compile(r"(?P<n>[0-9](?<![\w.,][0-9])[0-9]*)\s?¢")
_ARTICLE_BEFORE = re.compile(r"\b[Aa]n?\s+$")
# After "a $5": a noun that the amount describes ("an $8 flat" → "an eight dollar flat").
_ATTRIBUTIVE_NOUN = re.compile(
    r"\s+(?!(?:a|an|and|or|per|each|for|to|in|of|on|at|by|from|with|was|is)\b)[a-z]"
)


def _money(text: str) -> str:
    """"$1.87" → "one dollar and eighty-seven cents", "$0.50" → "fifty cents", "£5" →
    "five pounds", "€2.50" → "two euros and fifty cents", "$2 million" → "two million
    dollars", "$1.875" → "one point eight seven five dollars", "25 €", "50¢"; "an $8
    flat" → "an eight dollar flat". A "$" without a number stays."""
    if not _has_any(text, "$", "£", "€", "¢") or not _has_digit(text):
        return text

    def amount(match: re.Match) -> str:
        unit, units, sub, subs = _CURRENCIES[match.group("cur")]
        whole, frac = match.group("int"), match.group("frac")
        scale = match.groupdict().get("scale")
        start = match.start()
        attributive = (
            _ARTICLE_BEFORE.search(text, max(0, start - 6), start) is not None
            and _ATTRIBUTIVE_NOUN.match(text, match.end()) is not None
        )
        if scale or (frac is not None and len(frac) != 2):
            number = _number_words(whole + ("." + frac if frac else ""))
            if number is None:
                return match.group()
            scale_words = f" {scale}" if scale else ""
            return f"{number}{scale_words} {unit if attributive else units}"
        words = _int_words(whole)
        if words is None:
            return match.group()
        cents = int(frac) if frac else 0
        if attributive and not cents:
            return f"{words} {unit}"
        parts = []
        if int(whole.replace(",", "")) or not cents:
            parts.append(f"{words} {unit if whole == '1' else units}")
        if cents:
            parts.append(f"{_int_words(str(cents))} {sub if cents == 1 else subs}")
        return " and ".join(parts)

    if _has_any(text, "$", "£", "€"):
        text = _MONEY.sub(amount, text)
    if _has_any(text, "£", "€"):
        text = _MONEY_AFTER.sub(amount, text)
    if "¢" in text:
        text = _CENTS_SIGN.sub(
            lambda m: f"{_int_words(m.group('n'))} cent{'' if m.group('n') == '1' else 's'}", text
        )
    return text


# ---------------------------------------------------------------------------------------
# 9. percentages, 10. units
# ---------------------------------------------------------------------------------------

_PERCENT = re.compile(rf"(?P<n>[0-9](?<![\w.,][0-9]){_NUM_REST})\s?%")


def _percentages(text: str) -> str:
    """"50%" → "fifty percent", "3.5 %" → "three point five percent"."""
    if "%" not in text:
        return text

    def replace(match: re.Match) -> str:
        words = _number_words(match.group("n"))
        return match.group() if words is None else f"{words} percent"

    return _PERCENT.sub(replace, text)


_UNITS = {  # symbol (case-sensitive): (singular, plural), US spelling
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "kW": ("kilowatt", "kilowatts"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
}
_UNIT = re.compile(
    rf"(?P<n>[0-9](?<![\w.,][0-9]){_NUM_REST})\s?(?P<unit>"
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![\w°/])(?P<dot>\.(?![0-9]))?"
)


def _units(text: str) -> str:
    """"5 km" → "five kilometers", "1 km" → "one kilometer", "30 °C" → "thirty degrees
    Celsius". Ambiguous symbols ("m", "in", "s", "h", "l") are left alone."""
    if not _has_digit(text):
        return text

    def replace(match: re.Match) -> str:
        number = match.group("n")
        words = _number_words(number)
        if words is None:
            return match.group()
        singular, plural = _UNITS[match.group("unit")]
        # "6 ft. tall": the abbreviation's stop goes unless it also ends the sentence.
        dot = "." if match.group("dot") and _ends_sentence(text, match.end()) else ""
        return f"{words} {singular if number == '1' else plural}{dot}"

    return _UNIT.sub(replace, text)


# ---------------------------------------------------------------------------------------
# 11. fractions
# ---------------------------------------------------------------------------------------

_VULGAR = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5",
           "⅖": "2/5", "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8",
           "⅜": "3/8", "⅝": "5/8", "⅞": "7/8"}
_VULGAR_CHAR = re.compile("[" + "".join(_VULGAR) + "]")
# "[whole ]numerator/denominator", digit-first: "first" is the whole number when "num"
# follows it, else the numerator.
_FRACTION = re.compile(
    r"(?P<first>[0-9](?<![\w.,/][0-9])[0-9]*)(?:\s+(?P<num>[0-9]+))?"
    r"[/⁄](?P<den>[0-9]+)(?![\w/⁄]|[.,][0-9])"
)
#: Denominators read as fractions; others ("9/11", "12/25") may be dates and are left.
_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100})


def _fraction_words(numerator: int, denominator: int) -> str:
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = _ordinal_words(str(denominator)) + ("" if numerator == 1 else "s")
        if numerator == 1 and name.startswith("one "):
            return name  # "1/100" → "one hundredth", not "one one hundredth"
    return f"{_int_words(str(numerator))} {name}"


def _fractions(text: str) -> str:
    """"1/2" → "one half", "3/4" → "three quarters", "5/8" → "five eighths", "2 1/2" →
    "two and a half", "½" → "one half", "2¾" → "two and three quarters". Only proper
    fractions over 2–10, 12, 16, 32, 64, 100; "9/11" and "12/25" stay."""
    if _has_any(text, *_VULGAR):
        text = _VULGAR_CHAR.sub(
            lambda m: (" " if m.start() and text[m.start() - 1].isdigit() else "")
            + _VULGAR[m.group()],
            text,
        )
    if not _has_any(text, "/", "⁄"):
        return text

    def replace(match: re.Match) -> str:
        whole, numerator = match.group("first"), match.group("num")
        if numerator is None:
            whole, numerator = None, whole
        numerator, denominator = int(numerator), int(match.group("den"))
        if denominator not in _DENOMINATORS or not 0 < numerator < denominator:
            return match.group()
        words = _fraction_words(numerator, denominator)
        if not whole:
            return words
        if numerator == 1 and denominator in (2, 4):
            words = "a " + words.split(" ", 1)[1]  # "two and a half"
        return f"{_int_words(whole)} and {words}"

    return _FRACTION.sub(replace, text)


# ---------------------------------------------------------------------------------------
# 12. decades, 13. ordinals, 14. dates
# ---------------------------------------------------------------------------------------

_DECADE = re.compile(
    r"(?:['’](?P<short>[1-9]0)|(?P<full>[0-9](?<![\w.,][0-9])(?:[0-9]{2})?0))['’]?s\b"
)


def _decades(text: str) -> str:
    """"the 1990s" → "the nineteen nineties", "1800s" → "eighteen hundreds", "'60s" /
    "60s" → "sixties"."""
    if not _has_digit(text) or not _has_any(text, "0s", "0's", "0’s"):
        return text

    def replace(match: re.Match) -> str:
        if match.group("short"):
            return _plural_last_word(_int_words(match.group("short")))
        full = match.group("full")
        if len(full) == 4 and 1000 <= int(full) <= 2099:
            return _plural_last_word(_year_words(int(full)))
        if len(full) == 2 and full[0] != "0":
            return _plural_last_word(_int_words(full))
        return match.group()

    return _DECADE.sub(replace, text)


_ORDINAL = re.compile(
    r"(?P<n>[0-9](?<![\w.,][0-9])(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]*))(?:st|nd|rd|th|ST|ND|RD|TH)\b"
)


def _ordinals(text: str) -> str:
    """"21st" → "twenty-first", "the 24th of February" → "the twenty-fourth of February"."""
    if not _has_digit(text):
        return text

    def replace(match: re.Match) -> str:
        words = _ordinal_words(match.group("n"))
        return match.group() if words is None else words

    return _ORDINAL.sub(replace, text)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_MONTH_ABBREVIATIONS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7,
                        "Aug": 8, "Sep": 9, "Sept": 9, "Oct": 10, "Nov": 11, "Dec": 12}
_MONTH_NAMES = "|".join(_MONTHS)
# Written capital-first ("[ADFJMNOS]" then the rest of any month) so that the pattern
# starts with a character class; the callback checks that the month is a real one.
_MONTH_DAY = re.compile(
    r"(?P<month>[ADFJMNOS](?<!\w[ADFJMNOS])(?:"
    + "|".join(sorted({m[1:] for m in _MONTHS} | {a[1:] + r"\." for a in _MONTH_ABBREVIATIONS}))
    + r"))\s+(?P<day>[0-9]{1,2})(?![\w:]|[.,][0-9])"
)
_MONTH_SPELLINGS = frozenset(_MONTHS) | {a + "." for a in _MONTH_ABBREVIATIONS}
_DAY_MONTH = re.compile(
    r"(?P<day>[0-9](?<![\w.,][0-9])[0-9]?)\s+(?P<month>" + _MONTH_NAMES + r")\b"
)
_THE_BEFORE = re.compile(r"\bthe\s+$")
_ISO_DATE = re.compile(
    r"(?P<y>[12](?<![\w.,/-][12])[0-9]{3})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12][0-9]|3[01])"
    r"(?![\w]|[-.,/][0-9])"
)


def _dates(text: str) -> str:
    """"February 24" / "Feb. 24" → "February twenty-fourth"; "24 February" → "the
    twenty-fourth of February"; "2005-10-12" → "October twelfth 2005" (the year is left
    for ``years``). Months are capitalized, so "may" the verb is never a month."""
    if not _has_digit(text):
        return text

    def month_day(match: re.Match) -> str:
        day = int(match.group("day"))
        if match.group("month") not in _MONTH_SPELLINGS or not 1 <= day <= 31:
            return match.group()
        month = match.group("month").rstrip(".")
        month = _MONTHS[_MONTH_ABBREVIATIONS[month] - 1] if month in _MONTH_ABBREVIATIONS else month
        return f"{month} {_ordinal_words(str(day))}"

    def day_month(match: re.Match) -> str:
        day = int(match.group("day"))
        if not 1 <= day <= 31:
            return match.group()
        start = match.start()
        the = "" if _THE_BEFORE.search(text, max(0, start - 5), start) else "the "
        return f"{the}{_ordinal_words(str(day))} of {match.group('month')}"

    if "-" in text:
        text = _ISO_DATE.sub(
            lambda m: f"{_MONTHS[int(m.group('m')) - 1]} {_ordinal_words(m.group('d'))} {m.group('y')}",
            text,
        )
    text = _MONTH_DAY.sub(month_day, text)
    return _DAY_MONTH.sub(day_month, text)


# ---------------------------------------------------------------------------------------
# 15. roman_numerals
# ---------------------------------------------------------------------------------------

_VALID_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _roman_value(numeral: str) -> Optional[int]:
    """Value of a valid Roman numeral (any case), else None ("IIII", "IC", "MIXI")."""
    upper = numeral.upper()
    if not upper or not _VALID_ROMAN.fullmatch(upper):
        return None
    total = 0
    for i, letter in enumerate(upper):
        value = _ROMAN_VALUES[letter]
        if i + 1 < len(upper) and _ROMAN_VALUES[upper[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


_HEADING_WORDS = ("Chapter", "Book", "Part", "Volume", "Vol.", "Act", "Scene", "Canto",
                  "Section", "Appendix", "Stave", "Psalm", "Article", "Episode", "Phase",
                  "Stage", "Class", "Type", "War")
_HEADING = re.compile(
    r"(?P<kw>" + "|".join(re.escape(w) + "|" + re.escape(w.upper()) for w in _HEADING_WORDS)
    + r")(?P<sp>\s+)(?P<num>[IVXLCDM]+|[ivxlcdm]{2,}|[vx])\b(?!['’]\w)"
)
#: Monarchs' and popes' names after which a Roman numeral is a regnal number.
_REGNAL_NAMES = frozenset(
    "Louis Henry Henri Charles George Edward William James Richard John Elizabeth Mary Anne "
    "Victoria Philip Philippe Felipe Ferdinand Frederick Friedrich Wilhelm Francis Franz "
    "François Francesco Joseph Leopold Otto Rudolf Gustav Gustavus Christian Carl Karl "
    "Alfonso Juan Pedro Peter Paul Ivan Nicholas Alexander Catherine Napoleon Victor "
    "Umberto Pius Leo Gregory Benedict Clement Innocent Boniface Urban Sixtus Julius "
    "Celestine Honorius Adrian Martin Eugene Stephen David Malcolm Robert Kenneth "
    "Constantine Justinian Michael Basil Ramesses Ramses Amenhotep Thutmose Ptolemy "
    "Antiochus Cyrus Darius Xerxes Artaxerxes Sancho Afonso Manuel Duarte Haakon Olaf "
    "Harald Magnus Sigismund Casimir Stanislaus Wenceslaus Matthias Maximilian Rupert "
    "Albert Baudouin Carol Mihai Alexios Andronikos".split()
)
#: Famous names that look regnal but are not.
_NOT_REGNAL = frozenset({"Malcolm X"})
_REGNAL = re.compile(
    rf"(?P<name>[{_UPPER}](?<!\w[{_UPPER}])(?:[a-zà-ÿ]+|[{_UPPER}]+))(?P<sp>\s+)"
    r"(?P<num>[IVX]+)\b(?!['’](?!s\b)\w)"
)
# Section numbers alone at the start of a line use I, V, X, L only (1–89): a lone "M.",
# "D." or "C." is an initial or a letter, and "CV", "MD", "DC" are abbreviations.
_LONE_NUMERAL = re.compile(r"(?P<num>[IVXL](?<!\S[IVXL])[IVXL]*)(?P<dot>\.?)(?=[^\S\n]*(?:\n|$))")
_LEADING_NUMERAL = re.compile(r"(?P<num>[IVXL](?<!\S[IVXL])[IVXL]+)\.(?=\s+[A-Z])")
# After a single "I": a lowercase word makes it the pronoun ("Part I think", "Charles I went").
_PRONOUN_FOLLOWS = re.compile(r"\s+(?!of\b)[a-z]")


def _at_line_start(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return not text[line_start:pos].strip()


def _roman_numerals(text: str) -> str:
    """Roman numerals where context says they are numbers: after a heading word
    ("CHAPTER XIV" → "CHAPTER fourteen", "World War II" → "World War two"), after a
    monarch's or pope's name ("Louis XVIII" → "Louis the Eighteenth"), after another
    capitalized word when two letters or more ("Rocky II" → "Rocky two"), and alone at the
    start of a line ("IV." / "XIV. The Prisoner"). "I" is the pronoun unless a heading
    word or regnal name comes right before it and no lowercase word after it."""
    if not _has_any(text, "I", "V", "X", "L", "C", "D", "M", "i", "v", "x"):
        return text

    def heading(match: re.Match) -> str:
        start = match.start()
        if start and text[start - 1].isalnum():
            return match.group()
        numeral = match.group("num")
        value = _roman_value(numeral)
        if value is None or (numeral.upper() == "I" and _PRONOUN_FOLLOWS.match(text, match.end())):
            return match.group()
        return f"{match.group('kw')}{match.group('sp')}{_int_words(str(value))}"

    def regnal(match: re.Match) -> str:
        name, numeral = match.group("name"), match.group("num")
        value = _roman_value(numeral)
        if value is None or value > 39:
            return match.group()
        if name.capitalize() in _REGNAL_NAMES and f"{name} {numeral}" not in _NOT_REGNAL:
            if numeral == "I" and _PRONOUN_FOLLOWS.match(text, match.end()):
                return match.group()
            ordinal = _title_words(_ordinal_words(str(value)))
            return f"{name}{match.group('sp')}the {ordinal}"
        if len(numeral) >= 2 and not name.isupper():
            # "Rocky II", "Fantasy VII": a title's number, read as a cardinal.
            return f"{name}{match.group('sp')}{_int_words(str(value))}"
        return match.group()

    def lone(match: re.Match) -> str:
        numeral = match.group("num")
        value = _roman_value(numeral)
        if (
            value is None
            or (len(numeral) == 1 and (numeral == "L" or not match.group("dot")))
            or not _at_line_start(text, match.start())
        ):
            return match.group()
        return f"{_int_words(str(value))}{match.group('dot')}"

    def leading(match: re.Match) -> str:
        value = _roman_value(match.group("num"))
        if value is None or not _at_line_start(text, match.start()):
            return match.group()
        return f"{_int_words(str(value))}."

    text = _HEADING.sub(heading, text)
    text = _REGNAL.sub(regnal, text)
    text = _LONE_NUMERAL.sub(lone, text)
    return _LEADING_NUMERAL.sub(leading, text)


# ---------------------------------------------------------------------------------------
# 16. years, 17. cardinals, 18. digit_separators
# ---------------------------------------------------------------------------------------

_YEAR = re.compile(
    r"(?P<y>[12](?<![\w.,:/$£€#][12])(?<![0-9][-–][12])[0-9]{3})(?![\w%]|[.,:/][0-9]|[-–][0-9])"
)


def _years(text: str) -> str:
    """A bare 1000–2099 is a year: "1815" → "eighteen fifteen", "2005" → "two thousand
    five", "1066" → "ten sixty-six", "1900" → "nineteen hundred"."""
    if not _has_digit(text):
        return text

    def replace(match: re.Match) -> str:
        year = int(match.group("y"))
        return _year_words(year) if 1000 <= year <= 2099 else match.group()

    return _YEAR.sub(replace, text)


# A run of digits with single "." or "," between them, possessive so that it never stops
# in the middle of a number.
_NUMBER_RUN = re.compile(r"[0-9](?<![\w.,][0-9])(?:[.,]?[0-9])*+(?!\w)")
# A minus sign (after a space, bracket or quote, or at the start) before a number.
_MINUS = re.compile(r"[-−](?<![^\s(\[\"'“‘][-−])(?=\.?[0-9](?:[.,]?[0-9])*+(?!\w))")
# A leading decimal point: ".5" (not after a word, a digit or another ".").
_LEADING_POINT = re.compile(r"\.(?<![\w.,]\.)(?P<d>[0-9]+)(?![\w]|[.,][0-9])")
_WELL_FORMED = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){2,}")


def _run_words(run: str) -> Optional[str]:
    """Words for a run of digits and separators, or None if it cannot be spelled."""
    if _WELL_FORMED.fullmatch(run):
        return _number_words(run)
    if _DOTTED.fullmatch(run):  # "2.0.1", "192.168.0.1"
        parts = [_int_words(part) for part in run.split(".")]
        return None if None in parts else " point ".join(parts)
    if "," in run:  # "19,99", "1,2,3": read as a list, each comma a real pause
        parts = [_run_words(part) for part in run.split(",")]
        return None if None in parts else ", ".join(parts)
    return None


def _cardinals(text: str) -> str:
    """Every number left: "1,000" → "one thousand", "3.5" → "three point five", "-4" →
    "minus four", ".5" → "point five", "2.0.1" → "two point zero point one", "007" →
    "zero zero seven". Numbers glued to letters ("B12", "MP3") are left for espeak."""
    if not _has_digit(text):
        return text
    if _has_any(text, "-", "−"):
        text = _MINUS.sub("minus ", text)
    if "." in text:
        text = _LEADING_POINT.sub(lambda m: "point " + _digits_words(m.group("d")), text)

    def replace(match: re.Match) -> str:
        words = _run_words(match.group())
        return match.group() if words is None else words

    return _NUMBER_RUN.sub(replace, text)


_THOUSANDS_SEPARATOR = re.compile(r",(?<=[0-9],)(?=[0-9]{3}(?![0-9]))")
_DECIMAL_POINT = re.compile(r"\.(?<=[0-9]\.)([0-9]+)")
_COMMA_BETWEEN_DIGITS = re.compile(r",(?<=[0-9],)(?=[0-9])")


def _digit_separators(text: str) -> str:
    """The rewrite ``tts_wrapper.spoken_form`` applied to every number, kept as the last
    step for digits no rule spelled: "B1.5" → "B1 point 5", "B12,345" → "B12345", any
    other comma between digits → ", "."""
    if not _has_digit(text):
        return text
    if "," in text:
        text = _THOUSANDS_SEPARATOR.sub("", text)
    if "." in text:
        text = _DECIMAL_POINT.sub(lambda m: " point " + " ".join(m.group(1)), text)
    if "," in text:
        text = _COMMA_BETWEEN_DIGITS.sub(", ", text)
    return text


# ---------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------

RULES: tuple[NormalizationRule, ...] = (
    NormalizationRule(
        "honorifics",
        'Mr. → Mister, Mrs. → Missus, Dr. → Doctor, "M. Morrel" → "Monsieur Morrel", Mme → Madame',
        _honorifics,
    ),
    NormalizationRule(
        "saint_street",
        '"St. Paul" → "Saint Paul", "Baker St." → "Baker Street."; "St" without a dot stays',
        _saint_street,
    ),
    NormalizationRule(
        "latin_abbreviations",
        '"etc." → "et cetera", "e.g." → "for example", "i.e." → "that is", "vs." → "versus"',
        _latin_abbreviations,
    ),
    NormalizationRule(
        "ampersand",
        '"Morrel & Son" → "Morrel and Son"',
        _ampersand,
    ),
    NormalizationRule(
        "number_sign",
        '"No. 5" → "number 5", "#5" → "number 5"; "No, sir" stays',
        _number_sign,
    ),
    NormalizationRule(
        "clock_times",
        '"4:30" → "four thirty", "10:05 a.m." → "ten oh five a-m", "10:00" → "ten o\'clock"',
        _clock_times,
    ),
    NormalizationRule(
        "number_ranges",
        '"1812–1815" and "1812-15" → "1812 to 1815", "5–10" → "5 to 10"',
        _number_ranges,
    ),
    NormalizationRule(
        "money",
        '"$1.87" → "one dollar and eighty-seven cents", "£5" → "five pounds", "$2 million" → "two million dollars"',
        _money,
    ),
    NormalizationRule(
        "percentages",
        '"50%" → "fifty percent"',
        _percentages,
    ),
    NormalizationRule(
        "units",
        '"5 km" → "five kilometers", "30 °C" → "thirty degrees Celsius"',
        _units,
    ),
    NormalizationRule(
        "fractions",
        '"1/2" → "one half", "2 1/2" → "two and a half", "¾" → "three quarters"',
        _fractions,
    ),
    NormalizationRule(
        "decades",
        '"the 1990s" → "the nineteen nineties", "\'60s" → "sixties"',
        _decades,
    ),
    NormalizationRule(
        "ordinals",
        '"21st" → "twenty-first", "24th" → "twenty-fourth"',
        _ordinals,
    ),
    NormalizationRule(
        "dates",
        '"February 24" → "February twenty-fourth", "24 February" → "the twenty-fourth of February"',
        _dates,
    ),
    NormalizationRule(
        "roman_numerals",
        '"CHAPTER XIV" → "CHAPTER fourteen", "Louis XVIII" → "Louis the Eighteenth"; the pronoun I stays',
        _roman_numerals,
    ),
    NormalizationRule(
        "years",
        '"1815" → "eighteen fifteen", "2005" → "two thousand five", "1905" → "nineteen oh five"',
        _years,
    ),
    NormalizationRule(
        "cardinals",
        '"1,000" → "one thousand", "3.5" → "three point five", "-4" → "minus four"',
        _cardinals,
    ),
    NormalizationRule(
        "digit_separators",
        'safety net: no "." or "," left between digits ("B1.5" → "B1 point 5")',
        _digit_separators,
    ),
)
_RULES_BY_NAME = {r.name: r for r in RULES}


def rule(name: str) -> NormalizationRule:
    """The rule called ``name`` (see ``RULES``). Raises KeyError for an unknown name."""
    return _RULES_BY_NAME[name]


@lru_cache(maxsize=8192)
def normalize_text(text: str) -> str:
    """The spoken form of ``text``: every rule of ``RULES`` applied in order.

    Pure and memoized (``normalize_text.cache_info()`` / ``cache_clear()``). Never raises
    for a ``str`` (``None`` gives ""): a rule that raises is logged with its name and
    skipped, so the text goes on as it was before that rule. Line breaks, punctuation and
    the case of the surrounding text are kept.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    for step in RULES:
        try:
            text = step.apply(text)
        except Exception:  # a bug in one rule must not stop narration
            logger.exception("Text normalization rule %r failed; its change is skipped", step.name)
    return text
