"""Turning a plain-text story into a Project of Segments, one per paragraph."""
from __future__ import annotations

import re

from django.db import transaction

from api.models import MAX_SEGMENT_TEXT_LENGTH, Project, Segment

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
# "# Title", "## Part", and chapter headings such as "CHAPTER I. Down the Rabbit-Hole".
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+)$")
_CHAPTER_HEADING = re.compile(r"^(CHAPTER|Chapter|PART|Part|BOOK|Book)\s+([0-9]+|[IVXLCDM]+)\b.{0,80}$")
_SPEAKABLE = re.compile(r"\w")


class StoryTooLongParagraph(ValueError):
    """A paragraph is longer than ``MAX_SEGMENT_TEXT_LENGTH`` characters."""


def split_story(text: str) -> list[str]:
    """Split a story into segment texts, one per paragraph.

    Rules:
    - paragraphs are separated by blank lines (whitespace-only lines count as blank);
      ``\\r\\n`` and ``\\r`` line endings are accepted;
    - a heading (a Markdown ``#`` line, or a ``CHAPTER IV. ...``-style line) is a
      segment of its own even when the paragraph goes on below it; the ``#`` marks
      are dropped;
    - paragraphs with nothing to speak (whitespace, or only marks such as
      the scene break ``* * *``) are dropped;
    - lines inside a paragraph (verse) keep their line breaks.

    Returns:
        The segment texts in reading order, each stripped.
    """
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    segments: list[str] = []
    for paragraph in _BLANK_LINES.split(normalized):
        lines = [line.rstrip() for line in paragraph.strip().split("\n")]
        body: list[str] = []
        for line in lines:
            heading = _heading_text(line.strip())
            if heading is not None:
                _flush(body, segments)
                body = []
                _flush([heading], segments)
            else:
                body.append(line.strip())
        _flush(body, segments)
    return segments


def _heading_text(line: str) -> str | None:
    match = _MARKDOWN_HEADING.match(line)
    if match:
        return match.group("text").strip()
    if _CHAPTER_HEADING.match(line):
        return line
    return None


def _flush(lines: list[str], segments: list[str]) -> None:
    text = "\n".join(line for line in lines if line).strip()
    if text and _SPEAKABLE.search(text):
        segments.append(text)


def parse_story_file(text: str) -> tuple[str | None, str]:
    """Split a story file into ``(title or None, text to narrate)``.

    A first line ``# Title`` gives the title (and stays in the text, where
    :func:`split_story` makes it the first segment). The stories in
    ``shared/data/stories`` follow it with a ``Source: ...`` line, which is
    bibliographic, not narration, and is dropped. Other texts come back as they are.
    """
    lines = text.split("\n")
    match = _MARKDOWN_HEADING.match(lines[0].strip()) if lines else None
    if match is None:
        return None, text
    if len(lines) > 1 and lines[1].startswith("Source:"):
        lines = [lines[0], *lines[2:]]
    return match.group("text").strip(), "\n".join(lines)


@transaction.atomic
def import_story(*, title: str, text: str) -> Project:
    """Create a Project titled ``title`` with one Segment per paragraph of ``text``.

    Raises:
        ValueError: the text has no paragraph with anything to speak.
        StoryTooLongParagraph: a paragraph exceeds ``MAX_SEGMENT_TEXT_LENGTH`` characters.
    """
    paragraphs = split_story(text)
    if not paragraphs:
        raise ValueError("The text has no paragraphs to narrate.")
    for number, paragraph in enumerate(paragraphs, start=1):
        if len(paragraph) > MAX_SEGMENT_TEXT_LENGTH:
            raise StoryTooLongParagraph(
                f"Paragraph {number} has {len(paragraph)} characters; the maximum is "
                f"{MAX_SEGMENT_TEXT_LENGTH}. Split it with a blank line."
            )
    project = Project.objects.create(title=title)
    Segment.objects.bulk_create(
        Segment(project=project, sequence_index=index, text_content=paragraph)
        for index, paragraph in enumerate(paragraphs)
    )
    return project
