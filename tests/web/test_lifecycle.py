"""The app's one ordered shutdown, and the background work that waits for a serving process's first request."""

from __future__ import annotations

import threading
import time
from typing import Callable

from flask import Flask

from vinylvault import db, lifecycle
from vinylvault.covers import extension, jobs
from vinylvault.library import sync
from vinylvault.listening import scrobble
from vinylvault.photos import views as photos

#: The threads a serving process starts with its first request.
PERIODIC = {"vinylvault-sync-scheduler", "vinylvault-scrobbles"}
SERVING = {"TESTING": False, "SYNC_INTERVAL_HOURS": 24, "SCROBBLE_TICK_SECONDS": 60}


def _alive(names: set[str]) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name in names and thread.is_alive()]


def test_shutdown_stops_what_was_built_on_something_before_it(make_app: Callable[..., Flask]):
    app = make_app(**SERVING)
    order = [name for name, _stop in reversed(app.extensions[lifecycle.STOPS])]
    assert order == [
        "scrobble tick",
        "sync scheduler",
        "Discogs thread",
        "release details queue",
        "job runner",
        "photo store",
        "photo cache",
        "cover cache",
        "collection database",
    ]


def test_shutdown_closes_everything_and_may_be_called_again(make_app: Callable[..., Flask]):
    before = set(threading.enumerate())
    app = make_app()
    runner = [thread for thread in set(threading.enumerate()) - before if thread.name == "vinylvault-jobs"]
    assert len(runner) == 1
    lifecycle.shutdown(app)
    lifecycle.shutdown(app)
    assert not runner[0].is_alive()
    built = {db.ANCHOR, extension.COVERS, photos.PHOTOS, photos.PHOTO_STORE, jobs.JOBS, scrobble.TICKER}
    assert not built & set(app.extensions) and lifecycle.STOPS not in app.extensions


def test_the_periodic_work_starts_with_a_serving_processs_first_request(make_app: Callable[..., Flask]):
    served = make_app(**SERVING)
    assert not _alive(PERIODIC)  # building the app (CLI, tests) starts nothing
    served.test_client().get("/health")
    started = _alive(PERIODIC)
    assert {thread.name for thread in started} == PERIODIC
    served.test_client().get("/health")
    assert len(_alive(PERIODIC)) == 2  # once per app, not per request
    lifecycle.shutdown(served)
    assert not any(thread.is_alive() for thread in started)


def test_a_testing_app_and_a_shut_down_one_start_nothing(make_app: Callable[..., Flask]):
    testing = make_app(**{**SERVING, "TESTING": True})
    testing.test_client().get("/health")
    served = make_app(**SERVING)
    lifecycle.shutdown(served)
    served.test_client().get("/static/style.css")
    assert not _alive(PERIODIC)


def test_the_discogs_thread_runs_one_thing_at_a_time(app: Flask, monkeypatch):
    running, release = threading.Event(), threading.Event()

    def held_cover_pass(_settings) -> None:
        running.set()
        release.wait()

    monkeypatch.setattr(sync, "cover_pass_once", held_cover_pass)
    assert sync.start_cover_pass(app)
    assert running.wait(30)
    assert not sync.start_sync(app) and not sync.start_cover_pass(app)
    release.set()
    _wait_idle(app)
    assert sync.start_cover_pass(app)


def _wait_idle(app: Flask) -> None:
    """Until the Discogs thread has finished what it was given (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while app.extensions[sync.DISCOGS].pending() and time.monotonic() < deadline:
        time.sleep(0.01)
