"""Manuscript import: .txt, .md and .epub parsing (pure) and the multipart upload of POST /api/projects/import/."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from api.models import Project, Segment
from api.services import manuscript_import
from api.services.manuscript_import import (
    MAX_PARAGRAPH_CHARACTERS,
    Manuscript,
    ManuscriptChapter,
    ManuscriptError,
    ParagraphTooLong,
    load_manuscript_file,
    parse_manuscript,
    parse_markdown,
    parse_text,
    select_chapters,
    split_long_paragraph,
    split_text_blocks,
)

STORIES = Path(settings.BASE_DIR).parent / "shared" / "data" / "stories"
#: A real Project Gutenberg EPUB, kept with the tests (see data/README.md for its source and sha256).
ALICE_EPUB = Path(__file__).parent / "data" / "carroll_alice_pg11.epub"
ALICE_SHA256 = "4aff8e93d946cab99b6c444eed249d0935a897f78bca83f05601239518ef89f9"

# The book's own table of contents (its NCX), typographic apostrophes included.
ALICE_TITLES = [
    "CHAPTER I. Down the Rabbit-Hole",
    "CHAPTER II. The Pool of Tears",
    "CHAPTER III. A Caucus-Race and a Long Tale",
    "CHAPTER IV. The Rabbit Sends in a Little Bill",
    "CHAPTER V. Advice from a Caterpillar",
    "CHAPTER VI. Pig and Pepper",
    "CHAPTER VII. A Mad Tea-Party",
    "CHAPTER VIII. The Queen’s Croquet-Ground",
    "CHAPTER IX. The Mock Turtle’s Story",
    "CHAPTER X. The Lobster Quadrille",
    "CHAPTER XI. Who Stole the Tarts?",
    "CHAPTER XII. Alice’s Evidence",
]
LICENCE_WORDS = re.compile(r"project gutenberg|license|gutenberg\.org", re.IGNORECASE)


@pytest.fixture(scope="module")
def alice_bytes() -> bytes:
    data = ALICE_EPUB.read_bytes()
    assert hashlib.sha256(data).hexdigest() == ALICE_SHA256, "the test copy of the Alice EPUB is not Project Gutenberg's"
    return data


@pytest.fixture(scope="module")
def alice(alice_bytes) -> Manuscript:
    return parse_manuscript(ALICE_EPUB.name, alice_bytes)


def rezip(data: bytes, add: dict[str, bytes | str] | None = None, drop: set[str] = frozenset()) -> bytes:
    """A copy of the ZIP ``data`` without the entries in ``drop`` and with ``add`` written (added or replaced)."""
    add = dict(add or {})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in drop and info.filename not in add:
                target.writestr(info, source.read(info.filename))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def build_epub(files: dict[str, str], opf_path: str = "OEBPS/content.opf") -> bytes:
    """An EPUB (ZIP) with ``mimetype`` first and stored, a container pointing at ``opf_path``, and ``files``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            f'<rootfiles><rootfile full-path="{opf_path}" media-type="application/oebps-package+xml"/></rootfiles>'
            "</container>",
        )
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def outline(book: Manuscript) -> list[tuple[str | None, list[str]]]:
    """``[(chapter title, paragraphs), ...]`` of ``book``."""
    return [(chapter.title, chapter.paragraphs) for chapter in book.chapters]


def xhtml(body: str, title: str = "x") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
        f"<head><title>{title}</title></head><body>{body}</body></html>"
    )


def epub3_book() -> bytes:
    """A tiny EPUB 3: nav document only (no NCX), cover and title pages, two chapters sharing a file."""
    opf = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="uid">urn:uuid:12345678-1234-1234-1234-123456789abc</dc:identifier>
    <dc:title>The Tiny Book</dc:title>
    <dc:creator id="c1">Ann Author</dc:creator>
    <meta refines="#c1" property="role" scheme="marc:relators">aut</meta>
    <dc:creator id="c2">Ivan Illustrator</dc:creator>
    <meta refines="#c2" property="role" scheme="marc:relators">ill</meta>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2025-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/>
    <item id="cover-image" href="images/cover.png" media-type="image/png" properties="cover-image"/>
    <item id="title" href="text/title.xhtml" media-type="application/xhtml+xml"/>
    <item id="links" href="text/links.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch23" href="text/ch2-3.xhtml" media-type="application/xhtml+xml"/>
    <item id="notes" href="text/notes.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine>
    <itemref idref="cover"/>
    <itemref idref="nav"/>
    <itemref idref="title"/>
    <itemref idref="links"/>
    <itemref idref="ch1"/>
    <itemref idref="ch23"/>
    <itemref idref="notes" linear="no"/>
  </spine>
</package>"""
    nav = xhtml(
        '<nav epub:type="toc" id="toc"><h1>Table of Contents</h1><ol>'
        '<li><a href="text/title.xhtml">Title Page</a></li>'
        '<li><a href="text/links.xhtml">The Chapters</a></li>'
        '<li><a href="text/ch1.xhtml">Chapter One: Arrival</a></li>'
        '<li><span>Later</span><ol>'
        '<li><a href="text/ch2-3.xhtml#c2">Chapter Two</a></li>'
        '<li><a href="text/ch2-3.xhtml#c3">Chapter Three: Home</a></li>'
        "</ol></li></ol></nav>"
        '<nav epub:type="landmarks"><ol><li><a epub:type="bodymatter" href="text/ch1.xhtml">Start</a></li></ol></nav>'
    )
    return build_epub(
        {
            "OEBPS/content.opf": opf,
            "OEBPS/nav.xhtml": nav,
            "OEBPS/images/cover.png": "not really a png",
            "OEBPS/text/cover.xhtml": xhtml('<div><img src="../images/cover.png" alt="The cover"/></div>'),
            "OEBPS/text/title.xhtml": xhtml(
                '<section epub:type="titlepage"><h1>The Tiny Book</h1><p>by Ann Author</p></section>'
            ),
            "OEBPS/text/links.xhtml": xhtml(
                "<h2>The Chapters</h2>"
                '<p><a href="ch1.xhtml">Arrival</a></p><p><a href="ch2-3.xhtml#c2">Departure</a></p>'
                '<p><a href="ch2-3.xhtml#c3">Home</a></p>'
            ),
            "OEBPS/text/ch1.xhtml": xhtml(
                "<section><h1>Chapter One</h1><h2>Arrival</h2>"
                '<p>The train came in at <span epub:type="pagebreak" id="p7" title="7">7</span>dawn.'
                '<a epub:type="noteref" href="notes.xhtml#n1">1</a></p>'
                "<p>Roses are red,<br/>violets are blue.<br/><br/>Second stanza,<br/>  still true.</p>"
                '<figure><img src="../images/cover.png" alt="A train"/><figcaption>A train.</figcaption></figure>'
                "</section>"
            ),
            "OEBPS/text/ch2-3.xhtml": xhtml(
                '<section id="c2"><h1>Chapter Two: Departure</h1><p>She left &amp; never looked back.</p></section>'
                '<section id="c3"><h1>Chapter Three: Home</h1><div>Loose text in a div.<p>A paragraph.</p>'
                "tail text</div></section>"
            ),
            "OEBPS/text/notes.xhtml": xhtml('<aside epub:type="footnote" id="n1"><p>A footnote.</p></aside>'),
        }
    )


# --- the Alice EPUB (EPUB 2, Project Gutenberg) ---------------------------------------------


def test_alice_epub_is_exactly_its_twelve_chapters(alice):
    assert [chapter.title for chapter in alice.chapters] == ALICE_TITLES
    assert all(chapter.paragraphs for chapter in alice.chapters)
    assert alice.title == "Alice's Adventures in Wonderland"
    assert alice.author == "Lewis Carroll"


def test_alice_chapter_one_first_and_last_sentence(alice):
    chapter = alice.chapters[0]
    assert chapter.paragraphs[0].startswith(
        "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do:"
    )
    assert chapter.paragraphs[0].endswith("“and what is the use of a book,” thought Alice “without pictures or conversations?”")
    # The chapter's own heading is the chapter title, not repeated as a paragraph.
    assert not any(paragraph.startswith("CHAPTER I") for paragraph in chapter.paragraphs)
    assert chapter.paragraphs[-1] == "So she set to work, and very soon finished off the cake."


def test_alice_has_no_licence_contents_or_title_page(alice):
    texts = [text for chapter in alice.chapters for text in [chapter.title, *chapter.paragraphs]]
    assert not [text for text in texts if LICENCE_WORDS.search(text)]
    assert not [text for text in texts if "MILLENNIUM FULCRUM" in text or text.strip().lower() == "contents"]
    assert "by Lewis Carroll" not in texts
    # The book's own last words are kept.
    assert alice.chapters[-1].paragraphs[-1] == "THE END"


def test_alice_verse_keeps_its_line_breaks(alice):
    crocodile = [p for p in alice.chapters[1].paragraphs if p.startswith("“How doth the little crocodile")]
    assert crocodile == ["“How doth the little crocodile\nImprove his shining tail,\nAnd pour the waters of the Nile\nOn every golden scale!"]


@pytest.mark.skipif(not STORIES.is_dir(), reason="shared stories not beside the repository")
def test_alice_epub_chapters_have_the_same_words_as_the_plain_text_edition(alice):
    """Chapters I–V of the EPUB against Project Gutenberg's plain-text edition (a different file)."""
    plain = load_manuscript_file(STORIES / "carroll_alice_ch1-5.txt")
    words = lambda chapters: re.findall(r"\w+", " ".join(f"{c.title} {' '.join(c.paragraphs)}" for c in chapters))  # noqa: E731
    assert words(alice.chapters[:5]) == words(plain.titled_chapters)


def test_select_chapters_counts_titled_chapters(alice):
    first_three = select_chapters(alice, 1, 3)
    assert [c.title for c in first_three.chapters] == ALICE_TITLES[:3]
    assert (first_three.title, first_three.author) == (alice.title, alice.author)
    assert [c.title for c in select_chapters(alice, 12, 12).chapters] == ALICE_TITLES[11:]


@pytest.mark.parametrize(("first", "last"), [(0, 2), (3, 2), (1, 13), (13, 13)])
def test_select_chapters_bad_range(alice, first, last):
    with pytest.raises(ValueError, match="12 chapters"):
        select_chapters(alice, first, last)


def test_select_chapters_keeps_the_untitled_opening_only_from_chapter_one():
    book = parse_text("Opening words.\n\n# One\n\nA.\n\n# Two\n\nB.")
    assert [c.title for c in select_chapters(book, 1, 1).chapters] == [None, "One"]
    assert [c.title for c in select_chapters(book, 2, 2).chapters] == ["Two"]


# --- EPUB 3 ------------------------------------------------------------------------------------


def test_epub3_nav_chapters_metadata_and_left_out_matter():
    book = parse_manuscript("tiny.epub", epub3_book())
    assert book.title == "The Tiny Book"
    assert book.author == "Ann Author"  # the illustrator's role is "ill"
    assert outline(book) == [
        (
            "Chapter One: Arrival",
            ["The train came in at dawn.", "Roses are red,\nviolets are blue.", "Second stanza,\nstill true."],
        ),
        ("Chapter Two: Departure", ["She left & never looked back."]),
        ("Chapter Three: Home", ["Loose text in a div.", "A paragraph.", "tail text"]),
    ]


def test_epub2_rules_one_at_a_time():
    """NCX in its own folder (hrefs relative to it); guide cover; "Copyright" by title; Gutenberg markers
    without Gutenberg's classes; a heading-only part in mid-book is kept, the leading one is not."""
    opf = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Rules</dc:title>
    <dc:creator>C. One</dc:creator><dc:creator>D. Two</dc:creator><dc:identifier id="id">x</dc:identifier></metadata>
  <manifest>
    <item id="ncx" href="nav/toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover" href="text/cover.html" media-type="application/xhtml+xml"/>
    <item id="front" href="text/front.html" media-type="application/xhtml+xml"/>
    <item id="body" href="text/body.html" media-type="application/xhtml+xml"/>
  </manifest>
  <spine toc="ncx"><itemref idref="cover"/><itemref idref="front"/><itemref idref="body"/></spine>
  <guide><reference type="cover" title="Cover" href="text/cover.html"/></guide>
</package>"""
    points = [("Copyright", "front.html#copy"), ("Book One", "body.html#b1"), ("Chapter 1", "body.html#c1"),
              ("Book Two", "body.html#b2"), ("Chapter 2", "body.html#c2")]
    ncx = (
        '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>'
        + "".join(
            f'<navPoint id="n{i}" playOrder="{i}"><navLabel><text>{label}</text></navLabel>'
            f'<content src="../text/{src}"/></navPoint>'
            for i, (label, src) in enumerate(points, start=1)
        )
        + "</navMap></ncx>"
    )
    front = xhtml(
        "<p>The Project Gutenberg eBook of Rules</p><p>*** START OF THE PROJECT GUTENBERG EBOOK RULES ***</p>"
        '<h2 id="copy">Copyright</h2><p>All rights reserved, 2025.</p>'
    )
    body = xhtml(
        '<h1 id="b1">Book One</h1><h2 id="c1">Chapter 1</h2><p>First words.</p>'
        '<h1 id="b2">Book Two</h1><h2 id="c2">Chapter 2</h2><p>Last words.</p>'
        "<p>*** END OF THE PROJECT GUTENBERG EBOOK RULES ***</p><p>Section 1. General Terms of Use</p>"
    )
    book = parse_manuscript(
        "rules.epub",
        build_epub({
            "OEBPS/content.opf": opf, "OEBPS/nav/toc.ncx": ncx, "OEBPS/text/front.html": front,
            "OEBPS/text/body.html": body, "OEBPS/text/cover.html": xhtml("<p>Cover design by Somebody.</p>"),
        }),
    )
    assert book.author == "C. One, D. Two"
    assert outline(book) == [
        ("Chapter 1", ["First words."]),
        ("Book Two", []),
        ("Chapter 2", ["Last words."]),
    ]


def test_guide_landmarks_skip_only_up_to_the_next_toc_entry_or_document_end():
    """A guide "title-page" on a whole-book file skips only the title page; a guide "cover" document
    does not swallow the untitled foreword after it."""
    opf = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>One File</dc:title><dc:identifier id="id">x</dc:identifier></metadata>
  <manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover" href="cover.html" media-type="application/xhtml+xml"/>
    <item id="fore" href="foreword.html" media-type="application/xhtml+xml"/>
    <item id="main" href="main.html" media-type="application/xhtml+xml"/></manifest>
  <spine toc="ncx"><itemref idref="cover"/><itemref idref="fore"/><itemref idref="main"/></spine>
  <guide><reference type="cover" href="cover.html"/><reference type="title-page" href="main.html"/></guide>
</package>"""
    ncx = (
        '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>'
        '<navPoint id="a"><navLabel><text>One</text></navLabel><content src="main.html#one"/></navPoint>'
        '<navPoint id="b"><navLabel><text>Two</text></navLabel><content src="main.html#two"/></navPoint>'
        "</navMap></ncx>"
    )
    main = xhtml(
        "<h1>One File</h1><p>A Novel in Two Parts</p><p>Printed by Somebody.</p>"
        '<h2 id="one">One</h2><p>First.</p><h2 id="two">Two</h2><p>Second.</p>'
    )
    files = {
        "OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx, "OEBPS/main.html": main,
        "OEBPS/cover.html": xhtml("<p>Cover by Somebody.</p>"), "OEBPS/foreword.html": xhtml("<p>A few words first.</p>"),
    }
    book = parse_manuscript("one.epub", build_epub(files))
    assert outline(book) == [
        (None, ["A few words first."]),
        ("One", ["First."]),
        ("Two", ["Second."]),
    ]


def test_epub_without_usable_toc_uses_h1_h2_headings():
    opf = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:title>Two Parts</dc:title><dc:creator opf:role="aut">B. Writer</dc:creator><dc:identifier id="id">x</dc:identifier>
  </metadata>
  <manifest><item id="a" href="a.html" media-type="application/xhtml+xml"/>
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/></manifest>
  <spine toc="ncx"><itemref idref="a"/></spine>
</package>"""
    ncx = '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap/></ncx>'
    body = "<p>Before any heading.</p><h2>First</h2><p>One.</p><h3>A sub-heading</h3><p>Two.</p><h2>Second</h2><p>Three.</p>"
    book = parse_manuscript("two.epub", build_epub({"OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx, "OEBPS/a.html": xhtml(body)}))
    assert (book.title, book.author) == ("Two Parts", "B. Writer")
    assert outline(book) == [
        (None, ["Before any heading."]),
        ("First", ["One.", "A sub-heading", "Two."]),
        ("Second", ["Three."]),
    ]


# --- bad EPUBs ---------------------------------------------------------------------------------

AES_ENCRYPTION_XML = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
    <enc:CipherData><enc:CipherReference URI="OEBPS/8860606395858576540_11-h-1.htm.html"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>"""
FONT_OBFUSCATION_XML = AES_ENCRYPTION_XML.replace(
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc", "http://www.idpf.org/2008/embedding"
).replace("OEBPS/8860606395858576540_11-h-1.htm.html", "OEBPS/fonts/serif.otf")


def corrupt_entry(data: bytes, name: str) -> bytes:
    """``data`` with one byte of entry ``name``'s stored content changed (its CRC no longer matches)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename), compress_type=zipfile.ZIP_STORED)
    raw = bytearray(out.getvalue())
    content = zipfile.ZipFile(io.BytesIO(data)).read(name)
    offset = raw.find(content[2000:2200])  # past the <head> all the chapter files share
    assert offset > 0 and raw.count(content[2000:2200]) == 1
    raw[offset + 100] ^= 0x20
    return bytes(raw)


BROKEN_EPUBS = {
    "truncated": (lambda alice: alice[: len(alice) // 2], "not a ZIP archive, or the archive is truncated"),
    "plain text": (lambda alice: b"Just some text, not a book.", "not a ZIP archive"),
    "zip, not an EPUB": (
        lambda alice: rezip(alice, drop={"META-INF/container.xml"}, add={"notes.txt": "hello"}),
        "no META-INF/container.xml",
    ),
    "encrypted content": (
        lambda alice: rezip(alice, add={"META-INF/encryption.xml": AES_ENCRYPTION_XML}),
        "DRM-protected: META-INF/encryption.xml encrypts OEBPS/8860606395858576540_11-h-1.htm.html",
    ),
    "rights.xml": (lambda alice: rezip(alice, add={"META-INF/rights.xml": "<rights/>"}), "DRM-protected"),
    "no OPF": (lambda alice: rezip(alice, drop={"OEBPS/content.opf"}), "OPF package document OEBPS/content.opf is missing"),
    "corrupt entry": (
        lambda alice: corrupt_entry(alice, "OEBPS/8860606395858576540_11-h-3.htm.html"),
        "corrupt: OEBPS/8860606395858576540_11-h-3.htm.html fails its checksum",
    ),
    "manifest file missing": (
        lambda alice: rezip(alice, drop={"OEBPS/8860606395858576540_11-h-5.htm.html"}),
        "The EPUB is broken: its package lists OEBPS/8860606395858576540_11-h-5.htm.html, which is not in the file.",
    ),
    "only images": (
        lambda alice: build_epub(
            {
                "OEBPS/content.opf": '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">'
                '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Pictures</dc:title></metadata>'
                '<manifest><item id="a" href="a.html" media-type="application/xhtml+xml"/></manifest>'
                '<spine><itemref idref="a"/></spine></package>',
                "OEBPS/a.html": xhtml('<p><img src="x.png" alt="a picture"/></p>'),
            }
        ),
        "nothing to narrate",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_EPUBS))
def test_broken_epub_is_a_clear_error(alice_bytes, case):
    make, message = BROKEN_EPUBS[case]
    with pytest.raises(ManuscriptError) as error:
        parse_manuscript("book.epub", make(alice_bytes))
    assert message in str(error.value)


def test_font_obfuscation_is_not_drm(alice_bytes):
    book = parse_manuscript("book.epub", rezip(alice_bytes, add={"META-INF/encryption.xml": FONT_OBFUSCATION_XML}))
    assert len(book.chapters) == 12


@pytest.mark.parametrize("name", ["book.pdf", "book.docx", "README", "book.epub.zip"])
def test_unsupported_file_type(name):
    with pytest.raises(ManuscriptError, match="Unsupported file type.*StoryFlow imports .txt, .md and .epub"):
        parse_manuscript(name, b"Some words.")


def test_size_limit(monkeypatch, tmp_path):
    assert manuscript_import.MAX_UPLOAD_BYTES == 50 * 1024 * 1024
    monkeypatch.setattr(manuscript_import, "MAX_UPLOAD_BYTES", 1024)
    with pytest.raises(ManuscriptError, match=r"The file is 0\.0 MB; the largest manuscript accepted is 0 MB"):
        parse_manuscript("big.txt", b"word. " * 300)
    path = tmp_path / "big.md"
    path.write_bytes(b"word. " * 300)
    with pytest.raises(ManuscriptError, match="largest manuscript accepted"):
        load_manuscript_file(path)


def test_text_that_is_not_utf8_or_is_binary():
    with pytest.raises(ManuscriptError, match=r"not UTF-8 text \(byte 0xe9 at position 3\)"):
        parse_manuscript("latin.txt", "Café".encode("latin-1"))
    with pytest.raises(ManuscriptError, match="not a text file"):
        parse_manuscript("binary.md", b"abc\x00def")
    with pytest.raises(ManuscriptError, match="empty"):
        parse_manuscript("empty.txt", b"  \n\n ")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ManuscriptError, match="Cannot read"):
        load_manuscript_file(tmp_path / "nope.txt")


# --- plain text and Markdown -----------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """The paragraph and heading texts :func:`split_text_blocks` finds in ``text``."""
    return [block.text for block in split_text_blocks(text)]


def test_blank_lines_separate_paragraphs_with_crlf_and_whitespace_lines():
    assert paragraphs("One.\r\n\r\nTwo.\n \t\nThree.") == ["One.", "Two.", "Three."]


def test_heading_is_its_own_segment_even_without_blank_line():
    assert paragraphs("# The Title\nFirst line of text.\n\n## Part Two\n\nMore.") == [
        "The Title",
        "First line of text.",
        "Part Two",
        "More.",
    ]


def test_chapter_heading_detected():
    assert paragraphs("CHAPTER IV. The Rabbit Sends in a Little Bill\nIt was the White Rabbit.") == [
        "CHAPTER IV. The Rabbit Sends in a Little Bill",
        "It was the White Rabbit.",
    ]


def test_scene_breaks_and_whitespace_paragraphs_dropped():
    assert paragraphs("A.\n\n* * *\n\n   \n\n---\n\nB.") == ["A.", "B."]


def test_verse_keeps_line_breaks():
    assert paragraphs("Twinkle, twinkle,\nlittle bat!\n\nNext.") == ["Twinkle, twinkle,\nlittle bat!", "Next."]


def test_empty_text_gives_nothing():
    assert paragraphs("") == [] and paragraphs("\n\n \n") == []


@pytest.mark.skipif(not STORIES.is_dir(), reason="shared stories not beside the repository")
def test_alice_keeps_chapter_headings_and_all_words():
    text = (STORIES / "carroll_alice_ch1-5.txt").read_text(encoding="utf-8")
    segments = paragraphs(text)
    assert sum(s.startswith("CHAPTER ") for s in segments) == 5
    assert segments[0] == "Alice's Adventures in Wonderland, Chapters I–V — Lewis Carroll"
    words = lambda s: [w for w in s.replace("#", " ").split() if w != "*"]  # noqa: E731
    assert words(" ".join(segments)) == words(text)


def test_text_chapters_title_heading_and_gutenberg_boilerplate():
    text = (
        "The Project Gutenberg eBook of Something\n\nThis ebook is for the use of anyone anywhere.\n\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\n\n"
        "# Something\n\nContents\n\nCHAPTER I. Start\nCHAPTER II. End\n\n"
        "CHAPTER I. Start\n\nOne.\n\n### A scene\n\nTwo.\n\nCHAPTER II. End\n\nThree\nlines\nof verse.\n\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\n\nSection 1. General Terms of Use and Redistributing"
    )
    book = parse_text(text)
    assert book.title == "Something"
    assert outline(book) == [
        (None, ["Something"]),
        ("CHAPTER I. Start", ["One.", "A scene", "Two."]),
        ("CHAPTER II. End", ["Three\nlines\nof verse."]),
    ]


def test_story_file_header_convention():
    data = "# The Tale\nSource: somewhere/1.txt\n\nOnce upon a time.\n\nThe end.".encode()
    book = parse_manuscript("tale.txt", data)
    assert book.title == "The Tale"
    assert outline(book) == [("The Tale", ["Once upon a time.", "The end."])]
    assert parse_manuscript("untitled_story.txt", b"Just words.").title == "untitled_story"


def test_markdown_headings_start_chapters():
    text = (
        "# The Book\n\n## One\n\nPara *one* with a [link](https://example.com)\nand a second line.  \nThird.\n\n"
        "```\n# not a heading\n```\n\n![a picture](p.png)\n\n### Small heading\n\n- item\n\n"
        "Two\n---\n\n> quoted <br> text\n\n<div><p>Raw <em>HTML</em>.</p></div>\n"
    )
    book = parse_markdown(text)
    assert book.title == "The Book"
    assert outline(book) == [
        (None, ["The Book"]),
        ("One", ["Para one with a link\nand a second line.\nThird.", "# not a heading", "Small heading", "item"]),
        ("Two", ["quoted\ntext", "Raw HTML."]),
    ]


def test_markdown_several_level_one_headings_are_all_chapters_and_front_matter_is_read():
    text = "---\ntitle: \"Front Title\"\nauthor: A. Person\n---\n\n# Part A\n\nText A.\n\n# Part B\n\nText B.\n"
    book = parse_manuscript("book.md", text.encode())
    assert (book.title, book.author) == ("Front Title", "A. Person")
    assert outline(book) == [("Part A", ["Text A."]), ("Part B", ["Text B."])]


def test_nothing_to_narrate():
    with pytest.raises(ManuscriptError, match="nothing to narrate"):
        parse_text("* * *\n\n---\n\n   ")
    with pytest.raises(ManuscriptError, match="nothing to narrate"):
        parse_manuscript("x.md", b"![only](a.png)\n")


# --- long paragraphs ---------------------------------------------------------------------------


def test_long_paragraph_is_split_at_sentence_ends():
    sentences = [f"Sentence number {n} goes on for a while, as sentences do." for n in range(400)]
    paragraph = " ".join(sentences)
    assert len(paragraph) > 2 * MAX_PARAGRAPH_CHARACTERS
    pieces = split_long_paragraph(paragraph)
    assert len(pieces) == 3
    assert all(len(piece) <= MAX_PARAGRAPH_CHARACTERS for piece in pieces)
    assert all(piece.endswith("as sentences do.") for piece in pieces)
    assert " ".join(pieces) == paragraph
    book = parse_text(f"# Long\n\n{paragraph}\n\nShort.")
    assert book.chapters[0].paragraphs == [*pieces, "Short."]


def test_sentence_over_the_limit_cannot_be_split():
    unsplittable = ("word " * 2500).strip()
    with pytest.raises(ParagraphTooLong, match=rf"Paragraph 2 has {len(unsplittable):,} characters.*Split it with a blank line"):
        parse_text(f"Short.\n\n{unsplittable}")


def test_manuscript_dataclasses():
    book = Manuscript(title="T", author="", chapters=[ManuscriptChapter(None, ["a"]), ManuscriptChapter("B", ["b"])])
    assert [c.title for c in book.titled_chapters] == ["B"]


# --- POST /api/projects/import/ with a file ------------------------------------------------


def upload(api_client, name: str, data: bytes, **fields):
    return api_client.post(
        "/api/projects/import/", {"file": _named_file(name, data), **fields}, format="multipart"
    )


def _named_file(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_upload_alice_epub(db, api_client, alice_bytes):
    response = upload(api_client, "carroll_alice_pg11.epub", alice_bytes)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [chapter["title"] for chapter in body["chapters"]] == ALICE_TITLES
    assert body["title"] == "Alice's Adventures in Wonderland"
    project = Project.objects.get(id=body["id"])
    assert project.author == "Lewis Carroll"
    segments = list(project.segments.order_by("sequence_index"))
    assert [s.sequence_index for s in segments] == list(range(len(segments)))
    heads = [s for s in segments if s.chapter_title]
    assert [s.chapter_title for s in heads] == ALICE_TITLES
    assert all(s.text_content == s.chapter_title for s in heads)
    assert segments[0].chapter_title == ALICE_TITLES[0]
    assert segments[1].text_content.startswith("Alice was beginning to get very tired")
    assert [c["segment_id"] for c in body["chapters"]] == [str(s.id) for s in heads]
    assert not [s.text_content for s in segments if LICENCE_WORDS.search(s.text_content)]


def test_upload_with_title_override_and_markdown(db, api_client):
    text = "# Ignored Title\n\n## First\n\nOne.\n\n## Second\n\nTwo.\n"
    response = upload(api_client, "story.md", text.encode(), title="  My Title ")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "My Title"
    assert [c["title"] for c in body["chapters"]] == ["First", "Second"]
    assert [(s["text_content"], s["chapter_title"]) for s in body["segments"]] == [
        ("Ignored Title", None), ("First", "First"), ("One.", None), ("Second", "Second"), ("Two.", None),
    ]


@pytest.mark.parametrize("case", ["truncated", "zip, not an EPUB", "encrypted content"])
def test_upload_broken_epub_is_400_and_creates_nothing(db, api_client, alice_bytes, case):
    make, message = BROKEN_EPUBS[case]
    response = upload(api_client, "book.epub", make(alice_bytes))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Project.objects.count() == 0 and Segment.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("book.pdf", b"%PDF-1.7", "Unsupported file type: '.pdf'"),
        ("empty.txt", b"", "The submitted file is empty."),
        ("spaces.txt", b"  \n ", "empty: there is nothing to narrate"),
        ("marks.md", b"* * *\n", "nothing to narrate"),
    ],
)
def test_upload_bad_file_is_400(db, api_client, name, data, message):
    response = upload(api_client, name, data)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Project.objects.count() == 0


def test_upload_over_the_size_limit_is_400(db, api_client, monkeypatch):
    monkeypatch.setattr(manuscript_import, "MAX_UPLOAD_BYTES", 1000)
    response = upload(api_client, "big.txt", b"Words. " * 200)
    assert response.status_code == 400
    assert "the largest manuscript accepted is" in response.json()["error"]
    assert Project.objects.count() == 0


def test_multipart_without_a_file_is_400(db, api_client):
    response = api_client.post("/api/projects/import/", {"title": "x"}, format="multipart")
    assert response.status_code == 400
    assert "post the manuscript as the multipart field `file`" in response.json()["error"]
