"""``manage.py runserver`` that resumes interrupted tasks when it starts serving.

Same options as Django's (``django.contrib.staticfiles``' variant). In the
process that serves requests (the autoreloader's child, or the only process
with ``--noreload``) it calls :func:`api.services.task_recovery.resume_interrupted_tasks`
before the first request, so a batch that was running when the server was
stopped or killed continues under the same task id. Set
``STORYFLOW_RESUME_TASKS=0`` to start without resuming.

Request threads run at a lower CPU priority than synthesis (``StoryFlowWSGIServer``):
on a machine whose cores synthesis keeps busy, answering pollers must not slow it.
"""
import logging
import os
import threading

from django.conf import settings

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserverCommand
from django.core.servers.basehttp import WSGIServer


logger = logging.getLogger(__name__)


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value by ``nice`` (Linux: a thread is a task with its own
    nice value, ``setpriority(PRIO_PROCESS, native thread id)``; ``man 2 setpriority``). Threads
    it starts inherit it. An unprivileged process cannot take it back, so this is only called
    in threads that serve one request and end. Returns False where unsupported.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        return False
    return True


class StoryFlowWSGIServer(WSGIServer):
    """Django's threaded dev server with a deeper listen backlog, serving at a lower CPU priority.

    ``WSGIServer.request_queue_size`` is 10: with 50 editors polling at once,
    connections beyond the backlog are dropped and the client's SYN retry costs
    a whole second (seen as ~1,000 ms p99 in ``bench/status_benchmark.py``).

    Each request's thread can first lower its own priority by
    ``settings.STORYFLOW_REQUEST_NICE`` (default 0: off). The Linux scheduler then
    gives a nice-10 thread about a tenth of the CPU share of the nice-0 synthesis
    threads (weights 110 against 1024, kernel/sched/core.c ``sched_prio_to_weight``)
    while both want a core. Whether that helps depends on the machine, because a
    de-prioritized request thread that holds the GIL also holds up synthesis'
    Python steps. ``bench/status_benchmark.py --slowdown``, 4-segment real batch,
    2 rounds each: on a 2-core Intel Xeon (VNNI), nice 10 gave 0.99x with 50
    pollers (p99 6.1 ms) and 1.03x with 8 tight loops. On a 2-core AMD EPYC
    (avx512_vnni, kernel 6.18, the int8 GEMM rewrite keeping both cores busy),
    nice 10 gave 1.02x (p99 39.7 ms) and 1.15x; nice 0 gave 1.02x (p99 14.6 ms)
    and 1.03x, so 0 is the default.
    The task worker and the inference threads it starts keep nice 0: ``TaskManager``
    starts its worker when created, which is in ``inner_run`` or else before the
    first request thread lowers its priority.
    """

    request_queue_size = 128

    def finish_request(self, request, client_address):
        # Runs in the request's own thread: runserver serves with
        # type("WSGIServer", (ThreadingMixIn, this class), {}), whose process_request_thread calls it.
        # The TaskManager (its worker thread) is made first if it is not yet, so it never
        # inherits the lowered priority.
        from api.tasks import get_task_manager

        get_task_manager()
        lower_thread_priority(int(getattr(settings, "STORYFLOW_REQUEST_NICE", 0) or 0))
        super().finish_request(request, client_address)


class Command(StaticfilesRunserverCommand):
    help = StaticfilesRunserverCommand.help + " Resumes tasks a previous run left PENDING or PROCESSING."
    server_cls = StoryFlowWSGIServer

    def inner_run(self, *args, **options):
        from api.tasks import get_task_manager

        get_task_manager()  # its worker thread starts here, at full priority (see StoryFlowWSGIServer)
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
