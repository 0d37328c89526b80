"""The background primitives: passes repeat, failures do not end them, stop joins, keys run once."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from cache_engine.background import Ticker, WorkQueue


def test_ticker_repeats_survives_failures_and_stops():
    passes = []
    third = threading.Event()

    def work():
        passes.append(len(passes))
        if len(passes) == 1:
            raise sqlite3.OperationalError("database is locked")
        if len(passes) == 2:
            raise RuntimeError("a bug in one pass")
        if len(passes) >= 3:
            third.set()
        return 3600  # a pass may ask for its own wait

    ticker = Ticker("test-ticker", work, interval=0.01)
    ticker.start()
    ticker.start()  # idempotent: still one thread
    assert third.wait(5)
    ticker.stop(timeout=5)
    assert not ticker.running
    assert [t for t in threading.enumerate() if t.name == "test-ticker"] == []
    done = len(passes)
    ticker.stop()  # idempotent
    assert len(passes) == done


def test_ticker_wake_runs_the_next_pass_before_the_interval():
    ran = threading.Semaphore(0)
    ticker = Ticker("test-wake", lambda: ran.release(), interval=3600)
    ticker.start()
    try:
        assert ran.acquire(timeout=5)  # the first pass runs at once
        ticker.wake()
        assert ran.acquire(timeout=5)  # the second did not wait an hour
    finally:
        ticker.stop(timeout=5)


def test_a_ticker_that_waits_first_runs_no_pass_before_its_interval():
    passes = []
    ran = threading.Semaphore(0)

    def work():
        passes.append(len(passes))
        ran.release()

    idle = Ticker("test-wait-first", work, interval=3600, wait_first=True)
    idle.start()
    idle.stop(timeout=5)
    assert passes == []  # stopped within its first interval: nothing ran
    woken = Ticker("test-wait-first", work, interval=3600, wait_first=True)
    woken.start()
    try:
        woken.wake()
        assert ran.acquire(timeout=5)  # wake() ends the first wait too
    finally:
        woken.stop(timeout=5)


def test_work_queue_runs_each_key_once_and_bounds_what_waits():
    release = threading.Event()
    started = threading.Event()
    ran = []

    def slow(key):
        def work():
            started.set()
            release.wait(5)
            ran.append(key)

        return work

    work_queue = WorkQueue("test-queue", threads=1, limit=2)
    assert work_queue.submit("a", slow("a"))
    assert started.wait(5)
    assert work_queue.submit("a", slow("a-again"))  # already in hand: not queued twice
    assert work_queue.submit("b", slow("b"))
    assert not work_queue.submit("c", slow("c"))  # two in hand: full
    assert work_queue.busy("b") and work_queue.pending() == 2
    release.set()
    work_queue.stop(timeout=5)
    assert ran[0] == "a" and "a-again" not in ran and "c" not in ran
    assert not work_queue.submit("d", slow("d"))  # stopped
    assert work_queue.pending() == 0


def test_work_queue_logs_a_failing_call_and_keeps_working(caplog):
    done = threading.Event()
    work_queue = WorkQueue("test-failing")

    def boom():
        raise ValueError("bad release")

    work_queue.submit(1, boom)
    work_queue.submit(2, done.set)
    assert done.wait(5)
    work_queue.stop(timeout=5)
    assert any("test-failing 1 crashed" in r.getMessage() for r in caplog.records)


def test_work_queue_needs_a_thread_and_a_place():
    with pytest.raises(ValueError):
        WorkQueue("nothing", threads=0)
