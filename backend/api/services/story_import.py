"""Turning a manuscript into a Project of Segments: one per chapter heading and one per paragraph."""
from __future__ import annotations

from django.db import transaction

from api.models import MAX_CHAPTER_TITLE_LENGTH, MAX_SEGMENT_TEXT_LENGTH, Project, Segment
from api.services.manuscript_import import Manuscript, ManuscriptError, ParagraphTooLong, parse_text
# The story-file header rule under the name the narrate and seed_demo commands import.
from api.services.manuscript_import import strip_story_header as parse_story_file  # noqa: F401

_TITLE_LENGTH = Project._meta.get_field("title").max_length
_AUTHOR_LENGTH = Project._meta.get_field("author").max_length


@transaction.atomic
def create_project(manuscript: Manuscript, title_override: str | None = None) -> Project:
    """Create a Project from ``manuscript`` in one transaction.

    Segments, in book order from ``sequence_index`` 0: for each chapter with a
    title, a segment whose ``text_content`` is the heading and whose
    ``chapter_title`` is the heading (cut to 255 characters), then one segment
    per paragraph. The project's title is ``title_override`` (stripped) if given,
    else the manuscript's; its author is the manuscript's. Both are cut to 255
    characters.

    Raises:
        ManuscriptError: no title, or nothing to narrate.
        ParagraphTooLong: a segment text over ``MAX_SEGMENT_TEXT_LENGTH`` characters.
    """
    title = (title_override or "").strip() or (manuscript.title or "").strip()
    if not title:
        raise ManuscriptError("The project needs a title: the manuscript names none.")
    rows: list[tuple[str, str | None]] = []
    for chapter in manuscript.chapters:
        if chapter.title:
            rows.append((chapter.title, _chapter_title(chapter.title)))
        rows.extend((paragraph, None) for paragraph in chapter.paragraphs)
    if not rows:
        raise ManuscriptError("There is nothing to narrate: the manuscript has no paragraphs.")
    for number, (text, _) in enumerate(rows, start=1):
        if len(text) > MAX_SEGMENT_TEXT_LENGTH:
            raise ParagraphTooLong(
                f"Paragraph {number} has {len(text):,} characters; the maximum is {MAX_SEGMENT_TEXT_LENGTH:,}."
            )
    project = Project.objects.create(title=title[:_TITLE_LENGTH], author=(manuscript.author or "")[:_AUTHOR_LENGTH])
    Segment.objects.bulk_create(
        Segment(project=project, sequence_index=index, text_content=text, chapter_title=chapter_title)
        for index, (text, chapter_title) in enumerate(rows)
    )
    return project


def _chapter_title(heading: str) -> str:
    title = " ".join(heading.split())
    if len(title) <= MAX_CHAPTER_TITLE_LENGTH:
        return title
    return title[: MAX_CHAPTER_TITLE_LENGTH - 1].rstrip() + "…"


def import_story(*, title: str, text: str) -> Project:
    """Create a Project titled ``title`` from plain ``text`` (the JSON body of ``POST /api/projects/import/``).

    Paragraphs and chapters as :func:`api.services.manuscript_import.parse_text`:
    one segment per paragraph; ``#``/``##`` and ``CHAPTER IV.``-style headings are
    segments that start chapters (``chapter_title``); a paragraph over
    ``MAX_SEGMENT_TEXT_LENGTH`` characters is split at sentence ends.

    Raises:
        ManuscriptError: the text has no paragraph with anything to speak.
        ParagraphTooLong: a paragraph is too long and has no sentence end to split it at.
    """
    return create_project(parse_text(text), title_override=title)
