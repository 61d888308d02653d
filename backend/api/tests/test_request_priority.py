"""Request threads run at a lower CPU priority than synthesis (runserver's StoryFlowWSGIServer)."""
from __future__ import annotations

import os
import socketserver
import threading
import urllib.request

import pytest
from django.core.servers.basehttp import WSGIRequestHandler

from api.management.commands.runserver import StoryFlowWSGIServer, lower_thread_priority
from api.tasks import TaskManager, TaskState, get_task_manager
from api.tests.conftest import wait_for_task, wait_until

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice values are a Linux feature"),
    pytest.mark.django_db(transaction=True),
]


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.parametrize("pooled", [True, False], ids=["runserver's request threads", "ThreadingMixIn"])
@pytest.mark.parametrize("manager_first", [True, False], ids=["manager made before serving", "made by a request"])
def test_a_request_thread_is_reniced_and_the_task_worker_is_not(settings, task_manager, manager_first, pooled):
    settings.STORYFLOW_REQUEST_NICE = 7
    base = _nice()
    if not manager_first:  # the first request makes the TaskManager: its worker must not inherit nice 7
        task_manager.shutdown(wait=True)
        TaskManager._instance = None
    seen: dict[str, int] = {}

    def app(environ, start_response):
        seen["request"] = _nice()
        # a task submitted from a request thread still runs on the worker, at the worker's priority
        state = TaskState(task_id="nice_probe", kind="probe")
        get_task_manager().submit_task(lambda: seen.__setitem__("worker", _nice()), state=state)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    if manager_first:
        get_task_manager()  # created (worker started) here, as runserver's inner_run does
    # runserver serves with the class itself (threading=False); Django's own threaded serving
    # (basehttp.run with threading=True) stacks ThreadingMixIn on it, which it still supports.
    threaded = type("WSGIServer", (socketserver.ThreadingMixIn, StoryFlowWSGIServer), {"daemon_threads": True})
    server = (StoryFlowWSGIServer if pooled else threaded)(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address
        assert urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read() == b"ok"
        wait_for_task("nice_probe")
    finally:
        server.shutdown()
        server.server_close()
        if not manager_first:
            get_task_manager().shutdown(wait=True)
    assert seen["request"] == min(19, base + 7)
    assert seen["worker"] == base
    assert _nice() == base  # the serving thread itself is untouched


def test_nothing_changes_with_nice_zero():
    base = _nice()
    result = {}

    def probe():
        result["changed"] = lower_thread_priority(0)
        result["nice"] = _nice()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert result == {"changed": False, "nice": base}


def test_request_threads_are_reused_and_reniced_once(settings, task_manager):
    """What runserver serves with (``threading=False``: the server's own request threads).
    Sequential connections reuse one idle thread; its nice value is lowered once, not per
    request; a connection that arrives while the other is held gets a second thread."""
    settings.STORYFLOW_REQUEST_NICE = 3
    base = _nice()
    seen: list[tuple[int, int]] = []
    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/hold":
            release.wait(10)
        seen.append((threading.get_native_id(), _nice()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    get_task_manager()
    server = StoryFlowWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    try:
        for _ in range(3):
            assert urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read() == b"ok"
            # the thread goes idle just after closing the connection the client has read
            wait_until(lambda: server._idle == 1, timeout=5)
        held = threading.Thread(target=lambda: urllib.request.urlopen(f"http://{host}:{port}/hold", timeout=10).read())
        held.start()
        try:
            # /hold keeps the idle thread busy: this one must be answered by another thread, at once
            assert urllib.request.urlopen(f"http://{host}:{port}/", timeout=5).read() == b"ok"
        finally:
            release.set()
            held.join(10)
    finally:
        server.shutdown()
        server.server_close()
    first_three = {tid for tid, _ in seen[:3]}
    assert len(first_three) == 1, seen  # one reused thread
    assert seen[3][0] != seen[4][0]  # the request that arrived during /hold had its own thread
    assert {nice for _, nice in seen} == {min(19, base + 3)}  # lowered once per thread, never twice
