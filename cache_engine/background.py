"""The one way VinylVault runs work off the request path: named daemon threads that stop on request.

Two shapes cover every use:

* :class:`Ticker` calls one function again and again, ``interval`` seconds
  apart (the cache's hit-count flush, the job runner, the sync scheduler, the
  scrobble queue). :meth:`Ticker.wake` runs the next pass at once.
* :class:`WorkQueue` runs submitted calls on a fixed number of threads, at most
  ``limit`` waiting, each key at most once at a time (downloads of one URL,
  one release's details, the single Discogs sync).

Invariants: whoever calls ``start`` owns the threads and must call ``stop``;
``stop`` is idempotent, wakes every thread, and joins them (bounded by its
``timeout``); a pass that raises is logged and the thread carries on, so one bad
pass never silently ends background work for the life of the process.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Hashable

log = logging.getLogger("vinylvault.background")


def _run_logged(name: str, work: Callable[[], object]) -> object:
    """Call ``work``; a full disk or a locked database is one warning line, anything else a traceback."""
    try:
        return work()
    except (sqlite3.Error, OSError) as exc:
        log.warning("%s: %s", name, exc)
    except Exception:  # a background thread has no caller to raise to
        log.exception("%s crashed", name)
    return None


class Ticker:
    """Call ``work()`` on a daemon thread every ``interval`` seconds until :meth:`stop`.

    ``work`` may return a number of seconds to wait before the next pass
    instead of ``interval`` (``0`` runs again at once, for work that is not
    done yet). The first pass runs at once, or after one ``interval`` with
    ``wait_first`` (work that has nothing to do at start-up, and should not
    write anything for a process that ends sooner).
    """

    def __init__(
        self, name: str, work: Callable[[], float | None], interval: float, *, wait_first: bool = False
    ) -> None:
        self.name = name
        self.interval = interval
        self.wait_first = wait_first
        self._work = work
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (no-op while it runs)."""
        with self._lifecycle:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the current wait."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end after its current pass and wait for it (at most ``timeout`` seconds)."""
        with self._lifecycle:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def stopping(self) -> bool:
        """True once :meth:`stop` was called: long passes check it to end early."""
        return self._stop.is_set()

    def _run(self) -> None:
        if self.wait_first:
            self._wake.wait(self.interval)
            self._wake.clear()
        while not self._stop.is_set():
            delay = _run_logged(self.name, self._work)
            wait = self.interval if not isinstance(delay, (int, float)) else max(0.0, float(delay))
            if wait and not self._stop.is_set():
                self._wake.wait(wait)
            self._wake.clear()


class WorkQueue:
    """Run submitted calls on ``threads`` daemon threads; at most ``limit`` calls wait.

    Each call has a key; a key already waiting or running is not queued twice
    (:meth:`submit` answers True: the work is in hand). Threads start with the
    first submission, so a process that never submits never starts one.
    """

    def __init__(self, name: str, *, threads: int = 1, limit: int = 32) -> None:
        if threads < 1 or limit < 1:
            raise ValueError("a work queue needs at least one thread and one place")
        self.name = name
        self._threads_wanted = threads
        self._queue: queue.Queue[tuple[Hashable, Callable[[], object]] | None] = queue.Queue()
        self._limit = limit
        self._keys: set[Hashable] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, key: Hashable, work: Callable[[], object]) -> bool:
        """Queue ``work`` under ``key``; False when the queue is full or stopped (the caller may retry later)."""
        with self._lock:
            if self._stopped:
                return False
            if key in self._keys:
                return True
            if len(self._keys) >= self._limit:
                return False
            self._keys.add(key)
            self._start_threads()
            self._queue.put((key, work))
            return True

    def busy(self, key: Hashable) -> bool:
        """True while ``key`` waits or runs."""
        with self._lock:
            return key in self._keys

    def pending(self) -> int:
        """How many calls wait or run."""
        with self._lock:
            return len(self._keys)

    def stop(self, timeout: float | None = None) -> None:
        """Drop what waits, let running calls finish, and join the threads (at most ``timeout`` each)."""
        with self._lock:
            self._stopped = True
            threads, self._threads = self._threads, []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._keys.discard(item[0])
            for _ in threads:
                self._queue.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _start_threads(self) -> None:
        while len(self._threads) < self._threads_wanted:
            thread = threading.Thread(target=self._run, name=f"{self.name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, work = item
            try:
                _run_logged(f"{self.name} {key!r}", work)
            finally:
                with self._lock:
                    self._keys.discard(key)
