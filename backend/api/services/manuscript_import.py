"""Reading a manuscript (``.txt``, ``.md``, ``.epub``) into chapters of paragraphs.

Pure parsing: nothing here touches the database. :mod:`api.services.story_import`
turns a :class:`Manuscript` into a Project (one Segment per chapter heading and
per paragraph).

Formats:

- ``.txt``: paragraphs are separated by blank lines (:func:`split_text_blocks`);
  a ``# x`` / ``## x`` line or a ``CHAPTER IV. ...``-style line starts a chapter.
- ``.md``: parsed as CommonMark (markdown-it-py); ``#`` and ``##`` headings
  (ATX or setext) start chapters; a YAML front-matter block gives title/author.
- ``.epub`` (EPUB 2 and 3, read with EbookLib): title and author from the OPF
  metadata, the linear spine in order, chapters where the table of contents
  (the EPUB 3 nav document, else the NCX) points, paragraphs from the XHTML
  block elements (parsed with lxml).

What is left out, by rule (see :func:`parse_epub` for the EPUB details):
Project Gutenberg header, footer and licence; contents pages; cover, title,
copyright and other front-matter pages; images; page numbers; footnote marks.

Every rejection is a :class:`ManuscriptError` (a ``ValueError``) whose message
says what is wrong with the file.
"""
from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag

from ebooklib import epub
from lxml import etree
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from api.models import MAX_SEGMENT_TEXT_LENGTH

#: Largest manuscript file accepted, bytes (50 MB). A novel's EPUB is typically 0.2–5 MB.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Largest total uncompressed size of an EPUB's entries, bytes (guards against zip bombs).
MAX_EPUB_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
#: Longest paragraph (segment text), characters; longer paragraphs are split at sentence ends.
MAX_PARAGRAPH_CHARACTERS = MAX_SEGMENT_TEXT_LENGTH
#: File extensions :func:`parse_manuscript` reads (lower case).
SUPPORTED_EXTENSIONS = (".txt", ".md", ".markdown", ".epub")
#: Heading levels that start a chapter (``#`` and ``##``, ``<h1>``/``<h2>`` without a TOC).
CHAPTER_HEADING_LEVELS = (1, 2)


class ManuscriptError(ValueError):
    """The manuscript cannot be imported; the message says why (shown to the user as is)."""


class ParagraphTooLong(ManuscriptError):
    """A paragraph is over :data:`MAX_PARAGRAPH_CHARACTERS` and has no sentence end to split it at."""


@dataclass
class ManuscriptChapter:
    """One chapter: its ``title`` (the heading, narrated) and its ``paragraphs`` in reading order.

    ``title`` is None only for the text before the book's first heading.
    Paragraphs are stripped, non-empty, at most :data:`MAX_PARAGRAPH_CHARACTERS`
    characters, and keep their inner line breaks (verse).
    """

    title: str | None
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class Manuscript:
    """A parsed book: ``title`` (None when the file names none), ``author`` ("" when unknown), ``chapters``."""

    title: str | None
    author: str
    chapters: list[ManuscriptChapter]

    @property
    def titled_chapters(self) -> list[ManuscriptChapter]:
        """The chapters that have a title (what ``--chapters 1-3`` counts)."""
        return [chapter for chapter in self.chapters if chapter.title is not None]


# --- entry points --------------------------------------------------------------------


def load_manuscript_file(path: Path) -> Manuscript:
    """Read and parse the manuscript at ``path`` (type chosen by its extension).

    As :func:`parse_manuscript`; the size limit is checked before the file is read.

    Raises:
        ManuscriptError: missing file, unsupported type, over the size limit, or any parse error.
    """
    path = Path(path)
    check_extension(path.name)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ManuscriptError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    check_size(size)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManuscriptError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return parse_manuscript(path.name, data)


def parse_manuscript(filename: str, data: bytes) -> Manuscript:
    """Parse the bytes of an uploaded manuscript named ``filename``.

    ``.txt``/``.md`` must be UTF-8 (a BOM is fine) and keep the story-file
    header convention: a first line ``# Title`` gives the title, and a
    ``Source: ...`` line right below it is bibliography, not narration, and is
    dropped. The title falls back to the file name without its extension.

    Raises:
        ManuscriptError: unsupported extension, empty or over :data:`MAX_UPLOAD_BYTES`,
            not UTF-8 text, not an EPUB, DRM-protected, broken, nothing to narrate,
            or a paragraph that cannot be split under the length limit.
    """
    extension = check_extension(filename)
    check_size(len(data))
    if not data.strip():
        raise ManuscriptError(f"{filename} is empty: there is nothing to narrate.")
    if extension == ".epub":
        manuscript = parse_epub(data)
    else:
        text = _decode_text(filename, data)
        if extension == ".txt":
            header_title, text = strip_story_header(text)
            manuscript = parse_text(text, title=header_title)
        else:
            manuscript = parse_markdown(text)
    if not manuscript.title:
        manuscript.title = Path(filename).stem or "Untitled"
    return manuscript


def check_extension(filename: str) -> str:
    """Return ``filename``'s lower-case extension if it is supported, else raise :class:`ManuscriptError`."""
    extension = Path(filename).suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        shown = f"'{extension}'" if extension else "a file without an extension"
        raise ManuscriptError(
            f"Unsupported file type: {shown} ({filename}). StoryFlow imports .txt, .md and .epub manuscripts."
        )
    return extension


def check_size(size_bytes: int) -> None:
    """Raise :class:`ManuscriptError` when ``size_bytes`` is over :data:`MAX_UPLOAD_BYTES`."""
    if size_bytes > MAX_UPLOAD_BYTES:
        raise ManuscriptError(
            f"The file is {size_bytes / 1_048_576:.1f} MB; the largest manuscript accepted is "
            f"{MAX_UPLOAD_BYTES // 1_048_576} MB."
        )


def select_chapters(manuscript: Manuscript, first: int, last: int) -> Manuscript:
    """The manuscript cut to its titled chapters ``first``..``last`` (1-based, inclusive).

    Only titled chapters are counted. The untitled text before the first
    heading (if any) is kept when the range starts at chapter 1.

    Raises:
        ValueError: ``first``/``last`` are not integers with 1 <= first <= last <= number of chapters.
    """
    titled = manuscript.titled_chapters
    count = len(titled)
    if isinstance(first, bool) or isinstance(last, bool) or not isinstance(first, int) or not isinstance(last, int):
        raise ValueError(f"Chapter numbers must be integers, not {first!r} and {last!r}.")
    if not 1 <= first <= last <= count:
        raise ValueError(
            f"Chapters {first}-{last} are not in the book: it has {count} chapter{'s' if count != 1 else ''}"
            + (f" (1-{count})." if count else ".")
        )
    wanted = {id(chapter) for chapter in titled[first - 1 : last]}
    chapters = []
    for chapter in manuscript.chapters:
        if id(chapter) in wanted or (chapter.title is None and first == 1 and not chapters):
            chapters.append(chapter)
    return Manuscript(title=manuscript.title, author=manuscript.author, chapters=chapters)


# --- plain text ----------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
# "# Title", "## Part", and chapter headings such as "CHAPTER I. Down the Rabbit-Hole".
_MARKDOWN_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<text>.+)$")
_CHAPTER_HEADING = re.compile(r"^(CHAPTER|Chapter|PART|Part|BOOK|Book)\s+([0-9]+|[IVXLCDM]+)\b.{0,80}$")
_SPEAKABLE = re.compile(r"\w")


@dataclass
class TextBlock:
    """A paragraph or heading of a manuscript: ``text`` and ``heading_level`` (1–6, None for a paragraph).

    ``has_link`` (EPUB only) tells whether the block holds a link into the book.
    """

    text: str
    heading_level: int | None = None
    has_link: bool = False


def split_text_blocks(text: str) -> list[TextBlock]:
    """Split plain text into paragraphs and headings, in reading order.

    Rules:
    - paragraphs are separated by blank lines (whitespace-only lines count as blank);
      ``\\r\\n`` and ``\\r`` line endings are accepted;
    - a heading is a Markdown ``#``..``######`` line (level = number of ``#``, the marks
      are dropped) or a ``CHAPTER IV. ...``-style line (level 2); it is a block of its
      own even when the paragraph goes on below it;
    - paragraphs with nothing to speak (whitespace, or only marks such as the scene
      break ``* * *``) are dropped;
    - lines inside a paragraph (verse) keep their line breaks; each line is stripped.
    """
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[TextBlock] = []
    for paragraph in _BLANK_LINES.split(normalized):
        body: list[str] = []
        for line in paragraph.strip().split("\n"):
            heading = _text_heading(line.strip())
            if heading is not None:
                _flush_lines(body, blocks)
                body = []
                _flush_lines([heading[1]], blocks, heading_level=heading[0])
            else:
                body.append(line.strip())
        _flush_lines(body, blocks)
    return blocks


def _text_heading(line: str) -> tuple[int, str] | None:
    match = _MARKDOWN_HEADING.match(line)
    if match:
        return len(match.group("marks")), match.group("text").strip()
    if _CHAPTER_HEADING.match(line):
        return 2, line
    return None


def _flush_lines(lines: list[str], blocks: list[TextBlock], heading_level: int | None = None) -> None:
    text = "\n".join(line for line in lines if line).strip()
    if text and _SPEAKABLE.search(text):
        blocks.append(TextBlock(text, heading_level))


def strip_story_header(text: str) -> tuple[str | None, str]:
    """Split a story file into ``(title or None, text to narrate)``.

    A first line ``# Title`` gives the title (and stays in the text). A
    ``Source: ...`` line right below it is bibliographic, not narration, and is
    dropped. Other texts come back as they are.
    """
    lines = text.split("\n")
    match = _MARKDOWN_HEADING.match(lines[0].strip()) if lines else None
    if match is None:
        return None, text
    if len(lines) > 1 and lines[1].startswith("Source:"):
        lines = [lines[0], *lines[2:]]
    return match.group("text").strip(), "\n".join(lines)


def parse_text(text: str, *, title: str | None = None, author: str = "") -> Manuscript:
    """Parse plain text (the ``.txt`` format and the JSON import body) into a :class:`Manuscript`.

    Paragraphs and headings as :func:`split_text_blocks`; headings of level 1–2
    (``#``, ``##``, ``CHAPTER IV.``) start chapters, deeper ones stay paragraphs.
    See :func:`_manuscript_from_blocks` for the book-level rules (Project
    Gutenberg boilerplate, the title heading, contents lists).

    Raises:
        ManuscriptError: nothing to narrate, or a paragraph too long to split.
    """
    return _manuscript_from_blocks(split_text_blocks(text), title=title, author=author)


# --- Markdown ------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:[ \t]*(?P<value>.*)$")


def parse_markdown(text: str, *, title: str | None = None, author: str = "") -> Manuscript:
    """Parse CommonMark text into a :class:`Manuscript`.

    - ``#`` and ``##`` headings (ATX or setext) start chapters; ``###``.. headings
      are paragraphs of their own;
    - paragraphs, list items, block quotes and code blocks are paragraphs; soft and
      hard line breaks are kept (verse); images, HTML tags and link targets are dropped,
      link texts kept;
    - a leading YAML front-matter block (``---`` ... ``---``) is not narrated; its
      ``title:`` and ``author:`` fill the title and author when not given;
    - a first line ``# Title`` followed by a ``Source: ...`` line: as :func:`strip_story_header`.

    Raises:
        ManuscriptError: nothing to narrate, or a paragraph too long to split.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if match:
        fields = {}
        lines = match.group("body").split("\n")
        for line in lines:
            key_value = _FRONT_MATTER_KEY.match(line)
            if key_value:
                fields[key_value.group("key").lower()] = key_value.group("value").strip().strip("'\"").strip()
        if fields:
            text = text[match.end():]
            title = title or fields.get("title") or None
            author = author or fields.get("author") or ""
    header_title, text = strip_story_header(text)
    title = title or header_title
    return _manuscript_from_blocks(_markdown_blocks(text), title=title, author=author)


def _markdown_blocks(text: str) -> list[TextBlock]:
    tokens = MarkdownIt("commonmark").parse(text)
    blocks: list[TextBlock] = []
    for index, token in enumerate(tokens):
        if token.type in ("heading_open", "paragraph_open"):
            inline = tokens[index + 1]
            level = int(token.tag[1]) if token.type == "heading_open" else None
            _add_block(blocks, _markdown_inline_text(inline.children or []), level)
        elif token.type in ("fence", "code_block"):
            _add_block(blocks, token.content, None)
        elif token.type == "html_block" and token.content.strip():
            try:
                wrapper = lxml_html.fragment_fromstring(token.content, create_parent="div")
            except (etree.ParserError, etree.XMLSyntaxError, ValueError):
                continue  # not HTML with text in it (a lone comment, a stray tag)
            blocks.extend(item for item in _HtmlWalker({}).blocks_of(wrapper) if isinstance(item, TextBlock))
    return blocks


def _markdown_inline_text(children) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "html_inline" and re.match(r"(?i)<br\s*/?>", child.content):
            parts.append("\n")
    return "".join(parts)


def _add_block(blocks: list, raw: str, heading_level: int | None, has_link: bool = False) -> None:
    """Append ``raw`` as blocks: lines stripped, blank lines split it, nothing unspeakable kept.

    A heading's lines are joined with spaces into one block.
    """
    lines = [line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    if heading_level is not None:
        _flush_lines([" ".join(line for line in lines if line)], blocks, heading_level)
        return
    start = len(blocks)
    body: list[str] = []
    for line in lines:
        if line:
            body.append(line)
        elif body:
            _flush_lines(body, blocks)
            body = []
    _flush_lines(body, blocks)
    for block in blocks[start:]:
        block.has_link = has_link


# --- book-level rules shared by the text formats ---------------------------------------

_PG_START = re.compile(r"^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_PG_END = re.compile(r"^(\*{3}\s*)?END OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_CONTENTS_TITLE = re.compile(r"^\W*(table of )?contents\W*$", re.IGNORECASE)
# Section titles of front or back matter that is not narrated (compared casefolded, letters and spaces only).
_NOT_NARRATED_TITLES = {
    "cover", "cover page", "front cover", "back cover", "title page", "titlepage", "half title", "half title page",
    "copyright", "copyright page", "contents", "table of contents", "toc", "list of illustrations",
    "illustrations list", "colophon", "imprint", "uncopyright", "index",
}


@dataclass
class _Mark:
    """Where a table-of-contents entry (or a front-matter landmark) starts, in reading order.

    ``resume``: not a new chapter, only the end of a skipped landmark; the text after it
    goes on with the chapter before.
    """

    title: str | None
    skip: bool = False
    resume: bool = False


def _trim_gutenberg(items: list) -> list:
    """Drop the Project Gutenberg header (up to ``*** START OF ...``) and footer (from ``*** END OF ...``).

    ``items`` is a list of :class:`TextBlock` and :class:`_Mark`; marks are kept
    (a section that loses its blocks is dropped later). A marker line in the
    middle of a block cuts the block there.
    """
    def find(pattern, items):
        for index, item in enumerate(items):
            if isinstance(item, TextBlock):
                for line_number, line in enumerate(item.text.split("\n")):
                    if pattern.match(line.strip()):
                        return index, line_number
        return None

    start = find(_PG_START, items)
    if start is not None:
        index, line_number = start
        block = items[index]
        rest = "\n".join(block.text.split("\n")[line_number + 1 :]).strip()
        head = [item for item in items[:index] if isinstance(item, _Mark)]
        tail = [TextBlock(rest, block.heading_level, block.has_link)] if _SPEAKABLE.search(rest) else []
        items = head + tail + items[index + 1 :]
    end = find(_PG_END, items)
    if end is not None:
        index, line_number = end
        block = items[index]
        kept = "\n".join(block.text.split("\n")[:line_number]).strip()
        keep_block = [TextBlock(kept, block.heading_level, block.has_link)] if _SPEAKABLE.search(kept) else []
        items = items[:index] + keep_block + [item for item in items[index + 1 :] if isinstance(item, _Mark)]
    return items


def _manuscript_from_blocks(blocks: list[TextBlock], *, title: str | None, author: str) -> Manuscript:
    """Group text blocks into chapters.

    Rules:
    - the Project Gutenberg header and footer/licence are dropped (:func:`_trim_gutenberg`);
    - the book's title heading: when the first block is a level-1 heading, no other
      level-1 heading follows, and level-2 chapter headings do, it is the book's title
      rather than a chapter. It stays as the narrated opening paragraph (untitled);
    - headings of level 1–2 start chapters; the heading is the chapter title;
    - a contents list: a chapter titled "Contents"/"Table of contents" (or an untitled
      paragraph that is just that word) and the heading-only chapters right after it
      (its entries, which look like chapter headings) are dropped.
    """
    items = _trim_gutenberg(list(blocks))
    blocks = [item for item in items if isinstance(item, TextBlock)]
    levels = [block.heading_level for block in blocks]
    if (
        blocks
        and levels[0] == 1
        and 1 not in levels[1:]
        and any(level in CHAPTER_HEADING_LEVELS for level in levels[1:])
    ):
        title = title or blocks[0].text
        blocks[0] = TextBlock(blocks[0].text, None)
    chapters: list[ManuscriptChapter] = [ManuscriptChapter(None, [])]
    for block in blocks:
        if block.heading_level in CHAPTER_HEADING_LEVELS:
            chapters.append(ManuscriptChapter(block.text, []))
        elif _CONTENTS_TITLE.match(block.text) and block.heading_level is None:
            chapters.append(ManuscriptChapter(block.text, []))  # a contents heading written as a plain line
        else:
            chapters[-1].paragraphs.append(block.text)
    kept: list[ManuscriptChapter] = []
    in_contents = False
    for chapter in chapters:
        if chapter.title is not None and _CONTENTS_TITLE.match(chapter.title):
            in_contents = True
            continue
        if in_contents and not chapter.paragraphs:
            continue
        in_contents = False
        kept.append(chapter)
    return _finish(title, author, kept)


def _finish(title: str | None, author: str, chapters: list[ManuscriptChapter]) -> Manuscript:
    """Drop empty chapters, fold an untitled chapter into the one before, split long paragraphs.

    Raises:
        ManuscriptError: no chapter title and no paragraph left.
        ParagraphTooLong: a paragraph (or heading) over the limit without a sentence end to split at.
    """
    result: list[ManuscriptChapter] = []
    number = 0  # segment number in book order (a heading is a segment too), for messages
    for chapter in chapters:
        chapter_title = _one_line(chapter.title) if chapter.title is not None else None
        if chapter_title is not None and not _SPEAKABLE.search(chapter_title):
            chapter_title = None
        if chapter_title is not None:
            number += 1
            if len(chapter_title) > MAX_PARAGRAPH_CHARACTERS:
                raise ParagraphTooLong(
                    f"Paragraph {number} is a heading of {len(chapter_title):,} characters; the maximum is "
                    f"{MAX_PARAGRAPH_CHARACTERS:,}."
                )
        paragraphs: list[str] = []
        for paragraph in chapter.paragraphs:
            number += 1
            parts = split_long_paragraph(paragraph, number=number)
            number += len(parts) - 1
            paragraphs.extend(parts)
        if chapter_title is None and result:
            result[-1].paragraphs.extend(paragraphs)
        elif chapter_title is not None or paragraphs:
            result.append(ManuscriptChapter(chapter_title, paragraphs))
    if not result:
        raise ManuscriptError("There is nothing to narrate: no paragraph with words was found in the manuscript.")
    return Manuscript(
        title=_one_line(title) if title and title.strip() else None,
        author=_one_line(author) if author else "",
        chapters=result,
    )


_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+")


def split_long_paragraph(text: str, *, limit: int = MAX_PARAGRAPH_CHARACTERS, number: int | None = None) -> list[str]:
    """Split ``text`` into as few pieces of at most ``limit`` characters as whole sentences allow.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes or
    brackets) followed by whitespace. Text within the limit comes back as ``[text]``.

    Raises:
        ParagraphTooLong: one sentence alone is over ``limit``. The message names
            paragraph ``number`` when given.
    """
    if len(text) <= limit:
        return [text]
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        sentences.append(text[start:match.end()])
        start = match.end()
    sentences.append(text[start:])
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len((current + sentence).rstrip()) > limit:
            pieces.append(current.rstrip())
            current = ""
        current += sentence
    if current.strip():
        pieces.append(current.rstrip())
    too_long = max(pieces, key=len)
    if len(too_long) > limit:
        which = f"Paragraph {number}" if number is not None else "A paragraph"
        raise ParagraphTooLong(
            f"{which} has {len(text):,} characters and a sentence of {len(too_long):,} characters that "
            f"cannot be split; the maximum is {limit:,}. Split it with a blank line."
        )
    return pieces


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _decode_text(filename: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ManuscriptError(
            f"{filename} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start:,}). "
            "Save it as UTF-8 and import it again."
        ) from None
    if "\x00" in text:
        raise ManuscriptError(f"{filename} is not a text file (it contains binary data).")
    return text


# --- EPUB ----------------------------------------------------------------------------

_OPF_NS = "http://www.idpf.org/2007/opf"
_OPS_NS = "http://www.idpf.org/2007/ops"
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_XMLENC_NS = "http://www.w3.org/2001/04/xmlenc#"
#: Font obfuscation (IDPF and Adobe): not DRM, the text stays readable.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
#: Guide (EPUB 2) reference types whose pages are not narrated.
_SKIPPED_GUIDE_TYPES = {"cover", "title-page", "toc", "copyright-page", "colophon", "loi", "lot", "index"}
#: epub:type values (EPUB 3 structural semantics) of content that is not narrated.
_SKIPPED_EPUB_TYPES = {
    "cover", "titlepage", "halftitlepage", "toc", "landmarks", "page-list", "loi", "lot", "lov", "loa",
    "copyright-page", "colophon", "imprint", "index", "pagebreak", "noteref", "footnote", "footnotes",
    "endnote", "endnotes", "rearnote", "rearnotes",
}
#: ARIA roles (DPUB-ARIA) of content that is not narrated.
_SKIPPED_ROLES = {
    "doc-cover", "doc-toc", "doc-pagelist", "doc-pagebreak", "doc-noteref", "doc-footnote", "doc-endnotes",
    "doc-index", "doc-colophon", "img",
}
#: Classes of content that is not narrated: Project Gutenberg's boilerplate, printed page numbers.
_SKIPPED_CLASSES = {"pg-boilerplate", "pagenum"}
_SKIPPED_TAGS = {
    "head", "script", "style", "template", "noscript", "img", "svg", "math", "audio", "video", "object", "embed",
    "iframe", "canvas", "picture", "figure", "figcaption", "map", "button", "input", "select", "textarea",
    "rt", "rp", "nav",
}
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
#: Blocks read as one paragraph even if they hold other blocks (a table row is read as one line).
_LEAF_BLOCK_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre", "dt", "caption", "summary"}
_CELL_TAGS = {"td", "th"}
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")


def parse_epub(data: bytes) -> Manuscript:
    """Parse an EPUB 2 or 3 file into a :class:`Manuscript`.

    - title: the OPF ``dc:title``; author: the ``dc:creator`` entries whose role
      is author (``opf:role`` or an EPUB 3 ``role`` refinement), else all creators;
    - documents: the spine's linear XHTML items in order, without the EPUB 3 nav
      document and pages the OPF guide marks as cover, title page, contents,
      copyright page, colophon or index;
    - chapters: each table-of-contents entry (the nav document's ``toc`` nav in
      EPUB 3, else the NCX) starts a chapter titled by its label, where its
      ``file#anchor`` points. Without a usable table of contents, ``<h1>``/``<h2>``
      headings start chapters. A chapter's own heading is not repeated as a paragraph;
    - paragraphs: the XHTML block elements (``p``, ``div``, ``li``, ``blockquote``,
      headings, table rows...), parsed with lxml; ``<br>`` keeps a line break (verse),
      a blank line (``<br><br>``) splits a stanza;
    - not narrated: Project Gutenberg's header, footer and licence (its
      ``pg-boilerplate`` blocks and everything outside the ``*** START``/``*** END``
      markers); images, figures and captions; printed page numbers; footnote marks
      and notes; ``nav`` elements; content with an ``epub:type``/``role`` of cover,
      title page, contents, copyright page, colophon or index; sections titled like
      front matter ("Contents", "Title Page", "Copyright"...); contents pages found
      by their links (most of the section's paragraphs link into the book); and the
      heading-only sections before the first section with body text (title page,
      "by ...", edition lines). Pages with no text (cover images) yield nothing.

    Raises:
        ManuscriptError: not a ZIP, no ``META-INF/container.xml``, no OPF package,
            DRM-protected (encrypted content, ``rights.xml``), broken or corrupt
            entries, nothing to narrate, or a paragraph too long to split.
    """
    archive = _open_epub_archive(data)
    try:
        _check_epub_archive(archive)
    finally:
        archive.close()
    book, toc_from_ncx = _read_epub_book(data)

    documents = _spine_documents(book)
    if not documents:
        raise ManuscriptError("The EPUB is broken: its spine lists no readable XHTML documents.")
    names = {name for name, _ in documents}
    anchors: dict[str, dict[str | None, list[_Mark]]] = {}
    toc_marks = 0
    for name, fragment, label in _toc_entries(book, toc_from_ncx):
        if name in names:
            anchors.setdefault(name, {}).setdefault(fragment, []).append(_Mark(label or None))
            toc_marks += 1
    # A guide landmark (cover, title page, contents...) is skipped from where it points to the
    # next TOC entry, or to the end of its document.
    landmark_documents: set[str] = set()
    for reference in book.guide:
        if (reference.get("type") or "").lower() in _SKIPPED_GUIDE_TYPES and reference.get("href"):
            name, fragment = _split_href(reference["href"])
            if name not in names:
                continue
            landmark_documents.add(name)
            marks = anchors.setdefault(name, {}).setdefault(fragment, [])
            for mark in marks:  # a TOC entry on the same spot ("Contents") is skipped with it
                mark.skip = True
            if not marks:
                marks.append(_Mark(None, skip=True))

    items: list = []
    for name, content in documents:
        items.extend(_HtmlWalker(anchors.get(name, {})).document(_parse_xhtml(name, content)))
        if name in landmark_documents:
            items.append(_Mark(None, resume=True))  # what follows is not part of the landmark
    if toc_marks == 0:
        items = _heading_marks(items)
    items = _trim_gutenberg(items)
    title = _first_metadata(book, "title")
    return _finish(title, _authors(book), _epub_chapters(items))


def _open_epub_archive(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ManuscriptError(
            "This is not a valid EPUB: it is not a ZIP archive, or the archive is truncated or corrupt."
        ) from None


def _check_epub_archive(archive: zipfile.ZipFile) -> None:
    """Container, OPF, DRM, size and integrity checks before EbookLib reads the book."""
    names = set(archive.namelist())
    if "META-INF/container.xml" not in names:
        raise ManuscriptError("This is not an EPUB: the ZIP archive has no META-INF/container.xml.")
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_EPUB_UNCOMPRESSED_BYTES:
        raise ManuscriptError(
            f"The EPUB unpacks to {total / 1_048_576:.0f} MB; the most accepted is "
            f"{MAX_EPUB_UNCOMPRESSED_BYTES // 1_048_576} MB."
        )
    if "META-INF/rights.xml" in names or "META-INF/sinf.xml" in names:
        raise ManuscriptError(
            "This EPUB is DRM-protected (it has a rights file in META-INF), so its text cannot be read. "
            "Import a DRM-free copy."
        )
    if "META-INF/encryption.xml" in names:
        encrypted = _encrypted_content(_read_entry(archive, "META-INF/encryption.xml"))
        if encrypted:
            raise ManuscriptError(
                f"This EPUB is DRM-protected: META-INF/encryption.xml encrypts {encrypted}, so its text "
                "cannot be read. Import a DRM-free copy."
            )
    bad = None
    try:
        bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ManuscriptError(f"The EPUB is corrupt: its ZIP data cannot be read ({exc}).") from None
    if bad is not None:
        raise ManuscriptError(f"The EPUB is corrupt: {bad} fails its checksum.")
    container = _parse_xml(_read_entry(archive, "META-INF/container.xml"), "META-INF/container.xml")
    rootfiles = [
        element.get("full-path")
        for element in container.iter(f"{{{_CONTAINER_NS}}}rootfile")
        if element.get("media-type") == "application/oebps-package+xml" and element.get("full-path")
    ]
    if not rootfiles:
        raise ManuscriptError("This is not an EPUB: META-INF/container.xml names no OPF package document.")
    if rootfiles[0] not in names:
        raise ManuscriptError(f"The EPUB is broken: its OPF package document {rootfiles[0]} is missing.")


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ManuscriptError(f"The EPUB is corrupt: {name} cannot be read ({exc}).") from None


def _parse_xml(data: bytes, name: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ManuscriptError(f"The EPUB is broken: {name} is not well-formed XML ({exc}).") from None


def _encrypted_content(data: bytes) -> str | None:
    """What ``encryption.xml`` encrypts beyond font obfuscation (a file name or a description), else None."""
    try:
        root = _parse_xml(data, "META-INF/encryption.xml")
    except ManuscriptError:
        return "content (its encryption.xml cannot be read)"
    for encrypted in root.iter(f"{{{_XMLENC_NS}}}EncryptedData"):
        method = encrypted.find(f"{{{_XMLENC_NS}}}EncryptionMethod")
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if algorithm in _FONT_OBFUSCATION:
            continue
        reference = encrypted.find(f".//{{{_XMLENC_NS}}}CipherReference")
        return reference.get("URI", "content") if reference is not None else "content"
    return None


def _read_epub_book(data: bytes) -> tuple[epub.EpubBook, bool]:
    """Read the book with EbookLib: ``(book, toc_from_ncx)``.

    The EPUB 3 nav document is preferred for the table of contents; when it
    cannot be read (no ``toc`` nav), the NCX is used instead if there is one.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
            except IndexError:  # a nav document without a toc <nav>: try the NCX
                book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": False})
                return book, True
            return book, not any(isinstance(item, epub.EpubNav) for item in book.get_items())
    except epub.EpubException as exc:
        raise ManuscriptError(f"The EPUB is broken: {exc.msg}.") from None
    except KeyError as exc:
        missing = re.search(r"no item named (['\"])(.+?)\1 in the archive", str(exc.args[0] if exc.args else ""))
        if missing:  # zipfile's KeyError: a manifest item's file is not in the archive
            raise ManuscriptError(f"The EPUB is broken: its package lists {missing.group(2)}, which is not in the file.") from None
        raise ManuscriptError(f"The EPUB is broken: its package document cannot be read (no {exc}).") from None
    except (etree.LxmlError, zipfile.BadZipFile, zlib.error, EOFError, OSError, IndexError, AttributeError,
            TypeError, ValueError) as exc:
        raise ManuscriptError(f"The EPUB is broken: its package or table of contents cannot be read ({exc}).") from None


def _first_metadata(book: epub.EpubBook, name: str) -> str | None:
    for value, _attributes in book.get_metadata("DC", name):
        if value and value.strip():
            return _one_line(value)
    return None


def _authors(book: epub.EpubBook) -> str:
    """The ``dc:creator`` names with the author role (``aut``), or all of them when no role is given."""
    roles: dict[str, str] = {}
    opf_metadata = book.metadata.get(_OPF_NS, {})
    # EbookLib files <meta> under None or under "meta", depending on how the OPF declares its namespace.
    for value, attributes in [*opf_metadata.get(None, []), *opf_metadata.get("meta", [])]:
        if attributes.get("property") == "role" and attributes.get("refines", "").startswith("#") and value:
            roles[attributes["refines"][1:]] = value.strip().lower()
    creators = []
    for value, attributes in book.get_metadata("DC", "creator"):
        if not value or not value.strip():
            continue
        role = attributes.get(f"{{{_OPF_NS}}}role") or roles.get(attributes.get("id", ""), "")
        creators.append((_one_line(value), role.lower()))
    authors = [name for name, role in creators if role == "aut"]
    if not authors:
        authors = [name for name, role in creators if not role] or [name for name, _ in creators]
    return ", ".join(dict.fromkeys(authors))


def _spine_documents(book: epub.EpubBook) -> list[tuple[str, bytes]]:
    """``(file name relative to the OPF, content)`` of the linear XHTML spine items, nav excluded."""
    documents = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or isinstance(item, epub.EpubNav) or str(linear).lower() == "no":
            continue
        if item.media_type not in ("application/xhtml+xml", "text/html") or not item.content:
            continue
        documents.append((posixpath.normpath(item.file_name), item.content))
    return documents


def _toc_entries(book: epub.EpubBook, from_ncx: bool) -> list[tuple[str, str | None, str]]:
    """The table of contents, flattened in order: ``(file name relative to the OPF, fragment, label)``.

    EbookLib resolves nav-document hrefs against the OPF folder; NCX ``src``
    values are relative to the NCX file, so they are resolved here.
    """
    base = ""
    if from_ncx:
        ncx = next((item for item in book.get_items() if isinstance(item, epub.EpubNcx)), None)
        base = posixpath.dirname(ncx.file_name) if ncx is not None and ncx.file_name else ""
    entries = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (tuple, list)) and len(node) == 2 and not isinstance(node[0], (tuple, list)):
                visit([node[0]])
                visit(node[1])
            elif isinstance(node, (tuple, list)):
                visit(node)
            else:
                href = getattr(node, "href", "") or ""
                if not href:
                    continue
                path, fragment = _split_href(posixpath.join(base, href))
                entries.append((path, fragment, _one_line(getattr(node, "title", "") or "")))

    visit(book.toc if isinstance(book.toc, (list, tuple)) else [book.toc])  # an empty NCX gives one bare Link
    return entries


def _split_href(href: str) -> tuple[str, str | None]:
    """``"Text/ch%201.xhtml#c1"`` -> ``("Text/ch 1.xhtml", "c1")`` (path normalized, relative to the OPF)."""
    path, fragment = urldefrag(href)
    return posixpath.normpath(unquote(path)) if path else "", (unquote(fragment) or None)


def _parse_xhtml(name: str, content: bytes) -> etree._Element:
    """Parse a content document as XML (XHTML); fall back to lxml's HTML parser for tag soup."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(content, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        pass
    try:
        return lxml_html.document_fromstring(content)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ManuscriptError(f"The EPUB is broken: {name} cannot be parsed as XHTML ({exc}).") from None


def _local_name(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _is_skipped(element) -> bool:
    """Content that is never narrated (see :func:`parse_epub`)."""
    if _local_name(element) in _SKIPPED_TAGS:
        return True
    if set(element.get("class", "").split()) & _SKIPPED_CLASSES:
        return True
    types = (element.get(f"{{{_OPS_NS}}}type") or element.get("epub:type") or "").split()
    if set(types) & _SKIPPED_EPUB_TYPES:
        return True
    if set(element.get("role", "").split()) & _SKIPPED_ROLES:
        return True
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    return "display:none" in element.get("style", "").replace(" ", "").lower()


class _HtmlWalker:
    """Turns an (X)HTML tree into :class:`TextBlock` items and :class:`_Mark` items, in reading order.

    ``anchors`` maps an element id (None: the document's start) to the marks
    that start there. Inline text collapses whitespace as HTML does; ``<br>`` is
    a line break; block elements are paragraphs; an element with both text and
    blocks makes a paragraph of each run of its inline content.
    """

    def __init__(self, anchors: dict[str | None, list[_Mark]]):
        self.anchors = {key: list(value) for key, value in anchors.items()}
        self.items: list = []

    def document(self, root) -> list:
        ids = {element.get("id") for element in root.iter() if isinstance(element.tag, str)}
        ids |= {element.get("name") for element in root.iter() if _local_name(element) == "a"}
        for fragment in [key for key in self.anchors if key is not None and key not in ids]:
            self.anchors.setdefault(None, []).extend(self.anchors.pop(fragment))  # unknown anchor: document start
        self.items.extend(self.anchors.pop(None, []))
        body = next((element for element in root.iter() if _local_name(element) == "body"), root)
        if _is_skipped(body):  # e.g. <body epub:type="toc">
            self.items.extend(self._marks_in(body))
        else:
            self._container(body)
        return self.items

    def blocks_of(self, root) -> list:
        self._container(root)
        return self.items

    # -- structure --

    def _container(self, element) -> None:
        run = _Run()
        run.add(element.text)
        for child in element:
            if not isinstance(child.tag, str):  # comment, processing instruction
                run.add(child.tail)
                continue
            if _is_skipped(child):
                run.marks.extend(self._marks_in(child))
                run.add(child.tail)
                continue
            name = _local_name(child)
            if name in _BLOCK_TAGS or self._holds_block(child):
                self._flush(run)
                run = _Run()
                self._block(child)
            else:
                self._inline(child, run)
            run.add(child.tail)
        self._flush(run)

    def _block(self, element) -> None:
        name = _local_name(element)
        self.items.extend(self._own_marks(element))
        if name in _LEAF_BLOCK_TAGS or not self._holds_block(element):
            run = _Run(heading_level=int(name[1]) if re.fullmatch(r"h[1-6]", name) else None, pre=name == "pre")
            run.add(element.text)
            for child in element:
                self._inline(child, run)
                run.add(child.tail)
            self._flush(run)
        else:
            self._container(element)

    def _inline(self, element, run: "_Run") -> None:
        """Add ``element``'s text (not its tail) to ``run``."""
        if not isinstance(element.tag, str):
            return
        if _is_skipped(element):
            run.marks.extend(self._marks_in(element))
            return
        run.marks.extend(self._own_marks(element))
        name = _local_name(element)
        if name == "br":
            run.parts.append("\n")
            return
        if name == "a":
            href = element.get("href", "")
            if href and not re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
                run.has_link = True
        separator = " " if name in _CELL_TAGS else "\n" if name in _BLOCK_TAGS else ""
        run.parts.append(separator)
        run.add(element.text)
        for child in element:
            self._inline(child, run)
            run.add(child.tail)
        run.parts.append(separator)

    def _flush(self, run: "_Run") -> None:
        self.items.extend(run.marks)
        _add_block(self.items, "".join(run.parts), run.heading_level, run.has_link)

    # -- anchors --

    def _own_marks(self, element) -> list[_Mark]:
        marks = []
        for key in (element.get("id"), element.get("name") if _local_name(element) == "a" else None):
            if key is not None and key in self.anchors:
                marks.extend(self.anchors.pop(key))
        return marks

    def _marks_in(self, element) -> list[_Mark]:
        marks = []
        for descendant in element.iter():
            if isinstance(descendant.tag, str):
                marks.extend(self._own_marks(descendant))
        return marks

    @staticmethod
    def _holds_block(element) -> bool:
        return any(
            _local_name(descendant) in _BLOCK_TAGS for descendant in element.iterdescendants() if isinstance(descendant.tag, str)
        )


class _Run:
    """Inline text being gathered into one block, with the marks met inside it."""

    def __init__(self, heading_level: int | None = None, pre: bool = False):
        self.parts: list[str] = []
        self.marks: list[_Mark] = []
        self.heading_level = heading_level
        self.pre = pre
        self.has_link = False

    def add(self, text: str | None) -> None:
        if not text:
            return
        text = _INVISIBLE.sub("", text)
        self.parts.append(text if self.pre else _WHITESPACE.sub(" ", text))


def _heading_marks(items: list) -> list:
    """Without a table of contents: each ``<h1>``/``<h2>`` starts a chapter titled by it."""
    result = []
    for item in items:
        if isinstance(item, TextBlock) and item.heading_level in CHAPTER_HEADING_LEVELS:
            result.append(_Mark(item.text))
        result.append(item)
    return result


def _match_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _epub_chapters(items: list) -> list[ManuscriptChapter]:
    """Cut the item stream into sections at the marks and keep the ones worth narrating."""
    sections: list[tuple[_Mark, list[TextBlock]]] = [(_Mark(None), [])]
    for item in items:
        if isinstance(item, _Mark):
            sections.append((item, []))
        else:
            sections[-1][1].append(item)

    chapters: list[tuple[ManuscriptChapter, bool]] = []  # (chapter, has body text)
    for mark, blocks in sections:
        if not blocks:  # nothing in the book at this TOC entry (all of it skipped, e.g. the PG licence)
            continue
        title, blocks = (None, blocks) if mark.resume else _chapter_heading(mark.title, blocks)
        if mark.skip or (title is not None and _is_front_matter_title(title)) or _is_contents_page(blocks):
            continue
        has_body = any(block.heading_level is None for block in blocks)
        paragraphs = [block.text if block.heading_level is None else _one_line(block.text) for block in blocks]
        if title is None and not paragraphs:
            continue
        chapters.append((ManuscriptChapter(title, paragraphs), has_body))
    first_body = next((index for index, (_chapter, has_body) in enumerate(chapters) if has_body), len(chapters))
    return [chapter for index, (chapter, _has_body) in enumerate(chapters) if index >= first_body]


def _chapter_heading(label: str | None, blocks: list[TextBlock]) -> tuple[str | None, list[TextBlock]]:
    """The section's title, and its blocks without the heading that repeats that title.

    The leading headings whose words make up the TOC label are dropped (the
    label is narrated as the chapter's heading). When the heading says more than
    the label (label "Chapter 1", heading "Chapter 1: The Storm"), the heading
    becomes the title. Without a label, a leading heading is the title.
    """
    leading = []
    for block in blocks:
        if block.heading_level is None:
            break
        leading.append(block)
    if not leading:
        return (label or None), blocks
    if not label:
        return _one_line(leading[0].text), blocks[1:]
    label_key = _match_key(label)
    combined = ""
    consumed = 0
    for block in leading:
        candidate = combined + _match_key(block.text)
        if candidate and label_key.startswith(candidate):
            combined, consumed = candidate, consumed + 1
            if combined == label_key:
                break
        elif consumed == 0 and label_key and label_key in candidate:
            return _one_line(block.text), blocks[1:]
        else:
            break
    return label, blocks[consumed:]


def _is_front_matter_title(title: str) -> bool:
    words = " ".join(re.sub(r"[\W_]+", " ", title.casefold()).split())
    return words in _NOT_NARRATED_TITLES


def _is_contents_page(blocks: list[TextBlock]) -> bool:
    """Most paragraphs link into the book (at least three): a contents page or list of illustrations."""
    body = [block for block in blocks if block.heading_level is None]
    linked = sum(block.has_link for block in body)
    return linked >= 3 and linked * 2 >= len(body)
