"""Persistent background jobs over the image cache: preload lists, sync of every cover.

A job is a list of source URLs to bring into the cache. Its state lives in
two tables of the cache index database (``CACHE_DATABASE_PATH``), so every
process sharing the cache sees every job, and a job outlives the process that
ran it:

- ``jobs``: one row per job with its counters, the capped error list and a
  *lease* (``lease_owner``, ``lease_until``) naming the runner working on it.
- ``job_items``: one row per URL with its own state, so a resumed job never
  redoes an item already recorded as done or failed.

Each process runs one :class:`JobQueue` runner thread. A runner claims the
oldest queued job, or a running job whose runner is gone: its lease has
expired, or the runner was a process on this host that no longer runs (a
killed gunicorn worker is noticed at the next poll, not after the whole
lease). It renews the lease each time it records a batch of results. Until a
runner takes such a job over, its status says ``resuming``. Downloads go through the :class:`~image_cache.ImageCache`, whose
cross-process slots already bound concurrent downloads, so several runners in
several processes never exceed ``MAX_CONCURRENT_DOWNLOADS``.

If a runner stalls longer than its lease, another may take the job over; the
stalled one notices at its next write and drops the job. An item can then be
fetched twice, which the cache's single-flight makes harmless.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Protocol

from .background import Ticker
from .index import CacheIndex

log = logging.getLogger("vinylvault.jobs")

#: Job kinds: a list of URLs posted by a client, and every image the collection references.
KINDS = ("preload", "sync_images")
#: What status() reports for a running job whose runner is gone, until another takes it over.
RESUMING = "resuming"
#: Errors kept per job; the counters stay exact beyond it.
MAX_ERRORS = 50
#: Ended jobs are answered for this long, then removed when a new job is submitted.
KEEP_FINISHED_SECONDS = 7 * 86400

_STATUS_NAMES = ("id", "kind", "state", "total", "done", "failed", "errors", "created_at", "started_at", "finished_at")
_STATUS_COLUMNS = ", ".join(_STATUS_NAMES)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    lease_owner TEXT,
    lease_until REAL,
    errors      TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    url    TEXT NOT NULL,
    state  TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"""


class JobError(ValueError):
    """A job cannot be submitted as asked (unknown kind, no URLs)."""


class ImageSource(Protocol):
    """What a runner needs from the cache (an :class:`image_cache.ImageCache`).

    Its ``index`` (:class:`cache_engine.index.CacheIndex`) provides the per-thread
    connections and the ``BEGIN IMMEDIATE`` transactions the job tables use too.
    """

    index: CacheIndex

    def key_for(self, url: str) -> str: ...

    def preload_images(self, urls: Iterable[str]) -> dict[str, bool]: ...

    def failure_reason(self, url: str) -> str | None: ...


class _LeaseLost(Exception):
    """Another runner took the job over after this one's lease expired."""


class JobQueue:
    """Submit jobs, read their status, and run them in a background thread.

    :param cache: the image cache the runner fetches through; the job tables
        are created in its index database if missing.
    :param lease_seconds: how long a claimed job stays ours without a renewal;
        a runner that dies is replaced after at most this long. It must exceed
        the time one download can take, or healthy jobs change hands.
    :param poll_seconds: how often an idle runner looks for work.
    :param batch_size: items fetched together and recorded per write transaction.
    """

    def __init__(
        self, cache: ImageSource, *, lease_seconds: float = 120.0, poll_seconds: float = 2.0, batch_size: int = 6
    ) -> None:
        self.cache = cache
        self.index = cache.index
        self.lease_seconds = float(lease_seconds)
        self.poll_seconds = float(poll_seconds)
        self.batch_size = max(1, int(batch_size))
        pid = os.getpid()
        self.owner = f"{socket.gethostname()}:{pid}:{_process_start(pid) or '-'}:{uuid.uuid4().hex[:8]}"
        self._runner = Ticker("vinylvault-jobs", self._run_pass, self.poll_seconds)
        with self.index.write() as conn:
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    conn.execute(statement)

    # --- submitting and reading ------------------------------------------

    def submit(self, kind: str, urls: Iterable[str]) -> str:
        """Queue a job over ``urls`` (duplicates dropped, order kept); return its id."""
        if kind not in KINDS:
            raise JobError(f"unknown job kind {kind!r}")
        unique = list(dict.fromkeys(urls))
        if not unique:
            raise JobError("a job needs at least one URL")
        job_id = uuid.uuid4().hex
        now = time.time()
        with self.index.write() as conn:
            self._prune(conn, now)
            conn.execute(
                "INSERT INTO jobs (id, kind, state, total, created_at) VALUES (?, ?, 'queued', ?, ?)",
                (job_id, kind, len(unique), now),
            )
            conn.executemany(
                "INSERT INTO job_items (job_id, seq, url) VALUES (?, ?, ?)",
                ((job_id, seq, url) for seq, url in enumerate(unique)),
            )
        log.info("job %s queued: %s of %d urls", job_id, kind, len(unique))
        self._runner.wake()
        return job_id

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's public state, or ``None`` if there is no such job.

        ``done`` counts items fetched successfully and ``failed`` the others;
        ``eta_seconds`` extrapolates the rate observed since the job started
        (``None`` until there is a rate, ``0`` once finished). ``state`` is
        :data:`RESUMING` for a running job whose runner is gone.
        """
        row = self.index.conn.execute(
            f"SELECT {_STATUS_COLUMNS}, lease_owner, lease_until FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if row is None:
            return None
        status = dict(zip(_STATUS_NAMES, row))
        if status["state"] == "running" and _runner_gone(row[-2], row[-1], time.time()):
            status["state"] = RESUMING
        status["errors"] = json.loads(status["errors"])
        status["eta_seconds"] = _eta(status, time.time())
        return status

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job at its next batch; ``False`` if it had already ended."""
        with self.index.write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?, lease_owner = NULL "
                "WHERE id = ? AND state IN ('queued', 'running')",
                (time.time(), job_id),
            )
        return cursor.rowcount == 1

    # --- the runner ---------------------------------------------------------

    @staticmethod
    def _prune(conn: sqlite3.Connection, now: float) -> None:
        """Forget jobs that ended more than :data:`KEEP_FINISHED_SECONDS` ago (a sync is one row per image)."""
        old = "SELECT id FROM jobs WHERE finished_at < ?"
        conn.execute(f"DELETE FROM job_items WHERE job_id IN ({old})", (now - KEEP_FINISHED_SECONDS,))
        conn.execute("DELETE FROM jobs WHERE finished_at < ?", (now - KEEP_FINISHED_SECONDS,))

    def start(self) -> None:
        """Start this process's runner thread (no-op if it is running)."""
        self._runner.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the runner and wait for it; the job in hand is released for others to resume."""
        self._runner.stop(timeout)

    def run_once(self) -> str | None:
        """Claim one job and work on it until it ends or the runner stops; return its id.

        The runner thread calls this in a loop; tests and the CLI may call it directly.
        """
        job_id = self._claim()
        if job_id is None:
            return None
        try:
            self._work(job_id)
        except _LeaseLost:
            log.warning("job %s: lease lost to another runner; dropping it here", job_id)
        return job_id

    def _run_pass(self) -> float | None:
        """One pass of the runner thread: straight on to the next job after one, else wait a poll."""
        return 0 if self.run_once() is not None else None

    def _claim(self) -> str | None:
        """Take the oldest job that is queued or whose runner is gone; its id, or None."""
        now = time.time()
        with self.index.write() as conn:
            # Few jobs are ever unfinished at once: checking each in Python is cheap.
            candidates = conn.execute(
                "SELECT id, state, lease_owner, lease_until FROM jobs WHERE state IN ('queued', 'running') "
                "ORDER BY created_at"
            ).fetchall()
            job_id = next(
                (row[0] for row in candidates if row[1] == "queued" or _runner_gone(row[2], row[3], now)), None
            )
            if job_id is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, "
                "started_at = COALESCE(started_at, ?) WHERE id = ?",
                (self.owner, now + self.lease_seconds, now, job_id),
            )
        log.info("job %s claimed by %s", job_id, self.owner)
        return job_id

    def _work(self, job_id: str) -> None:
        while not self._runner.stopping():
            pending = self.index.conn.execute(
                "SELECT seq, url FROM job_items WHERE job_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
                (job_id, self.batch_size),
            ).fetchall()
            if not pending:
                self._finish(job_id)
                return
            reasons = self._fetch([url for _, url in pending])
            if not self._record(job_id, [(seq, url, reasons[url]) for seq, url in pending]):
                return
        self._release(job_id)

    def _fetch(self, urls: list[str]) -> dict[str, str | None]:
        """Bring a batch into the cache (every size); per URL ``None`` on success, else the reason.

        ``preload_images`` runs the batch ``MAX_CONCURRENT_DOWNLOADS`` at a time
        and records no cache hit; a failure's reason is what the negative cache noted.
        """
        cached = self.cache.preload_images(urls)
        # No failure of the source recorded: the disk had no room for it, or the wait for
        # another worker's conversion ran out.
        unstored = "storage_full" if self.cache.storage.full else "not_cached"
        return {url: None if cached.get(url) else self.cache.failure_reason(url) or unstored for url in urls}

    def _check_lease(self, conn: sqlite3.Connection, job_id: str) -> bool:
        """Inside a write transaction: is the job still ours and running?"""
        row = conn.execute("SELECT state, lease_owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or row[0] != "running":
            return False
        if row[1] != self.owner:
            raise _LeaseLost(job_id)
        return True

    def _record(self, job_id: str, results: list[tuple[int, str, str | None]]) -> bool:
        """Store a batch of item results and renew the lease; ``False`` if the job was cancelled."""
        with self.index.write() as conn:
            if not self._check_lease(conn, job_id):
                return False
            done = failed = 0
            new_errors = []
            for seq, url, reason in results:
                # Only a still-pending item counts, so a batch replayed after a takeover
                # cannot count an item twice.
                changed = conn.execute(
                    "UPDATE job_items SET state = ?, reason = ? WHERE job_id = ? AND seq = ? AND state = 'pending'",
                    ("done" if reason is None else "failed", reason, job_id, seq),
                ).rowcount
                if not changed:
                    continue
                if reason is None:
                    done += 1
                else:
                    failed += 1
                    new_errors.append({"url": url, "reason": reason})
            errors = json.loads(conn.execute("SELECT errors FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
            errors = (errors + new_errors)[:MAX_ERRORS]
            conn.execute(
                "UPDATE jobs SET done = done + ?, failed = failed + ?, errors = ?, lease_until = ? WHERE id = ?",
                (done, failed, json.dumps(errors), time.time() + self.lease_seconds, job_id),
            )
        return True

    def _finish(self, job_id: str) -> None:
        with self.index.write() as conn:
            if not self._check_lease(conn, job_id):
                return
            # A job fails only when nothing in it could be fetched.
            conn.execute(
                "UPDATE jobs SET state = CASE WHEN done = 0 AND failed > 0 THEN 'failed' ELSE 'done' END, "
                "finished_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                (time.time(), job_id),
            )
        log.info("job %s finished", job_id)

    def _release(self, job_id: str) -> None:
        """Hand an unfinished job back so another runner resumes it without waiting for the lease."""
        with self.index.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state = 'running' AND lease_owner = ?",
                (job_id, self.owner),
            )


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from Linux's /proc); None if it is not running.

    Part of a runner's name, so that a new process given a dead runner's pid
    is not taken for it. A zombie (killed, not yet reaped) counts as gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name, in parentheses, may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _runner_dead_here(owner: str) -> bool:
    """Whether ``owner`` names a runner process on this host that no longer runs."""
    try:
        host, pid, started, _ = owner.rsplit(":", 3)
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine sharing the folder: only its lease tells
    if started == "-":  # no /proc where it ran: only "no such process" is sure
        try:
            os.kill(pid_number, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return _process_start(pid_number) != started


def _runner_gone(owner: str | None, lease_until: float | None, now: float) -> bool:
    """Whether a running job's runner has stopped working on it: lease expired, or its process is dead."""
    if owner is None or lease_until is None or lease_until < now:
        return True
    return _runner_dead_here(owner)


def _eta(row: dict[str, Any], now: float) -> float | None:
    if row["state"] in ("done", "failed", "cancelled"):
        return 0.0
    processed = row["done"] + row["failed"]
    if not row["started_at"] or processed == 0:
        return None
    rate = processed / max(now - row["started_at"], 1e-6)
    return round((row["total"] - processed) / rate, 1)
