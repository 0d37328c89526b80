"""An app's one ordered shutdown, and the background work that waits for its first request.

Whoever starts a thread or opens something that must be closed registers how
to stop it with :func:`on_shutdown`, in its ``init_app``, right after
building it. :func:`shutdown` runs those stops in reverse order of
registration, so whatever was built on top of something stops before it:
:func:`vinylvault.create_app` builds the collection database first and the
scrobble tick last, so the tick stops first and the database closes last,
and the job runner stops before the caches it fetches through close.

:func:`shutdown` runs at interpreter exit, and gunicorn's ``worker_exit``
hook calls it too (a worker stopped by a signal does not always reach
``atexit``); it is safe to call more than once.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Callable

from flask import Flask

log = logging.getLogger("vinylvault.lifecycle")

#: ``app.extensions`` key of the ``(name, stop)`` pairs, in order of registration.
STOPS = "vv_shutdown"
_EXIT_HOOK = "vv_exit_hook"


def on_shutdown(app: Flask, name: str, stop: Callable[[], object]) -> None:
    """Have :func:`shutdown` call ``stop()`` before anything registered earlier is stopped."""
    stops = app.extensions.get(STOPS)
    if stops is None:
        stops = app.extensions[STOPS] = []
        app.extensions[_EXIT_HOOK] = hook = functools.partial(shutdown, app)
        atexit.register(hook)
    stops.append((name, stop))


def shutdown(app: Flask) -> None:
    """Stop everything ``app`` started, last registered first; later calls do nothing."""
    hook = app.extensions.pop(_EXIT_HOOK, None)
    if hook is not None:
        atexit.unregister(hook)
    stops = app.extensions.pop(STOPS, [])
    for name, stop in reversed(stops):
        log.debug("stopping %s", name)
        stop()


def start_on_first_request(app: Flask, start: Callable[[], object]) -> None:
    """Call ``start()`` when a serving process answers its first request (never once shut down).

    Not in ``create_app`` itself: CLI commands and tests build apps too and
    must not work in the background, so nothing starts when ``app.testing``.
    """
    if app.testing:
        return
    lock = threading.Lock()
    started = False

    def _start() -> None:
        nonlocal started
        if started:
            return
        with lock:
            if started:
                return
            started = True
        if STOPS in app.extensions:
            start()

    app.before_request(_start)
