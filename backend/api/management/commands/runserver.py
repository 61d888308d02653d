"""``manage.py runserver`` that resumes interrupted tasks when it starts serving.

Same options as Django's (``django.contrib.staticfiles``' variant). In the
process that serves requests (the autoreloader's child, or the only process
with ``--noreload``) it calls :func:`api.services.task_recovery.resume_interrupted_tasks`
before the first request, so a batch that was running when the server was
stopped or killed continues under the same task id. Set
``STORYFLOW_RESUME_TASKS=0`` to start without resuming.
"""
import os

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserverCommand
from django.core.servers.basehttp import WSGIServer


class StoryFlowWSGIServer(WSGIServer):
    """Django's threaded dev server with a deeper listen backlog.

    ``WSGIServer.request_queue_size`` is 10: with 50 editors polling at once,
    connections beyond the backlog are dropped and the client's SYN retry costs
    a whole second (seen as ~1,000 ms p99 in ``bench/status_benchmark.py``).
    """

    request_queue_size = 128


class Command(StaticfilesRunserverCommand):
    help = StaticfilesRunserverCommand.help + " Resumes tasks a previous run left PENDING or PROCESSING."
    server_cls = StoryFlowWSGIServer

    def inner_run(self, *args, **options):
        if os.environ.get("STORYFLOW_RESUME_TASKS", "1") != "0":
            from api.services.task_recovery import resume_interrupted_tasks

            try:
                resumed = resume_interrupted_tasks()
            except Exception as exc:  # e.g. migrations not applied yet: serve anyway, say why
                self.stderr.write(f"Could not resume interrupted tasks: {exc.__class__.__name__}: {exc}")
            else:
                if resumed:
                    self.stdout.write(f"Resumed {len(resumed)} interrupted task(s): {', '.join(resumed)}")
        super().inner_run(*args, **options)
