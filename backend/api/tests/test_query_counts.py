"""Selecting a project's segments costs the same number of queries for 5 segments as for 60.

A field left out of ``.only()`` (``project_id`` too: the related manager reads it)
costs one query per segment; these tests count them.
"""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.services.audio_generation import start_project_audio_generation
from api.services.audiobook_export import narratable_segments, survey_book
from api.tests.factories import ProjectFactory, SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def book(size: int, with_audio: bool):
    project = ProjectFactory()
    for index in range(size):
        SegmentFactory(
            project=project, sequence_index=index, text_content=f"Paragraph {index} of the book.",
            audio_file=f"/media/x/{index}.wav" if with_audio else None, audio_identity="0" * 64 if with_audio else "",
            voice="jm_kumo" if index % 2 else None,
        )
    return project


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


@pytest.mark.parametrize("with_audio", [False, True])
def test_generate_all_selection_does_not_query_per_segment(fake_engine, with_audio):
    start_project_audio_generation(book(2, with_audio))  # first use: settings row, learned speeds
    small, large = book(5, with_audio), book(60, with_audio)
    assert queries(lambda: start_project_audio_generation(small)) == queries(lambda: start_project_audio_generation(large))


def test_export_survey_does_not_query_per_segment(fake_engine):
    small, large = book(5, False), book(60, False)
    assert queries(lambda: narratable_segments(large)) == 1
    assert queries(lambda: survey_book(small)) == queries(lambda: survey_book(large))
