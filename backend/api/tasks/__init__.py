"""StoryFlow's task system: a generic runner for background tasks.

Imports go one way (state/eta <- progress <- journal <- manager <- selectors/events);
nothing here knows what a segment, a batch or an export is: those are services
(``api.services``) that report through :class:`TaskProgress`.

- ``manager.py``: :class:`TaskManager`, the singleton runner around one worker thread.
- ``state.py``: :class:`TaskState`, weighted :class:`Phase` progress and the status body.
- ``progress.py``: :class:`TaskProgress`, the interface a task's work reports through.
- ``eta.py``: learned speeds and ETA arithmetic.
- ``journal.py``: write-behind persistence, retention and task logs (a store of plain rows).
- ``selectors.py``: "live if known, else journaled" reads for the views.
- ``events.py``: the Server-Sent Events stream of a task's status.
"""
from api.tasks.manager import (
    CLEANUP_INTERVAL,
    DEFAULT_CLEANUP_THRESHOLD,
    DuplicateTaskError,
    TaskFailure,
    TaskManager,
    TaskManagerShutdownError,
    get_task_manager,
)
from api.tasks.progress import TaskProgress
from api.tasks.state import (
    ACTIVE_STATUSES,
    STAGES,
    TASK_CANCELLED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PENDING,
    TASK_PROCESSING,
    TERMINAL_STATUSES,
    Phase,
    TaskState,
    status_body,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CLEANUP_INTERVAL",
    "DEFAULT_CLEANUP_THRESHOLD",
    "STAGES",
    "TASK_CANCELLED",
    "TASK_COMPLETED",
    "TASK_FAILED",
    "TASK_PENDING",
    "TASK_PROCESSING",
    "TERMINAL_STATUSES",
    "DuplicateTaskError",
    "TaskFailure",
    "TaskManager",
    "TaskManagerShutdownError",
    "Phase",
    "TaskProgress",
    "TaskState",
    "get_task_manager",
    "status_body",
]
