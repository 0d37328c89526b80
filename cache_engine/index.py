"""The cache index: one SQLite file (WAL) shared by every process of a cache.

Tables: ``entries`` (one row per stored file), ``sources`` (known source URLs
and their negative-cache state), ``counters`` (hits, misses, ... across
processes and restarts), ``meta`` (``total_bytes`` kept exact by triggers,
``last_cleanup``, the schema version), ``entry_totals`` (entries and processing
time per size type, also kept by triggers, so statistics never scan ``entries``)
and ``samples`` (periodic snapshots).
Other modules may add their own tables to the same file (``cache_engine.jobs``).

Rules that keep several writers safe (see PERFORMANCE_NOTES.md): every write
is one ``BEGIN IMMEDIATE`` transaction with ``busy_timeout``; nothing reads then
writes in a deferred transaction; a cache hit writes nothing, it is recorded in
memory by :class:`AccessRecorder` and flushed in small batches.

Rules that keep a full disk harmless: opening an index that is up to date
writes nothing; whatever removes entries unlinks their files before deleting
their rows, so the transaction's journal has room to grow even on a disk that
was full when it began.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import EntryTooLarge
from .files import BLOCK_BYTES, DiskReserveReached, disk_bytes, free_bytes, is_storage_full
from .sqlite import CORRUPT_CODES, write_transaction

log = logging.getLogger("vinylvault.image_cache.index")

SCHEMA_VERSION = 2
#: The p95 processing time is taken over this many most recent conversions (bounded work).
RECENT_TIMINGS = 1000
COUNTER_NAMES = ("hits", "misses", "downloads", "failures", "evictions", "conversions")
#: Rows per flush transaction: a big batch stalls every other writer (1.7 s for 49k rows).
FLUSH_BATCH_ROWS = 500
SAMPLE_BUCKET_SECONDS = 600
SAMPLE_KEEP_SECONDS = 30 * 86400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT NOT NULL,
    size_type TEXT NOT NULL,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created REAL NOT NULL,
    last_access REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,
    preview BLOB,
    process_ms REAL,
    PRIMARY KEY (key, size_type)
);
CREATE INDEX IF NOT EXISTS entries_last_access ON entries (last_access);
CREATE TABLE IF NOT EXISTS sources (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    registered REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL,
    last_error TEXT,
    last_failed REAL
);
CREATE INDEX IF NOT EXISTS sources_retry_at ON sources (retry_at) WHERE retry_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS samples (
    bucket INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_bytes_insert AFTER INSERT ON entries BEGIN
    UPDATE meta SET value = value + NEW.bytes WHERE name = 'total_bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_bytes_delete AFTER DELETE ON entries BEGIN
    UPDATE meta SET value = value - OLD.bytes WHERE name = 'total_bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_bytes_update AFTER UPDATE OF bytes ON entries BEGIN
    UPDATE meta SET value = value + NEW.bytes - OLD.bytes WHERE name = 'total_bytes';
END;
-- Per size type: entries and processing-time sums, kept by triggers so that
-- stats() reads a few rows instead of scanning every entry (94 ms at 100k rows).
CREATE TABLE IF NOT EXISTS entry_totals (
    size_type TEXT PRIMARY KEY,
    entries INTEGER NOT NULL DEFAULT 0,
    timed INTEGER NOT NULL DEFAULT 0,
    process_ms REAL NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS entries_totals_insert AFTER INSERT ON entries BEGIN
    INSERT OR IGNORE INTO entry_totals (size_type) VALUES (NEW.size_type);
    UPDATE entry_totals SET entries = entries + 1, timed = timed + (NEW.process_ms IS NOT NULL),
        process_ms = process_ms + coalesce(NEW.process_ms, 0) WHERE size_type = NEW.size_type;
END;
CREATE TRIGGER IF NOT EXISTS entries_totals_delete AFTER DELETE ON entries BEGIN
    UPDATE entry_totals SET entries = entries - 1, timed = timed - (OLD.process_ms IS NOT NULL),
        process_ms = process_ms - coalesce(OLD.process_ms, 0) WHERE size_type = OLD.size_type;
END;
CREATE INDEX IF NOT EXISTS entries_created ON entries (created);
"""

_ENTRY_COLUMNS = (
    "key, size_type, url, path, bytes, width, height, created, last_access, hits, content_hash, preview, process_ms"
)


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (triggers contain ``;`` of their own)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


@dataclass(frozen=True)
class Entry:
    """One stored file. ``path`` is absolute; the index stores it relative to its root."""

    key: str
    size_type: str
    url: str
    path: Path
    bytes: int
    width: int
    height: int
    content_hash: str
    preview: bytes | None = None
    created: float = 0.0
    last_access: float = 0.0
    hits: int = 0
    process_ms: float | None = None


@dataclass(frozen=True)
class FailureState:
    """Negative-cache state of one source."""

    attempts: int
    retry_at: float | None
    last_error: str | None
    last_failed: float | None

    def blocks(self, now: float | None = None) -> bool:
        """True while the source must not be fetched again."""
        return self.retry_at is not None and self.retry_at > (time.time() if now is None else now)


class AccessRecorder:
    """Cache hits and counter deltas kept in memory until the next flush.

    A hit costs a dict update under a lock: no I/O (SD cards wear, and a
    committed touch per hit costs 22-51 µs plus 4-14 KB of WAL).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accesses: dict[tuple[str, str], list[float]] = {}
        self._counters: Counter[str] = Counter()

    def hit(self, key: str, size_type: str, when: float | None = None, count: int = 1) -> None:
        """Remember a use of an entry; ``count=0`` refreshes recency without counting a hit."""
        when = time.time() if when is None else when
        with self._lock:
            slot = self._accesses.get((key, size_type))
            if slot is None:
                self._accesses[(key, size_type)] = [when, count]
            else:
                slot[0] = max(slot[0], when)
                slot[1] += count

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] += amount

    def take(self) -> tuple[dict[tuple[str, str], list[float]], Counter[str]]:
        """Remove and return everything pending."""
        with self._lock:
            accesses, self._accesses = self._accesses, {}
            counters, self._counters = self._counters, Counter()
        return accesses, counters

    def restore(self, accesses: dict[tuple[str, str], list[float]], counters: Counter[str]) -> None:
        """Put back what a failed flush took, merged with anything recorded since."""
        with self._lock:
            for ident, (when, count) in accesses.items():
                slot = self._accesses.setdefault(ident, [when, 0])
                slot[0] = max(slot[0], when)
                slot[1] += count
            self._counters.update(counters)

    def pending(self) -> int:
        with self._lock:
            return len(self._accesses) + sum(1 for value in self._counters.values() if value)

    def pending_counters(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counters)


class CacheIndex:
    """The SQLite index of one cache; safe to share between threads and processes.

    ``root`` is the folder entry paths are relative to. Each thread gets its
    own connection. ``reserve_bytes`` is the free space left on ``root``'s
    disk whatever the byte budget allows (``MIN_FREE_DISK_MB``).
    """

    def __init__(
        self,
        database_path: Path | str,
        root: Path | str,
        *,
        busy_timeout_ms: int = 5000,
        journal_size_limit: int = 4 * 1024 * 1024,
        rebuild_corrupt: bool = False,
        reserve_bytes: int = 0,
    ) -> None:
        self.database_path = Path(database_path)
        self.root = Path(root)
        self.reserve_bytes = reserve_bytes
        self.busy_timeout_ms = busy_timeout_ms
        self.journal_size_limit = journal_size_limit
        self.recorder = AccessRecorder()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only, like every database of the app; SQLite gives -wal and -shm the same mode.
        os.close(os.open(self.database_path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        #: Where a corrupt index was moved when this one was rebuilt empty, else None.
        self.moved_aside: Path | None = None
        if rebuild_corrupt:
            self._open_or_rebuild()
        else:
            self._migrate()

    # -- connections and transactions ----------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = self._open()
        try:
            self._use_wal(conn)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_IOERR_SHMSIZE:
                raise
            # No process has the index open and the disk is full: SQLite cannot
            # create the -shm file. In exclusive locking mode it keeps that index
            # in memory instead, so an admin tool can still read the index and
            # free space (other processes wait until this one closes).
            conn.close()
            log.warning("the disk is full: opening the cache index %s for this process alone", self.database_path.name)
            conn = self._open()
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {int(self.journal_size_limit)}")
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.database_path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL takes an exclusive lock, and SQLite answers
        # "database is locked" at once there instead of waiting out busy_timeout:
        # processes opening a fresh cache together must retry it themselves.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("cache index is closed")
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One :func:`~cache_engine.sqlite.write_transaction` on this thread's connection."""
        return write_transaction(self.conn)

    def _open_or_rebuild(self) -> None:
        """Migrate the index; a corrupt file is moved aside and rebuilt empty.

        The index only describes files that can be fetched or converted again,
        so for a server starting empty beats refusing to start (an admin tool
        passes ``rebuild_corrupt=False`` and reports the error instead). Processes starting together
        take turns on a lock file, and each tries again before moving anything:
        the first one rebuilds, the others find the new file healthy.
        """
        try:
            self._migrate()
            return
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorcode not in CORRUPT_CODES:
                raise
        with open(f"{self.database_path}.rebuild-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._reopen()
                self._migrate()
                return
            except sqlite3.DatabaseError as exc:
                if exc.sqlite_errorcode not in CORRUPT_CODES:
                    raise
                reason = str(exc)
            self._reopen()
            self.moved_aside = self.database_path.with_name(
                f"{self.database_path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
            )
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{self.database_path}{suffix}", f"{self.moved_aside}{suffix}")
            log.warning(
                "cache index %s is corrupt (%s): moved to %s, starting an empty index",
                self.database_path,
                reason,
                self.moved_aside.name,
            )
            os.close(os.open(self.database_path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            self._migrate()

    def _reopen(self) -> None:
        """Drop every connection so the next use opens the file now at ``database_path``."""
        self.close()
        self._closed = False

    def _migrate(self) -> None:
        # Idempotent: safe when several processes start at once, and it leaves
        # PRAGMA user_version to whoever else shares this file. An index already
        # at this version is only read, so it opens on a full disk.
        if self._current_schema() == SCHEMA_VERSION:
            return
        with self.write() as conn:
            for statement in _statements(_SCHEMA):
                conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('total_bytes', 0)")
            stored = conn.execute("SELECT value FROM meta WHERE name = 'index_schema'").fetchone()
            if stored is not None and stored[0] < 2:
                # Version 1 had no entry_totals: count what is there once.
                conn.execute("DELETE FROM entry_totals")
                conn.execute(
                    "INSERT INTO entry_totals (size_type, entries, timed, process_ms) "
                    "SELECT size_type, count(*), count(process_ms), coalesce(sum(process_ms), 0) "
                    "FROM entries GROUP BY size_type"
                )
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('index_schema', ?)", (SCHEMA_VERSION,))
            conn.executemany(
                "INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)", [(name,) for name in COUNTER_NAMES]
            )

    def _current_schema(self) -> int | None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE name = 'index_schema'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if row is None else row[0]

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -- entries: reading ------------------------------------------------------
    def _entry(self, row: tuple) -> Entry:
        (
            key,
            size_type,
            url,
            path,
            size,
            width,
            height,
            created,
            last_access,
            hits,
            content_hash,
            preview,
            process_ms,
        ) = row
        return Entry(
            key=key,
            size_type=size_type,
            url=url,
            path=self.root / path,
            bytes=size,
            width=width,
            height=height,
            content_hash=content_hash,
            preview=preview,
            created=created,
            last_access=last_access,
            hits=hits,
            process_ms=process_ms,
        )

    def get(self, key: str, size_type: str) -> Entry | None:
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE key = ? AND size_type = ?", (key, size_type)
        ).fetchone()
        return None if row is None else self._entry(row)

    def get_many(self, keys: Iterable[str], size_type: str) -> dict[str, Entry]:
        """Entries found among ``keys`` (absent keys are missing from the result)."""
        found: dict[str, Entry] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE size_type = ? AND key IN ({marks})", (size_type, *chunk)
            )
            found.update((row[0], self._entry(row)) for row in rows)
        return found

    def iter_entries(self, size_type: str | None = None) -> Iterator[Entry]:
        query = f"SELECT {_ENTRY_COLUMNS} FROM entries"
        rows = (
            self.conn.execute(query).fetchall()
            if size_type is None
            else self.conn.execute(query + " WHERE size_type = ?", (size_type,)).fetchall()
        )
        return (self._entry(row) for row in rows)

    def total_bytes(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE name = 'total_bytes'").fetchone()[0])

    # -- entries: writing -------------------------------------------------------
    def add_entry(
        self, entry: Entry, place_file: Callable[[], None], limit_bytes: int, low_water_bytes: int
    ) -> list[Entry]:
        """Make room for ``entry``, put its file in place and insert its row, atomically.

        In one ``BEGIN IMMEDIATE`` transaction: refuse an entry larger than the
        whole budget (:class:`EntryTooLarge`, nothing evicted); if the new total
        would pass ``limit_bytes``, evict least recently used entries (rows and
        files) down to ``low_water_bytes - entry.bytes``; call ``place_file()``
        (the rename into ``entry.path``); insert the row. Because eviction and
        insertion share the write lock, bytes on disk never pass the limit even
        with several processes. Returns the evicted entries.

        The entry's file is expected on the disk already (a temporary file): if
        the disk then has less than ``reserve_bytes`` free, more entries are
        evicted until it has; when evicting every other entry would not be
        enough, :class:`DiskReserveReached` is raised and nothing is evicted.
        """
        if entry.bytes > limit_bytes:
            raise EntryTooLarge(f"{entry.bytes} bytes exceed the whole cache budget of {limit_bytes}")
        accesses, counters = self.recorder.take()
        placement_error: BaseException | None = None
        try:
            with self.write() as conn:
                # This process's pending hits count for recency before choosing victims.
                self._apply_accesses(conn, list(accesses.items()))
                self._apply_counters(conn, counters)
                accesses, counters = {}, Counter()
                evicted = self._make_room(conn, entry, limit_bytes, low_water_bytes)
                try:
                    place_file()
                except BaseException as exc:  # noqa: BLE001 - re-raised after the commit
                    # The evictions already unlinked their files: they commit
                    # anyway, only the new row is left out.
                    placement_error = exc
                else:
                    self._insert(conn, entry)
        finally:
            if accesses or counters:
                self.recorder.restore(accesses, counters)
        if placement_error is not None:
            raise placement_error
        return evicted

    def _make_room(self, conn: sqlite3.Connection, entry: Entry, limit_bytes: int, low_water_bytes: int) -> list[Entry]:
        replaced = conn.execute(
            "SELECT bytes FROM entries WHERE key = ? AND size_type = ?", (entry.key, entry.size_type)
        ).fetchone()
        total = self.total_bytes() - (replaced[0] if replaced else 0)
        over_budget = 0
        if total + entry.bytes > limit_bytes:
            over_budget = total - (min(low_water_bytes, limit_bytes) - entry.bytes)
        victims = self._pick_victims(
            conn, over_budget, self.disk_shortfall(), skip=(entry.key, entry.size_type), partial=False
        )
        self._evict(conn, victims)
        return victims

    def disk_shortfall(self) -> int:
        """Bytes missing for ``reserve_bytes`` to be free on the disk (0 when it is; one ``statvfs``)."""
        return max(0, self.reserve_bytes - free_bytes(self.root)) if self.reserve_bytes > 0 else 0

    def _pick_victims(
        self,
        conn: sqlite3.Connection,
        over_budget: int,
        shortfall: int,
        *,
        skip: tuple[str, str] | None = None,
        partial: bool,
    ) -> list[Entry]:
        """Least recently used entries freeing ``over_budget`` index bytes and ``shortfall`` disk bytes.

        :raises DiskReserveReached: all of them would not free ``shortfall`` and ``partial`` is False.
        """
        if over_budget <= 0 and shortfall <= 0:
            return []
        if not partial and shortfall > self._most_evictable_bytes(conn):
            # Something else filled the disk: refuse without walking every entry.
            raise DiskReserveReached(free_bytes(self.root), self.reserve_bytes)
        victims: list[Entry] = []
        rows = conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries ORDER BY last_access, created")
        for row in rows:
            if over_budget <= 0 and shortfall <= 0:
                break
            if (row[0], row[1]) == skip:
                continue
            victims.append(self._entry(row))
            over_budget -= row[4]
            shortfall -= disk_bytes(row[4])
        rows.close()
        if shortfall > 0 and not partial:
            raise DiskReserveReached(free_bytes(self.root), self.reserve_bytes)
        return victims

    def _most_evictable_bytes(self, conn: sqlite3.Connection) -> int:
        """An upper bound of the disk space evicting every entry frees (each file may round up a block)."""
        entries = conn.execute("SELECT coalesce(sum(entries), 0) FROM entry_totals").fetchone()[0]
        return self.total_bytes() + entries * BLOCK_BYTES

    def _evict(self, conn: sqlite3.Connection, victims: list[Entry]) -> None:
        self._delete_rows_and_files(conn, victims)
        if victims:
            conn.execute("UPDATE counters SET value = value + ? WHERE name = 'evictions'", (len(victims),))

    def restore_reserve(self, *, partial: bool = False) -> list[Entry]:
        """Evict least recently used entries until ``reserve_bytes`` are free on the disk; return them.

        Costs one ``statvfs`` when the reserve is free (no transaction). With
        ``partial`` False, nothing is evicted when all entries would not be
        enough (:class:`DiskReserveReached`); with ``partial`` True, as many as
        help are (the owner asked for space).
        """
        if self.disk_shortfall() <= 0:
            return []
        with self.write() as conn:
            victims = self._pick_victims(conn, 0, self.disk_shortfall(), partial=partial)
            self._evict(conn, victims)
        return victims

    def _insert(self, conn: sqlite3.Connection, entry: Entry) -> None:
        # An explicit DELETE, not INSERT OR REPLACE: REPLACE skips delete
        # triggers, which would leave total_bytes counting the old row.
        conn.execute("DELETE FROM entries WHERE key = ? AND size_type = ?", (entry.key, entry.size_type))
        now = time.time()
        conn.execute(
            f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key,
                entry.size_type,
                entry.url,
                self._relative(entry.path),
                entry.bytes,
                entry.width,
                entry.height,
                entry.created or now,
                entry.last_access or now,
                entry.hits,
                entry.content_hash,
                entry.preview,
                entry.process_ms,
            ),
        )

    def _relative(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    @staticmethod
    def _delete_rows_and_files(conn: sqlite3.Connection, entries: list[Entry]) -> None:
        # Files first: on a full disk, the space they free is what lets the
        # journal hold the row deletions. A reader finding a row whose file is
        # gone treats it as a miss.
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        conn.executemany("DELETE FROM entries WHERE key = ? AND size_type = ?", [(e.key, e.size_type) for e in entries])

    def remove_key(self, key: str) -> list[Entry]:
        """Delete every size of ``key`` (rows and files) and forget its source."""
        with self.write() as conn:
            victims = [
                self._entry(row) for row in conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE key = ?", (key,))
            ]
            self._delete_rows_and_files(conn, victims)
            conn.execute("DELETE FROM sources WHERE key = ?", (key,))
        return victims

    def remove_url_prefix(self, prefix: str) -> list[Entry]:
        """Delete every entry whose source URL starts with ``prefix`` (rows and files); forget those sources."""
        match = "substr(url, 1, ?) = ?"  # not LIKE: a prefix holding % or _ stays literal
        with self.write() as conn:
            victims = [
                self._entry(row)
                for row in conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE {match}", (len(prefix), prefix))
            ]
            self._delete_rows_and_files(conn, victims)
            conn.execute(f"DELETE FROM sources WHERE {match}", (len(prefix), prefix))
        return victims

    def reconcile(self, list_files: Callable[[], Iterable[tuple[str, str, Path]]]) -> tuple[list[Path], list[Entry]]:
        """Bring rows and files back in line; return (files removed, rows removed).

        ``list_files`` lists ``(key, size_type, path)`` of the files on disk. It
        runs inside the write transaction, so no other process is between
        placing a file and inserting its row while the two are compared.
        """
        with self.write() as conn:
            rows = {
                (e.key, e.size_type): e
                for e in (self._entry(row) for row in conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries"))
            }
            files = {(key, size_type): path for key, size_type, path in list_files()}
            orphans = [path for ident, path in files.items() if ident not in rows]
            missing = [entry for ident, entry in rows.items() if ident not in files]
            self._delete_rows_and_files(conn, missing)
            for path in orphans:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return orphans, missing

    def cleanup_older_than(self, age_seconds: float) -> list[Entry]:
        """Remove entries not accessed for ``age_seconds`` (pending hits count when they can be written)."""
        self.flush_if_possible()
        cutoff = time.time() - age_seconds
        with self.write() as conn:
            victims = [
                self._entry(row)
                for row in conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE last_access < ?", (cutoff,))
            ]
            self._delete_rows_and_files(conn, victims)
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('last_cleanup', ?)", (time.time(),))
        return victims

    def clear_all(self) -> list[Entry]:
        """Delete every file and row, reset the negative cache and counters; return what was removed.

        The files go first, inside the write transaction (see
        :meth:`_delete_rows_and_files`), so clearing works on a full disk.
        """
        self.recorder.take()
        with self.write() as conn:
            removed = [self._entry(row) for row in conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries")]
            for entry in removed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            conn.execute("DELETE FROM entries")
            # Only rows that change (and a WHERE clause turns off SQLite's truncate
            # shortcut, which rewrites even an empty table): on a full disk, an
            # empty cache clears without writing.
            conn.execute(
                "UPDATE sources SET attempts = 0, retry_at = NULL, last_error = NULL, last_failed = NULL "
                "WHERE attempts != 0 OR retry_at IS NOT NULL OR last_error IS NOT NULL "
                "OR last_failed IS NOT NULL"
            )
            conn.execute("UPDATE counters SET value = 0 WHERE value != 0")
            conn.execute("DELETE FROM samples WHERE true")
        return removed

    # -- access recording --------------------------------------------------------
    def record_access(self, key: str, size_type: str) -> None:
        """A hit: remembered in memory, written at the next :meth:`flush`."""
        self.recorder.hit(key, size_type)
        self.recorder.count("hits")

    def touch(self, key: str, size_type: str) -> None:
        """Refresh an entry's recency without counting a hit; written at the next :meth:`flush`."""
        self.recorder.hit(key, size_type, count=0)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a counter at the next flush."""
        self.recorder.count(name, amount)

    def flush(self) -> int:
        """Write pending hits and counters in batches of :data:`FLUSH_BATCH_ROWS`; return rows written."""
        accesses, counters = self.recorder.take()
        items = list(accesses.items())
        written = 0
        try:
            while items or counters:
                batch, rest = items[:FLUSH_BATCH_ROWS], items[FLUSH_BATCH_ROWS:]
                with self.write() as conn:
                    self._apply_accesses(conn, batch)
                    self._apply_counters(conn, counters)
                counters = Counter()
                items = rest
                written += len(batch)
        finally:
            if items or counters:
                self.recorder.restore(dict(items), counters)
        return written

    def flush_if_possible(self) -> bool:
        """:meth:`flush`, keeping the pending hits when the disk is full; False then."""
        try:
            self.flush()
        except sqlite3.OperationalError as exc:
            if not is_storage_full(exc):
                raise
            return False
        return True

    @staticmethod
    def _apply_accesses(conn: sqlite3.Connection, batch: list) -> None:
        conn.executemany(
            "UPDATE entries SET last_access = max(last_access, ?), hits = hits + ? WHERE key = ? AND size_type = ?",
            [(when, count, key, size_type) for (key, size_type), (when, count) in batch],
        )

    @staticmethod
    def _apply_counters(conn: sqlite3.Connection, counters: Counter[str]) -> None:
        conn.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            [(name, value) for name, value in counters.items() if value],
        )

    # -- sources and the negative cache -------------------------------------------
    def register_sources(self, sources: dict[str, str]) -> int:
        """Remember ``key -> url`` for keys not seen before; return how many were new.

        Reads first (no write at all when every key is known), then inserts
        the unknown ones in one ``BEGIN IMMEDIATE`` with ``INSERT OR IGNORE``,
        so a race with another process is harmless.
        """
        keys = list(sources)
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(row[0] for row in self.conn.execute(f"SELECT key FROM sources WHERE key IN ({marks})", chunk))
        new = [(key, url, time.time()) for key, url in sources.items() if key not in known]
        if new:
            with self.write() as conn:
                conn.executemany("INSERT OR IGNORE INTO sources (key, url, registered) VALUES (?, ?, ?)", new)
        return len(new)

    def source_url(self, key: str) -> str | None:
        row = self.conn.execute("SELECT url FROM sources WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def iter_source_urls(self) -> Iterator[str]:
        """URLs of every source with at least one stored entry."""
        rows = self.conn.execute("SELECT DISTINCT url FROM entries").fetchall()
        return (row[0] for row in rows)

    def record_failure(self, key: str, url: str, reason: str, min_seconds: float, max_seconds: float) -> FailureState:
        """Count a failure; the next attempt waits ``min * 2**(attempts-1)`` (capped, ±10% jitter)."""
        now = time.time()
        with self.write() as conn:
            attempts = conn.execute(
                "INSERT INTO sources (key, url, registered, attempts, last_error, last_failed) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (key) DO UPDATE SET attempts = attempts + 1, "
                "last_error = excluded.last_error, last_failed = excluded.last_failed RETURNING attempts",
                (key, url, now, reason, now),
            ).fetchone()[0]
            delay = min(max_seconds, min_seconds * 2 ** min(attempts - 1, 40))
            # Jitter spreads retries of a batch that failed together (an origin outage).
            retry_at = now + min(max_seconds, delay * random.uniform(0.9, 1.1))
            conn.execute("UPDATE sources SET retry_at = ? WHERE key = ?", (retry_at, key))
            conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'failures'")
        return FailureState(attempts, retry_at, reason, now)

    def clear_failure(self, key: str) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE sources SET attempts = 0, retry_at = NULL, last_error = NULL WHERE key = ? AND attempts > 0",
                (key,),
            )

    def failure_state(self, key: str) -> FailureState | None:
        row = self.conn.execute(
            "SELECT attempts, retry_at, last_error, last_failed FROM sources WHERE key = ? AND attempts > 0", (key,)
        ).fetchone()
        return None if row is None else FailureState(*row)

    # -- statistics ------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        """Counters as stored (every process's flushed deltas) plus this process's pending ones."""
        values = {name: 0 for name in COUNTER_NAMES}
        values.update(self.conn.execute("SELECT name, value FROM counters"))
        for name, value in self.recorder.pending_counters().items():
            values[name] = values.get(name, 0) + value
        return values

    def stats(self) -> dict[str, object]:
        """Aggregates over the whole index (all processes, all restarts)."""
        conn = self.conn
        totals = conn.execute("SELECT size_type, entries, timed, process_ms FROM entry_totals").fetchall()
        by_type = {size_type: entries for size_type, entries, _timed, _ms in totals if entries}
        counters = self.counters()
        lookups = counters["hits"] + counters["misses"]
        timed = sum(row[2] for row in totals)
        mean_ms = sum(row[3] for row in totals) / timed if timed else None
        recent = [
            row[0]
            for row in conn.execute(
                "SELECT process_ms FROM entries WHERE process_ms IS NOT NULL ORDER BY created DESC LIMIT ?",
                (RECENT_TIMINGS,),
            )
        ]
        p95 = sorted(recent)[int(0.95 * (len(recent) - 1))] if recent else None
        negative = conn.execute("SELECT count(*) FROM sources WHERE retry_at > ?", (time.time(),)).fetchone()[0]
        last_cleanup = conn.execute("SELECT value FROM meta WHERE name = 'last_cleanup'").fetchone()
        return {
            "total_entries": sum(by_type.values()),
            "entries_by_size_type": by_type,
            "total_size_bytes": self.total_bytes(),
            "hit_rate": round(100.0 * counters["hits"] / lookups, 2) if lookups else 0.0,
            **counters,
            "negative_entries": negative,
            "mean_processing_ms": round(mean_ms, 2) if mean_ms is not None else None,
            "p95_processing_ms": round(p95, 2) if p95 is not None else None,
            "last_cleanup": last_cleanup[0] if last_cleanup else None,
            "pending_accesses": self.recorder.pending(),
        }

    def take_sample(self, now: float | None = None) -> bool:
        """Snapshot entries, bytes, hits, misses for this time bucket; False if one exists already."""
        now = time.time() if now is None else now
        bucket = int(now // SAMPLE_BUCKET_SECONDS)
        counters = self.counters()
        entries = self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        with self.write() as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO samples (bucket, ts, entries, bytes, hits, misses) VALUES (?, ?, ?, ?, ?, ?)",
                (bucket, now, entries, self.total_bytes(), counters["hits"], counters["misses"]),
            ).rowcount
            conn.execute("DELETE FROM samples WHERE ts < ?", (now - SAMPLE_KEEP_SECONDS,))
        return bool(inserted)

    def samples(self, since: float = 0.0) -> list[dict[str, float]]:
        rows = self.conn.execute(
            "SELECT ts, entries, bytes, hits, misses FROM samples WHERE ts >= ? ORDER BY bucket", (since,)
        )
        return [dict(zip(("ts", "entries", "bytes", "hits", "misses"), row)) for row in rows]
