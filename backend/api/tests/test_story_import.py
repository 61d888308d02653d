"""Story import: manuscripts into projects of segments and chapters."""
import pytest

from api.models import MAX_CHAPTER_TITLE_LENGTH, MAX_SEGMENT_TEXT_LENGTH, Project, Segment
from api.services.manuscript_import import Manuscript, ManuscriptChapter, ManuscriptError, split_text_blocks
from api.services.story_import import create_project, import_story, parse_story_file

# --- create_project and import_story (database) ---------------------------------------------


def _rows(project):
    return list(project.segments.order_by("sequence_index").values_list("sequence_index", "text_content", "chapter_title"))


def test_create_project_heading_segments_start_chapters(db):
    manuscript = Manuscript(
        title="The Book",
        author="A. Writer",
        chapters=[
            ManuscriptChapter(None, ["An opening."]),
            ManuscriptChapter("Chapter 1", ["One.", "Two\nlines."]),
            ManuscriptChapter("Chapter 2", []),
            ManuscriptChapter("Chapter 3", ["Three."]),
        ],
    )
    project = create_project(manuscript)
    assert (project.title, project.author) == ("The Book", "A. Writer")
    assert _rows(project) == [
        (0, "An opening.", None),
        (1, "Chapter 1", "Chapter 1"),
        (2, "One.", None),
        (3, "Two\nlines.", None),
        (4, "Chapter 2", "Chapter 2"),
        (5, "Chapter 3", "Chapter 3"),
        (6, "Three.", None),
    ]
    assert create_project(manuscript, title_override="  Other  ").title == "Other"


def test_create_project_cuts_title_and_author_to_the_field_length(db):
    manuscript = Manuscript(title="T" * 300, author="A" * 300, chapters=[ManuscriptChapter(None, ["x."])])
    project = create_project(manuscript)
    assert (project.title, project.author) == ("T" * 255, "A" * 255)
    assert create_project(manuscript, title_override="O" * 300).title == "O" * 255


def test_create_project_long_chapter_title_is_cut_for_the_mark_but_narrated_whole(db):
    heading = "A heading " * 40
    project = create_project(Manuscript(title="T", author="", chapters=[ManuscriptChapter(heading.strip(), ["x."])]))
    segment = project.segments.get(sequence_index=0)
    assert segment.text_content == heading.strip()
    assert len(segment.chapter_title) == MAX_CHAPTER_TITLE_LENGTH and segment.chapter_title.endswith("…")


@pytest.mark.parametrize(
    ("manuscript", "message"),
    [
        (Manuscript(title=None, author="", chapters=[ManuscriptChapter(None, ["x."])]), "needs a title"),
        (Manuscript(title="T", author="", chapters=[]), "nothing to narrate"),
        (
            Manuscript(title="T", author="", chapters=[ManuscriptChapter("C", ["ok.", "y" * (MAX_SEGMENT_TEXT_LENGTH + 1)])]),
            "Paragraph 3 has 10,001 characters",
        ),
    ],
)
def test_create_project_refuses_and_creates_nothing(db, manuscript, message):
    with pytest.raises(ManuscriptError, match=message):
        create_project(manuscript)
    assert Project.objects.count() == 0 and Segment.objects.count() == 0


def test_import_story_marks_heading_segments_as_chapter_starts(db):
    text = "# The Title\n\n## Part One\n\nCHAPTER I. Start\nFirst line.\n\n### A scene\n\nMore.\n\nCHAPTER II. End\n\nLast."
    project = import_story(title="Given", text=text)
    assert project.title == "Given"
    assert _rows(project) == [
        (0, "The Title", None),  # the book's title above its chapters: narrated, not a chapter
        (1, "Part One", "Part One"),
        (2, "CHAPTER I. Start", "CHAPTER I. Start"),
        (3, "First line.", None),
        (4, "A scene", None),
        (5, "More.", None),
        (6, "CHAPTER II. End", "CHAPTER II. End"),
        (7, "Last.", None),
    ]
    # The segment texts are exactly the paragraphs and headings split_text_blocks finds.
    assert [text for _, text, _ in _rows(project)] == [block.text for block in split_text_blocks(text)]


def test_import_story_splits_an_over_long_paragraph_at_sentence_ends(db):
    paragraph = " ".join(f"This is sentence {n} of a very long paragraph." for n in range(300))
    project = import_story(title="Long", text=f"Short.\n\n{paragraph}")
    texts = [text for _, text, _ in _rows(project)]
    assert texts[0] == "Short." and len(texts) == 3
    assert " ".join(texts[1:]) == paragraph
    assert all(len(text) <= MAX_SEGMENT_TEXT_LENGTH for text in texts)


def test_json_import_answers_chapters(api_client, db):
    response = api_client.post("/api/projects/import/", {"title": "Shore", "text": "# One\n\nA.\n\n# Two\n\nB."})
    assert response.status_code == 201
    assert [(c["title"], c["sequence_index"]) for c in response.json()["chapters"]] == [("One", 0), ("Two", 2)]


def test_parse_story_file_header_convention():
    assert parse_story_file("# Tale\nSource: x/1.txt\n\nText.") == ("Tale", "# Tale\n\nText.")
    assert parse_story_file("No heading.\n\nText.") == (None, "No heading.\n\nText.")
