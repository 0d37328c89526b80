"""The scrobble queue against fake ListenBrainz and Last.fm servers, with the clock simulated.

Kind of Blue's side A has three tracks (9:22, 9:46, 5:37), side B two
(11:33, 9:26): a whole record is five now playings and five listens per
service, each listen stamped with its track's start.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Callable, Iterator

import pytest
from flask import Flask

from tests.support.fake_scrobblers import (
    LASTFM_KEY,
    LASTFM_SECRET,
    LASTFM_SESSION,
    LB_TOKEN,
    FakeLastFM,
    FakeListenBrainz,
)
from tests.support.spins import KOB_ID
from vinylvault import db
from vinylvault.library import collection
from vinylvault.listening import scrobble, spins

T0 = 1_780_000_000.0
SIDE_A = [562, 586, 337]
SIDE_B = [693, 566]
UNKNOWN = 240


class Clock:
    """The simulated time shared by the app's ticks and the fakes' rate-limit windows."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fakes(clock: Clock) -> Iterator[tuple[FakeListenBrainz, FakeLastFM]]:
    with FakeListenBrainz(clock=clock) as lb, FakeLastFM(clock=clock) as lastfm:
        yield lb, lastfm


@pytest.fixture
def app(make_page_app: Callable[..., Flask], spin_app: Flask, fakes) -> Flask:
    lb, lastfm = fakes
    scrobbling = make_page_app(LISTENBRAINZ_API_URL=lb.url, LASTFM_API_URL=lastfm.url + "/2.0/")
    with scrobbling.app_context():
        conn = db.get_db()
        for key, value in (
            (scrobble.LISTENBRAINZ_TOKEN_KEY, LB_TOKEN),
            (scrobble.LASTFM_KEY_KEY, LASTFM_KEY),
            (scrobble.LASTFM_SECRET_KEY, LASTFM_SECRET),
            (scrobble.LASTFM_SESSION_KEY, LASTFM_SESSION),
        ):
            collection.set_setting(conn, key, value)
    return scrobbling


@pytest.fixture
def ticker(app: Flask, clock: Clock) -> Iterator[scrobble.ScrobbleTicker]:
    ticker = scrobble.ScrobbleTicker(app.config["SETTINGS"], "VinylVault-test", clock=clock)
    yield ticker
    ticker.stop()


@pytest.fixture
def conn(app: Flask) -> Iterator[sqlite3.Connection]:
    """The app's collection database, opened as another process would."""
    connection = db.connect(app.config["SETTINGS"].DATABASE_PATH)
    yield connection
    connection.close()


def _play_record(conn: sqlite3.Connection, clock: Clock, ticker: scrobble.ScrobbleTicker, step: float = 15.0) -> None:
    """Spin side A at T0, tick every ``step`` seconds, flip when it ends, play side B, stop after it."""
    spins.start(conn, KOB_ID, 0, clock.now, UNKNOWN)
    for side_seconds in (sum(SIDE_A), sum(SIDE_B)):
        side_end = clock.now + side_seconds
        while clock.now < side_end + step:
            clock.now += step
            ticker.tick()
        if spins.flip(conn, clock.now, UNKNOWN) is None:
            break
    ticker.tick()


def _starts(first: float) -> list[int]:
    starts, at = [], first
    for seconds in SIDE_A:
        starts.append(int(at))
        at += seconds
    return starts


def test_a_whole_record_sends_one_now_playing_and_one_listen_per_track(clock, ticker, fakes, conn):
    lb, lastfm = fakes
    _play_record(conn, clock, ticker)
    titles = ["So What", "Freddie Freeloader", "Blue In Green", "All Blues", "Flamenco Sketches"]
    assert [p["track_metadata"]["track_name"] for p in lb.playing_now] == titles
    assert [p["track_metadata"]["track_name"] for p in lb.listens] == titles
    assert [n["track"] for n in lastfm.now_playing] == titles
    assert [s["track"] for s in lastfm.scrobbles] == titles
    assert [p["listened_at"] for p in lb.listens][:3] == _starts(T0)
    assert [int(s["timestamp"]) for s in lastfm.scrobbles][:3] == _starts(T0)
    first = lb.listens[0]["track_metadata"]
    assert first["artist_name"] == "Miles Davis" and first["release_name"] == "Kind of Blue"
    info = first["additional_info"]
    assert info["duration_ms"] == 562_000 and info["tracknumber"] == "A1" and info["discogs_release_id"] == 249504
    assert info["catalog_number"] == "CL 1355" and info["media_player"] == "VinylVault"
    assert lastfm.scrobbles[0]["album"] == "Kind of Blue" and lastfm.scrobbles[0]["duration"] == "562"
    assert scrobble.queue_summary(conn)["listenbrainz"] == {"queued": 0, "sent": 10, "expired": 0, "failed": 0}


def test_a_service_down_for_an_hour_loses_no_listen_and_sends_none_twice(clock, ticker, fakes, conn):
    lb, lastfm = fakes
    lb.down = lastfm.down = True
    _play_record(conn, clock, ticker)  # about 46 minutes of music
    while clock.now < T0 + 3600:
        clock.now += 15
        ticker.tick()
    assert lb.listens == [] and lastfm.scrobbles == []
    lb.down = lastfm.down = False
    for _ in range(200):  # the backoff is capped at SCROBBLE_MAX_BACKOFF_SECONDS: a few ticks drain it
        clock.now += 60
        ticker.tick()
    assert [p["listened_at"] for p in lb.listens][:3] == _starts(T0) and len(lb.listens) == 5
    assert [int(s["timestamp"]) for s in lastfm.scrobbles][:3] == _starts(T0) and len(lastfm.scrobbles) == 5
    assert lb.playing_now == [] and lastfm.now_playing == []  # a now playing for a track long over is no news
    summary = scrobble.queue_summary(conn)
    assert summary["listenbrainz"] == {"queued": 0, "sent": 5, "expired": 5, "failed": 0}
    assert summary["lastfm"] == {"queued": 0, "sent": 5, "expired": 5, "failed": 0}


def test_a_429_pauses_the_service_until_retry_after(clock, ticker, fakes, conn):
    lb, _lastfm = fakes
    lb.limit, lb.window = 1, 300.0
    spins.start(conn, KOB_ID, 0, clock.now - 2000, UNKNOWN)  # three tracks already heard
    spins.stop(conn, clock.now, UNKNOWN)
    ticker.tick()
    assert len(lb.listens) == 1  # the one request the budget allows: Remaining 0 pauses the service
    requests = lb.requests
    clock.now += 100
    ticker.tick()
    assert lb.requests == requests  # still paused: nothing sent into a spent budget
    clock.now += 201
    ticker.tick()
    assert len(lb.listens) == 2
    assert [p["listened_at"] for p in lb.listens] == _starts(T0 - 2000)[:2]


def test_a_refused_token_fails_visibly_and_can_be_queued_again(clock, ticker, fakes, conn):
    lb, _lastfm = fakes
    collection.set_setting(conn, scrobble.LISTENBRAINZ_TOKEN_KEY, "wrong")
    spins.start(conn, KOB_ID, 0, clock.now - 400, UNKNOWN)
    ticker.tick()
    summary = scrobble.queue_summary(conn)["listenbrainz"]
    assert summary["failed"] == 2 and lb.listens == []  # So What's now playing and its listen
    problems = scrobble.problem_rows(conn)
    assert {(p["kind"], p["track"]) for p in problems} == {("now_playing", "So What"), ("listen", "So What")}
    assert all("token was refused (401)" in p["last_error"] for p in problems)
    collection.set_setting(conn, scrobble.LISTENBRAINZ_TOKEN_KEY, LB_TOKEN)
    assert scrobble.retry_failed(conn, clock.now) == 1
    ticker.tick()
    assert [p["track_metadata"]["track_name"] for p in lb.listens] == ["So What"]


def test_a_wrong_lastfm_secret_is_refused_by_the_signature_check(clock, ticker, fakes, conn):
    _lb, lastfm = fakes
    collection.set_setting(conn, scrobble.LASTFM_SECRET_KEY, "not-the-secret")
    spins.start(conn, KOB_ID, 0, clock.now - 400, UNKNOWN)
    ticker.tick()
    assert lastfm.scrobbles == []
    errors = [row["last_error"] for row in scrobble.problem_rows(conn) if row["service"] == "lastfm"]
    assert errors and all("Last.fm error 13" in error for error in errors)


def test_ticks_in_two_processes_send_each_listen_once(app, clock, fakes, conn):
    lb, lastfm = fakes
    settings = app.config["SETTINGS"]
    spins.start(conn, KOB_ID, 0, clock.now - 2000, UNKNOWN)
    spins.stop(conn, clock.now, UNKNOWN)
    tickers = [scrobble.ScrobbleTicker(settings, "VinylVault-test", clock=clock) for _ in range(4)]
    barrier = threading.Barrier(len(tickers))

    def run(ticker: scrobble.ScrobbleTicker) -> None:
        barrier.wait()
        for _ in range(3):
            ticker.tick()

    threads = [threading.Thread(target=run, args=(t,)) for t in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ticker in tickers:
        ticker.stop()
    assert sorted(p["listened_at"] for p in lb.listens) == _starts(T0 - 2000)
    assert sorted(int(s["timestamp"]) for s in lastfm.scrobbles) == _starts(T0 - 2000)


def test_the_ticker_thread_starts_and_stops(app, clock):
    ticker = scrobble.ScrobbleTicker(app.config["SETTINGS"], "VinylVault-test", clock=clock)
    ticker.start()
    ticker.stop()
    assert not any(t.name == "vinylvault-scrobbles" and t.is_alive() for t in threading.enumerate())


def test_the_signature_is_lastfms(fakes):
    params = {"method": "track.scrobble", "api_key": "k", "sk": "s", "artist": "Björk", "format": "json"}
    assert scrobble.lastfm_signature(params, LASTFM_SECRET) == FakeLastFM.signature(params)


def test_a_serving_process_starts_the_tick_and_its_shutdown_stops_it(make_page_app):
    from vinylvault import lifecycle

    served = make_page_app(TESTING=False, SCROBBLE_TICK_SECONDS=0.05)
    assert not _tick_threads()  # building the app (CLI, tests) starts nothing
    assert served.test_client().get("/health").status_code == 200
    threads = _tick_threads()
    assert len(threads) == 1
    lifecycle.shutdown(served)
    assert not threads[0].is_alive() and scrobble.TICKER not in served.extensions


def _tick_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "vinylvault-scrobbles" and thread.is_alive()]
