"""Read-side queries over tasks: live from the runner if known, else from the journal.

One place answers "what is this task's status" (the status, cancel, logs and
events views all use it), so the two sources of truth are read in one way
(``shared/design/task-system.md`` §3).
"""
from __future__ import annotations

from typing import Any

from api.tasks import journal
from api.tasks.manager import PROJECT_TASKS_LIMIT, get_task_manager
from api.tasks.state import encode_status


def find_task_status(task_id: str) -> dict[str, Any] | None:
    """The task's status body: from memory when live, else from the journal (within retention), else None."""
    body = get_task_manager().get_task_status(task_id)
    if body is None:
        body = journal.load_status_body(task_id)
    return body


def find_task_status_json(task_id: str) -> bytes | None:
    """``find_task_status`` as JSON bytes: a live task's cached serialization (``status_json``),
    a journaled one serialized now, None when unknown."""
    data = get_task_manager().get_task_status_json(task_id)
    if data is None:
        body = journal.load_status_body(task_id)
        if body is not None:
            data = encode_status(body)
    return data


def list_project_tasks(project_id: Any, limit: int = PROJECT_TASKS_LIMIT) -> list[dict[str, Any]]:
    """Status bodies of a project's live and journaled tasks, newest first, at most ``limit``."""
    live = get_task_manager().list_project_tasks(str(project_id))
    seen = {body["task_id"] for body in live}
    stored = journal.load_project_status_bodies(project_id, exclude=seen, limit=limit)
    return sorted(live + stored, key=lambda body: body["created_at"] or "", reverse=True)[:limit]

