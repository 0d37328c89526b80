"""What every SQLite writer of the project shares: the cover cache's index and the site's collection database.

Writes take the write lock when their transaction begins (``BEGIN
IMMEDIATE``): a deferred transaction that reads and then writes fails with
"database is locked" when another process wrote meanwhile, whatever
``busy_timeout`` says. Connections are opened with ``isolation_level=None``
so that the transactions are these explicit ones.

No Flask and nothing of ``vinylvault``: the cache engine uses it as much as the site does.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator

__all__ = ["CORRUPT_CODES", "write_transaction"]

#: SQLite's answers for a file that is not (or no longer) a database.
CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``with write_transaction(conn):`` runs the block in ``BEGIN IMMEDIATE`` ... ``COMMIT``.

    Committed when the block ends normally, rolled back when it raises. SQLite
    rolls back by itself after some errors (``SQLITE_FULL``: a full disk), so
    the rollback happens only while the transaction is still open, which also
    keeps the block's own error the one raised; a failed ``COMMIT`` is rolled
    back too, never left open for the connection's next user.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
