"""An image cache's work off the request path: the download queue, preloads, the hit-count flush.

- :class:`DownloadQueue`: ``queue(urls)`` hands sources to a
  :class:`~cache_engine.background.WorkQueue` of ``MAX_CONCURRENT_DOWNLOADS``
  threads without blocking (a page emitting uncached covers, a sync finding
  new ones), each source once, at most :data:`QUEUE_LIMIT` in hand;
  ``preload(urls)`` brings sources in now, as many at a time, for a caller
  that waits for the answer (a job's batch).
- :class:`IndexFlusher`: a :class:`~cache_engine.background.Ticker` writing
  the hits batched in memory every ``ACCESS_FLUSH_INTERVAL_SECONDS`` and a
  statistics sample every :data:`SAMPLE_INTERVAL_SECONDS`; on a full disk the
  hits wait in memory, with one log line.

Either way, the downloads themselves take the cache's cross-process slots, so
every process together stays within ``MAX_CONCURRENT_DOWNLOADS``.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Iterable

from .background import Ticker, WorkQueue
from .files import DiskFullNotice, is_storage_full
from .index import CacheIndex
from .sources import key_for, loggable

log = logging.getLogger("vinylvault.image_cache.work")

#: Sources the download queue holds at most (waiting or in production).
QUEUE_LIMIT = 10_000
SAMPLE_INTERVAL_SECONDS = 600.0


class DownloadQueue:
    """Produces sources in the background (:meth:`queue`) or now (:meth:`preload`).

    :param ensure: ``ensure(url)`` produces every size type of ``url`` unless
        cached; True once they are all cached.
    :param wanted: ``wanted(key)``: whether a source is worth queueing (not
        cached, not in the negative cache).
    :param threads: producers at a time (``MAX_CONCURRENT_DOWNLOADS``).
    """

    def __init__(
        self,
        ensure: Callable[[str], bool],
        wanted: Callable[[str], bool],
        threads: int,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self._ensure = ensure
        self._wanted = wanted
        self._threads = threads
        self._work = WorkQueue("image-cache-worker", threads=threads, limit=limit)
        self._stopped = False

    def queue(self, urls: Iterable[str]) -> int:
        """Schedule ``urls`` without blocking; return how many were queued.

        Skips URLs already in hand and those ``wanted`` declines; stops at the
        first URL that finds the queue full (logged) or stopped.
        """
        queued = 0
        for url in urls:
            if self._stopped:
                break
            key = key_for(url)
            if self._work.busy(key) or not self._wanted(key):
                continue
            if not self._work.submit(key, functools.partial(self._ensure, url)):
                if not self._stopped:
                    log.warning("background queue full; %s not queued", key[:12])
                break
            queued += 1
        return queued

    def pending(self) -> int:
        """Sources waiting in the queue or being produced."""
        return self._work.pending()

    def preload(
        self, urls: Iterable[str], progress_callback: Callable[[int, int, str], None] | None = None
    ) -> dict[str, bool]:
        """Bring every URL into the cache now, ``threads`` at a time; ``{url: cached}``.

        ``progress_callback(completed, total, url)`` is called after each URL.
        The caller waits for the whole list, so it gets threads of its own for
        the call rather than a place in the background queue.
        """
        unique = list(dict.fromkeys(urls))
        results: dict[str, bool] = {}
        with ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="image-cache-preload") as pool:
            futures = {pool.submit(self._ensure, url): url for url in unique}
            for completed, future in enumerate(as_completed(futures), start=1):
                url = futures[future]
                try:
                    results[url] = future.result()
                except Exception:  # one bad source must not end the preload of the others
                    log.exception("preload failed for %s", loggable(url))
                    results[url] = False
                if progress_callback is not None:
                    progress_callback(completed, len(unique), url)
        return results

    def stop(self) -> None:
        """Drop what waits, let the sources in production finish, and join the threads."""
        self._stopped = True
        self._work.stop()


class IndexFlusher:
    """Writes the index's batched hits every ``interval`` seconds, and a sample every :data:`SAMPLE_INTERVAL_SECONDS`.

    The first pass comes one interval after :meth:`start`: there is nothing to
    write before, and a short-lived process (the CLI) writes no sample.
    """

    def __init__(self, index: CacheIndex, interval: float) -> None:
        self.index = index
        self.storage = DiskFullNotice("cache hits are kept in memory", "cache hits are written again")
        self._last_sample: float | None = None
        self._ticker = Ticker("image-cache-flush", self.flush_quietly, interval, wait_first=True)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        """End the thread after its current pass (the caller writes what is left)."""
        self._ticker.stop()

    def flush_quietly(self) -> None:
        """Pending hits, then a sample if one is due; a database or disk failure is logged, not raised.

        On a full disk the hits stay in memory (bounded by the number of
        entries) for the next try, and that is logged once until a flush
        succeeds; any other failure is logged each time.
        """
        try:
            self.index.flush()
            if self._last_sample is None or time.monotonic() - self._last_sample >= SAMPLE_INTERVAL_SECONDS:
                self.index.take_sample()
                self._last_sample = time.monotonic()
        except (sqlite3.Error, OSError) as exc:
            if is_storage_full(exc):
                self.storage.failed(exc)
            else:
                log.exception("cache index flush failed; retrying next interval")
        else:
            self.storage.recovered()
