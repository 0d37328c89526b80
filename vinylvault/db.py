"""The collection database: connections and versioned migrations.

One SQLite file (``DATABASE_PATH``) in WAL mode holds the collection, the
owner's account, photos metadata and play history. Migrations are the numbered
``migrations/NNNN_name.sql`` files beside this module; ``PRAGMA user_version``
records the last one applied, so each runs exactly once, in order, inside a
transaction. Every connection sets the same pragmas, which is why all code
opens connections through :func:`connect`.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from pathlib import Path

from flask import Flask, current_app, g

from cache_engine.sqlite import CORRUPT_CODES
from vinylvault import lifecycle

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class MigrationError(RuntimeError):
    """The migrations folder or the database is not in a state we can upgrade from."""


class CorruptDatabase(MigrationError):
    """The collection database file is not a readable SQLite database; the message is one line.

    Unlike the cache index it holds what cannot be fetched again (the owner's
    account, notes, photos), so the app refuses to start rather than replace it.
    """


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the collection database with the project's pragmas.

    ``isolation_level=None`` leaves transactions to explicit ``BEGIN IMMEDIATE``:
    a deferred transaction that reads and then writes is what makes SQLite
    report "database is locked" under concurrent writers.
    """
    conn = sqlite3.connect(os.fspath(path), timeout=5.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_size_limit=67108864")
    return conn


def migrations() -> list[tuple[int, Path]]:
    """The migration files, ordered by number; a duplicate number is an error.

    A gap is allowed (branches number their files apart and are renumbered
    when merged); each file still runs once, in order of its number.
    """
    found = []
    for path in MIGRATIONS_DIR.iterdir():
        match = _MIGRATION_NAME.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    numbers = [n for n, _ in found]
    if len(set(numbers)) != len(numbers) or (numbers and numbers[0] < 1):
        raise MigrationError(f"migrations must have distinct numbers from 1, found {numbers}")
    return found


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; return the resulting version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    available = migrations()
    newest = available[-1][0] if available else 0
    if current > newest:
        raise MigrationError(f"database is at version {current}, newer than this code ({newest})")
    for number, path in (entry for entry in available if entry[0] > current):
        script = path.read_text(encoding="utf-8")
        # executescript() commits first; the explicit BEGIN keeps each file atomic.
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _corrupt_or_reraise(path: Path, exc: sqlite3.DatabaseError) -> Exception:
    """:class:`CorruptDatabase` for a damaged file; any other database error unchanged."""
    if getattr(exc, "sqlite_errorcode", None) not in CORRUPT_CODES:
        return exc
    return CorruptDatabase(
        f"the collection database {path} is damaged ({exc}): restore it from a backup, "
        "or move it aside to start with an empty collection"
    )


def initialize(path: Path) -> None:
    """Create or upgrade the database file, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        conn = connect(path)
    except sqlite3.DatabaseError as exc:
        raise _corrupt_or_reraise(path, exc) from None
    finally:
        os.umask(old_umask)
    try:
        # gunicorn workers each create the app (preload_app=False): one at a
        # time, or two would run the same migration on a fresh database.
        with open(f"{path}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise _corrupt_or_reraise(path, exc) from None
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            candidate.chmod(0o600)


def get_db() -> sqlite3.Connection:
    """The request's connection, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE_PATH"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


#: ``app.extensions`` key of the connection each app holds open for its whole life.
ANCHOR = "vv_db_anchor"


def init_app(app: Flask) -> None:
    initialize(Path(app.config["DATABASE_PATH"]))
    # SQLite removes -wal and -shm when the last connection closes; the next
    # request's connection would have to create them again, a write that fails
    # on a full disk and would take every page down. One connection held open
    # keeps them, so reading pages never needs free space.
    app.extensions[ANCHOR] = connect(app.config["DATABASE_PATH"])
    lifecycle.on_shutdown(app, "collection database", lambda: app.extensions.pop(ANCHOR).close())
    app.teardown_appcontext(close_db)
