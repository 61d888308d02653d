"""StoryFlow's task system: the TaskManager, task state and progress, the ETA, the journal and the event stream.

- ``manager.py``: :class:`TaskManager`, the singleton around one worker thread.
- ``state.py``: :class:`TaskState` and the status body computed from it.
- ``eta.py``: learned synthesis speed and ETA arithmetic.
- ``journal.py``: write-behind persistence, retention and task logs.
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
from api.tasks.state import (
    ACTIVE_STATUSES,
    STAGES,
    TASK_CANCELLED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PENDING,
    TASK_PROCESSING,
    TERMINAL_STATUSES,
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
    "TaskState",
    "get_task_manager",
    "status_body",
]
