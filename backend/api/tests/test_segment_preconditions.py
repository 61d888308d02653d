"""Issue 11, concurrent edits: a segment's ETag and If-Match on PATCH, PUT and DELETE (``api/services/preconditions.py``)."""
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.models import Segment
from api.serializers import SegmentSerializer
from api.services.preconditions import ERROR_SEGMENT_CHANGED
from api.tests.conftest import wait_for_task
from api.tests.factories import SegmentFactory


def url(segment) -> str:
    return f"/api/segments/{segment.id}/"


def patch(client, segment, body, if_match=None):
    headers = {} if if_match is None else {"If-Match": if_match}
    return client.patch(url(segment), body, format="json", headers=headers)


def loaded_etag(client, segment) -> str:
    return client.get(url(segment)).headers["ETag"]


def put_body(segment, **changes) -> dict:
    return {"project": str(segment.project_id), "text_content": segment.text_content, **changes}


# --- the ETag -----------------------------------------------------------------------


@pytest.mark.django_db
def test_get_sends_a_strong_etag_that_the_body_repeats(api_client, project):
    segment = SegmentFactory(project=project)
    response = api_client.get(url(segment))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"v1"'
    assert response.json()["etag"] == '"v1"'


@pytest.mark.django_db
def test_the_project_detail_and_the_segment_list_carry_each_segment_etag(api_client, project):
    segment = SegmentFactory(project=project)
    patch(api_client, segment, {"text_content": "Edited."})
    assert api_client.get(f"/api/projects/{project.id}/").json()["segments"][0]["etag"] == '"v2"'
    listed = api_client.get(f"/api/segments/?project={project.id}")
    assert listed.json()[0]["etag"] == '"v2"'
    assert "ETag" not in listed.headers  # a list has no single validator


@pytest.mark.django_db
def test_every_change_of_an_editable_field_gives_a_new_etag(api_client, project):
    segment = SegmentFactory(project=project)
    seen = [loaded_etag(api_client, segment)]
    for change in (
        {"text_content": "New text."}, {"is_locked": True}, {"is_locked": False}, {"sequence_index": 7},
        {"chapter_title": "One"}, {"speed": 1.2},
    ):
        response = patch(api_client, segment, change)
        assert response.status_code == 200, change
        assert response.headers["ETag"] == response.json()["etag"] == loaded_etag(api_client, segment)
        seen.append(response.headers["ETag"])
    assert len(set(seen)) == len(seen)


@pytest.mark.django_db
def test_a_write_that_changes_nothing_keeps_the_etag(api_client, project):
    segment = SegmentFactory(project=project, text_content="Same.")
    before = loaded_etag(api_client, segment)
    response = patch(api_client, segment, {"text_content": "Same."}, if_match=before)
    assert response.status_code == 200
    assert response.headers["ETag"] == before
    assert patch(api_client, segment, {}, if_match=before).headers["ETag"] == before


@pytest.mark.django_db
def test_saving_a_segment_elsewhere_changes_the_etag_and_audio_only_updates_do_not(api_client, project):
    """Segment.save() (the admin, scripts) bumps the version; generation's .update() of the audio fields does not."""
    segment = SegmentFactory(project=project)
    first = loaded_etag(api_client, segment)
    Segment.objects.filter(pk=segment.pk).update(audio_file="/media/x.wav", audio_duration=1.0)
    assert loaded_etag(api_client, segment) == first
    segment.refresh_from_db()
    segment.text_content = "Changed in the admin."
    segment.save()
    assert loaded_etag(api_client, segment) != first
    segment.save(update_fields=["audio_duration"])
    assert segment.version == Segment.objects.get(pk=segment.pk).version == 2


@pytest.mark.django_db(transaction=True)
def test_generating_audio_keeps_the_etag_so_the_editor_can_still_save(api_client, fake_engine, project):
    segment = SegmentFactory(project=project, text_content="A line to narrate.")
    etag = loaded_etag(api_client, segment)
    task_id = api_client.post(f"/api/segments/{segment.id}/generate-audio/").json()["task_id"]
    assert wait_for_task(task_id)["status"] == "COMPLETED"
    body = api_client.get(url(segment)).json()
    assert body["audio_file"] and body["etag"] == etag
    response = patch(api_client, segment, {"text_content": "A line to narrate, edited."}, if_match=etag)
    assert response.status_code == 200
    assert response.json()["audio_file"] == body["audio_file"]  # the text write does not drop the new audio


@pytest.mark.django_db
def test_a_text_write_never_writes_back_audio_that_generation_stored_meanwhile(project):
    segment = SegmentFactory(project=project)
    loaded = Segment.objects.get(pk=segment.pk)  # read before the audio arrives
    Segment.objects.filter(pk=segment.pk).update(audio_file="/media/new.wav", audio_duration=3.0)
    serializer = SegmentSerializer(loaded, data={"text_content": "Edited."}, partial=True)
    assert serializer.is_valid(), serializer.errors
    serializer.save()
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.text_content, stored.audio_file, stored.audio_duration) == ("Edited.", "/media/new.wav", 3.0)


# --- If-Match on PATCH ------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_with_the_current_etag_writes_and_answers_the_new_etag(api_client, project):
    segment = SegmentFactory(project=project, text_content="Before.")
    etag = loaded_etag(api_client, segment)
    response = patch(api_client, segment, {"text_content": "After."}, if_match=etag)
    assert response.status_code == 200
    assert response.json()["text_content"] == "After."
    assert response.headers["ETag"] == response.json()["etag"] == '"v2"'
    assert Segment.objects.get(pk=segment.pk).text_content == "After."


@pytest.mark.django_db
def test_patch_with_a_stale_etag_is_412_with_the_current_segment_and_changes_nothing(api_client, project):
    segment = SegmentFactory(project=project, text_content="Before.")
    stale = loaded_etag(api_client, segment)
    patch(api_client, segment, {"text_content": "Written elsewhere."})
    current = api_client.get(url(segment)).json()

    response = patch(api_client, segment, {"text_content": "Mine.", "is_locked": True}, if_match=stale)

    assert response.status_code == 412
    assert response.json() == {"error": ERROR_SEGMENT_CHANGED, "current": current}
    assert "reload" in response.json()["error"] and "without If-Match" in response.json()["error"]
    assert response.headers["ETag"] == current["etag"]
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.text_content, stored.is_locked, stored.version) == ("Written elsewhere.", False, 2)


@pytest.mark.django_db
def test_the_412_comes_before_the_lock_409(api_client, project):
    segment = SegmentFactory(project=project, text_content="Locked text.", is_locked=True)
    response = patch(api_client, segment, {"text_content": "Mine."}, if_match='"v99"')
    assert response.status_code == 412
    assert patch(api_client, segment, {"text_content": "Mine."}, if_match='"v1"').status_code == 409
    assert Segment.objects.get(pk=segment.pk).version == 1  # the refused write rolled back


@pytest.mark.django_db
def test_if_match_star_matches_any_existing_segment(api_client, project):
    segment = SegmentFactory(project=project)
    patch(api_client, segment, {"text_content": "Elsewhere."})
    response = patch(api_client, segment, {"text_content": "Mine, whatever the version."}, if_match="*")
    assert response.status_code == 200
    assert Segment.objects.get(pk=segment.pk).text_content == "Mine, whatever the version."


@pytest.mark.django_db
def test_without_if_match_the_write_wins_as_before(api_client, project):
    segment = SegmentFactory(project=project)
    patch(api_client, segment, {"text_content": "Elsewhere."})
    response = patch(api_client, segment, {"text_content": "Mine."})
    assert response.status_code == 200
    assert Segment.objects.get(pk=segment.pk).text_content == "Mine."


@pytest.mark.django_db
def test_a_list_of_tags_matches_when_one_is_current_and_weak_or_foreign_tags_never_match(api_client, project):
    segment = SegmentFactory(project=project)
    assert patch(api_client, segment, {"text_content": "x"}, if_match='W/"v1"').status_code == 412
    assert patch(api_client, segment, {"text_content": "x"}, if_match='"abc", "1"').status_code == 412
    assert patch(api_client, segment, {"text_content": "x"}, if_match='"v7", "v1",').status_code == 200
    assert Segment.objects.get(pk=segment.pk).text_content == "x"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["v1", '"v1', "", "  ", '"v1" "v2"', "W/v1", '"v1";', "**"])
def test_a_malformed_if_match_is_400_saying_what_to_send_and_changes_nothing(api_client, project, header):
    """Malformed is a client bug, not a conflict: 400 (a 412 would send the editor to reload, which cannot help)."""
    segment = SegmentFactory(project=project, text_content="Before.")
    response = patch(api_client, segment, {"text_content": "Mine."}, if_match=header)
    assert response.status_code == 400
    assert 'If-Match: "v3"' in response.json()["error"]
    assert Segment.objects.get(pk=segment.pk).text_content == "Before."


@pytest.mark.django_db
def test_two_interleaved_writers_the_second_with_the_old_etag_gets_412(project):
    segment = SegmentFactory(project=project, text_content="Start.")
    tab_a, tab_b = APIClient(), APIClient()
    etag_a, etag_b = loaded_etag(tab_a, segment), loaded_etag(tab_b, segment)
    assert etag_a == etag_b

    first = patch(tab_a, segment, {"text_content": "A's text."}, if_match=etag_a)
    second = patch(tab_b, segment, {"text_content": "B's text."}, if_match=etag_b)

    assert first.status_code == 200
    assert second.status_code == 412
    assert second.json()["current"]["text_content"] == "A's text."
    # B chooses to overwrite with the ETag the 412 gave it.
    third = patch(tab_b, segment, {"text_content": "B's text."}, if_match=second.json()["current"]["etag"])
    assert third.status_code == 200
    assert Segment.objects.get(pk=segment.pk).text_content == "B's text."


@pytest.mark.django_db(transaction=True)
def test_simultaneous_writers_with_the_same_etag_one_wins_one_gets_412(project, monkeypatch):
    """Both requests have loaded the segment and passed validation before either writes: only
    a check that is atomic with the write lets exactly one through."""
    segment = SegmentFactory(project=project, text_content="Start.")
    etag = loaded_etag(APIClient(), segment)
    both_validated = threading.Barrier(2, timeout=10)
    validate = SegmentSerializer.validate

    def validate_then_wait(self, attrs):
        both_validated.wait()
        return validate(self, attrs)

    monkeypatch.setattr(SegmentSerializer, "validate", validate_then_wait)
    results = {}

    def write(name):
        try:
            results[name] = patch(APIClient(), segment, {"text_content": f"{name}'s text."}, if_match=etag)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    codes = sorted(response.status_code for response in results.values())
    assert codes == [200, 412]
    winner = next(name for name, response in results.items() if response.status_code == 200)
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.text_content, stored.version) == (f"{winner}'s text.", 2)


# --- PUT and DELETE ---------------------------------------------------------------------


@pytest.mark.django_db
def test_put_honours_if_match(api_client, project):
    segment = SegmentFactory(project=project, text_content="Before.")
    stale = loaded_etag(api_client, segment)
    patch(api_client, segment, {"text_content": "Elsewhere."})
    refused = api_client.put(url(segment), put_body(segment, text_content="Mine."), format="json", headers={"If-Match": stale})
    assert refused.status_code == 412
    assert Segment.objects.get(pk=segment.pk).text_content == "Elsewhere."

    current = refused.json()["current"]["etag"]
    accepted = api_client.put(url(segment), put_body(segment, text_content="Mine."), format="json", headers={"If-Match": current})
    assert accepted.status_code == 200
    assert accepted.headers["ETag"] == accepted.json()["etag"] != current
    assert api_client.put(url(segment), put_body(segment, text_content="No header."), format="json").status_code == 200


@pytest.mark.django_db
def test_delete_with_a_stale_etag_is_412_and_keeps_the_segment(api_client, project):
    segment = SegmentFactory(project=project)
    stale = loaded_etag(api_client, segment)
    patch(api_client, segment, {"text_content": "Elsewhere."})
    refused = api_client.delete(url(segment), headers={"If-Match": stale})
    assert refused.status_code == 412
    assert refused.json()["current"]["text_content"] == "Elsewhere."
    assert Segment.objects.filter(pk=segment.pk).exists()

    assert api_client.delete(url(segment), headers={"If-Match": refused.json()["current"]["etag"]}).status_code == 204
    assert not Segment.objects.filter(pk=segment.pk).exists()


@pytest.mark.django_db
def test_delete_without_if_match_or_with_star_works_and_a_gone_segment_is_404(api_client, project):
    first, second = SegmentFactory(project=project), SegmentFactory(project=project)
    assert api_client.delete(url(first)).status_code == 204
    assert api_client.delete(url(second), headers={"If-Match": "*"}).status_code == 204
    assert api_client.delete(url(second), headers={"If-Match": "*"}).status_code == 404
