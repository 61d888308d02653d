"""Conditional writes of a segment: its ``ETag`` and the ``If-Match`` check (issue 11, concurrent edits).

Two tabs editing the same segment must not silently overwrite each other. A
segment's entity tag is ``"v<version>"`` (:func:`segment_etag`), where
``Segment.version`` is bumped by the database on every save of an existing
segment (``Segment.save``: the API's PATCH/PUT, the admin). It validates the
segment's *editable state* (text, lock, position, chapter title, voice, speed),
which is what ``If-Match`` protects: generation writes only the audio fields
(with ``.update()``) and leaves the version, so the editor's own writes after a
generation are not refused. The body carries it too (``etag``), so a client that
read the segment inside a project detail can send it back.

The rules of :func:`guarded_write` (RFC 9110 §13.1.1, strong comparison):

- no ``If-Match``: today's behaviour, the write wins;
- ``If-Match: *``: matches any existing segment;
- ``If-Match: "v3"`` (or a list ``"v3", "v4"``): the write happens only if the
  segment is at one of those versions, else 412 with the segment's current body
  (:class:`PreconditionFailed`) and nothing changes. A weak tag (``W/"v3"``) or a
  tag that is not one of ours never matches;
- a malformed value (no double quotes, e.g. ``If-Match: v3``) is a 400 that says
  what to send: it is a client bug that reloading would not fix, so it is not
  answered like a conflict.

The check is atomic with the write: the first statement of the write's
transaction is a conditional ``UPDATE segment SET version = version WHERE id = %s
AND version IN (...)``. A write statement takes SQLite's database write lock
(and a row lock on other databases) until the transaction ends, so no other
writer can change the segment between the check and the save; on PostgreSQL a
second writer blocked on that row re-evaluates the ``WHERE`` after the first
commits, sees the new version and gets its 412. (StoryFlow's SQLite also opens
transactions ``IMMEDIATE``, but the check does not rely on it.)

This module speaks HTTP on purpose (``If-Match`` is an HTTP header): its errors
are DRF exceptions answered by ``api.exceptions.json_exception_handler``.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response

from api.exceptions import ApiError
from api.models import Segment

#: The 412 message: what happened and the two ways on.
ERROR_SEGMENT_CHANGED = (
    "The segment changed elsewhere since you loaded it: reload it (GET it again, or take `current` from this "
    "answer) and redo your change, or send the write again without If-Match (or with If-Match set to "
    "current.etag) to overwrite."
)

#: The 400 message for an If-Match header that is neither ``*`` nor a list of quoted entity tags.
ERROR_MALFORMED_IF_MATCH = (
    'If-Match must be "*" or the segment\'s ETag exactly as the ETag header (or the body\'s "etag") gives it, '
    'double quotes included, for example If-Match: "v3"; got {value!r}. Leave the header out to write unconditionally.'
)

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')
_OUR_TAG = re.compile(r"v([0-9]{1,10})")
_LIST_GAP = re.compile(r"[ \t,]*")


def segment_etag(segment: Segment) -> str:
    """The segment's strong entity tag, quotes included: ``"v<version>"``."""
    return f'"v{segment.version}"'


@dataclass(frozen=True)
class IfMatch:
    """A parsed ``If-Match``: ``any`` for ``*``, else the versions its strong tags of ours name."""

    any: bool
    versions: frozenset[int]


def parse_if_match(value: str | None) -> IfMatch | None:
    """Parse an ``If-Match`` header; None when it is absent.

    Raises a 400 :class:`~api.exceptions.ApiError` for a malformed value (see the
    module docstring). Weak tags and tags not of the form ``"v<number>"`` are
    well-formed but never match (strong comparison).
    """
    if value is None:
        return None
    if value.strip() == "*":
        return IfMatch(any=True, versions=frozenset())
    versions: set[int] = set()
    position, parsed = 0, 0
    while True:
        position = _LIST_GAP.match(value, position).end()  # empty list elements are allowed (RFC 9110 §5.6.1)
        if position == len(value):
            break
        match = _ENTITY_TAG.match(value, position)
        if match is None or (match.end() < len(value) and value[match.end()] != ","):
            raise ApiError(status.HTTP_400_BAD_REQUEST, ERROR_MALFORMED_IF_MATCH.format(value=value[:100]))
        parsed += 1
        ours = _OUR_TAG.fullmatch(match.group(2))
        if ours and not match.group(1):  # strong comparison: a weak tag never matches
            versions.add(int(ours.group(1)))
        position = match.end()
    if not parsed:
        raise ApiError(status.HTTP_400_BAD_REQUEST, ERROR_MALFORMED_IF_MATCH.format(value=value[:100]))
    return IfMatch(any=False, versions=frozenset(versions))


class PreconditionFailed(APIException):
    """412: ``{"error": ERROR_SEGMENT_CHANGED, "current": <the segment's current body>}``."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"

    def __init__(self, current: Mapping[str, Any]):
        super().__init__(ERROR_SEGMENT_CHANGED)
        # A dict detail is sent as the body as it is (DRF's exception_handler), numbers kept.
        self.detail = {"error": ERROR_SEGMENT_CHANGED, "current": dict(current)}


@contextmanager
def guarded_write(
    segment: Segment, if_match: str | None, describe: Callable[[Segment], Mapping[str, Any]]
) -> Iterator[Segment]:
    """Run the block (a save or delete of ``segment``) only if ``if_match`` holds, atomically.

    Opens a transaction whose first statement checks the condition and locks the
    segment (see the module docstring), then reloads ``segment`` from the locked
    row, so checks in the block (e.g. "is it locked?") see the state that is
    being written over. Raises :class:`PreconditionFailed` (with
    ``describe(current)`` as ``current``) when the segment is at another version,
    ``NotFound`` when it was deleted meanwhile, a 400 ``ApiError`` for a
    malformed header. An exception in the block rolls the transaction back.
    """
    condition = parse_if_match(if_match)
    with transaction.atomic():
        rows = Segment.objects.filter(pk=segment.pk)
        guarded = rows if condition is None or condition.any else rows.filter(version__in=condition.versions)
        if not guarded.update(version=F("version")):  # a no-op write: takes the lock, tells whether it matched
            current = rows.first()
            if current is None:
                raise NotFound()
            raise PreconditionFailed(describe(current))
        segment.refresh_from_db()
        yield segment


def add_etag_header(response: Response) -> Response:
    """Give a segment answer its ``ETag`` header: the body's ``etag``, or ``current.etag`` of a 412."""
    data = getattr(response, "data", None)
    if isinstance(data, Mapping):
        body = data.get("current") if response.status_code == status.HTTP_412_PRECONDITION_FAILED else data
        answered = status.is_success(response.status_code) or response.status_code == status.HTTP_412_PRECONDITION_FAILED
        if answered and isinstance(body, Mapping) and isinstance(body.get("etag"), str):
            response["ETag"] = body["etag"]
    return response
