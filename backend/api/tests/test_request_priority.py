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
from api.tests.conftest import wait_for_task

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice values are a Linux feature"),
    pytest.mark.django_db(transaction=True),
]


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.parametrize("manager_first", [True, False], ids=["manager made before serving", "made by a request"])
def test_a_request_thread_is_reniced_and_the_task_worker_is_not(settings, task_manager, manager_first):
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
    # what runserver serves with (django.core.servers.basehttp.run, threading=True)
    threaded = type("WSGIServer", (socketserver.ThreadingMixIn, StoryFlowWSGIServer), {"daemon_threads": True})
    server = threaded(("127.0.0.1", 0), WSGIRequestHandler)
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
