"""Scale-out synthesis workers (``STORYFLOW_SYNTHESIS=celery``): Celery tasks that turn a
synthesis request into audio, on any machine that reaches the broker.

``celery_app`` is the Celery application (Redis broker and result backend, JSON only);
``synthesis`` holds the one task, a pure function of the synthesis input. Workers use
no database and no shared disk: everything else (the task's state, files, rows) stays
in the web process (``api.services.remote_synthesis``).
"""
