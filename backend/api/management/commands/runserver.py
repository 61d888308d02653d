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
import queue
import threading

from django.conf import settings

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserverCommand
from django.core.servers.basehttp import WSGIServer


logger = logging.getLogger(__name__)
_request_thread_state = threading.local()  # .prepared: this request thread's priority is set


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value by ``nice`` (Linux: a thread is a task with its own
    nice value, ``setpriority(PRIO_PROCESS, native thread id)``; ``man 2 setpriority``). Threads
    it starts inherit it. An unprivileged process cannot take it back, so this is only called
    in request threads, which serve requests and nothing else. Returns False where unsupported.
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
    """Django's dev server, serving each connection on a reused request thread, with a deeper
    listen backlog and optionally at a lower CPU priority.

    **Reused request threads.** Django's threaded runserver (``socketserver.ThreadingMixIn``)
    starts a thread per connection, and ``Thread.start`` makes the accepting thread wait
    until the new one runs: on a machine whose cores synthesis keeps busy, each of those
    wake-ups waits for a core. Here a connection goes to a request thread that is idle,
    waiting on a queue (one wake-up), and a new daemon thread is started only when none is
    idle, so a long SSE stream never holds up other requests. At most ``MAX_IDLE_THREADS``
    stay idle; the rest end. ``bench/status_benchmark.py --slowdown``, AMD EPYC, 2 cores,
    avx512_vnni, 4-segment real batch, 50 pollers every 2 s, same session: status p50
    4.97 ms and p99 9.71 ms with a thread per connection; with this class, two runs, p50
    1.93 / 1.78 ms and p99 7.95 / 7.78 ms (batch 0.99x of unloaded; 8 tight loops 1.09x /
    1.01x). Its threads are daemonic (``concurrent.futures``' pool threads are not), so
    stopping the server never waits for an open SSE stream.
    Serve it with ``threading=False`` (``Command.inner_run`` does): under
    ``ThreadingMixIn`` it still works, a thread per connection.

    ``WSGIServer.request_queue_size`` is 10: with 50 editors polling at once,
    connections beyond the backlog are dropped and the client's SYN retry costs
    a whole second (seen as ~1,000 ms p99 in ``bench/status_benchmark.py``).

    Each request thread can first lower its own priority by
    ``settings.STORYFLOW_REQUEST_NICE`` (default 0: off), once per thread. The Linux
    scheduler then gives a nice-10 thread about a tenth of the CPU share of the nice-0
    synthesis threads (weights 110 against 1024, kernel/sched/core.c ``sched_prio_to_weight``)
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
    #: Idle request threads kept for the next connections (more end when they finish).
    MAX_IDLE_THREADS = 32

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connections: queue.SimpleQueue = queue.SimpleQueue()
        self._idle_lock = threading.Lock()
        self._idle = 0  # request threads blocked (or about to block) on _connections

    def process_request(self, request, client_address):
        """Hand the connection to an idle request thread, or start one (never blocks on a slow request)."""
        with self._idle_lock:
            reuse = self._idle > 0
            if reuse:
                self._idle -= 1
        if reuse:
            self._connections.put((request, client_address))
        else:
            threading.Thread(
                target=self._request_thread, args=(request, client_address), daemon=True,
                name="storyflow-request",
            ).start()

    def _request_thread(self, request, client_address) -> None:
        while True:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
            with self._idle_lock:
                if self._idle >= self.MAX_IDLE_THREADS:
                    return
                self._idle += 1
            request, client_address = self._connections.get()

    def finish_request(self, request, client_address):
        # In the request's own thread (this class's, or ThreadingMixIn's when Django stacks it).
        # Once per thread: the TaskManager (its worker thread) is made first if it is not yet,
        # so it never inherits the lowered priority; then this thread's priority is lowered.
        if not getattr(_request_thread_state, "prepared", False):
            from api.tasks import get_task_manager

            get_task_manager()
            lower_thread_priority(int(getattr(settings, "STORYFLOW_REQUEST_NICE", 0) or 0))
            _request_thread_state.prepared = True
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
        # StoryFlowWSGIServer runs its own request threads; Django's ThreadingMixIn would
        # come first in the class it builds and start a thread per connection instead.
        super().inner_run(*args, **{**options, "use_threading": False})
