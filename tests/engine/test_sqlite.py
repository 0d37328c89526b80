"""The write transaction every SQLite writer uses (cache index, collection, accounts, photos), on a real file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from cache_engine.sqlite import write_transaction


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
        " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    yield conn
    conn.close()


def _rows(path: Path, table: str) -> list[tuple]:
    """What another connection (another process) sees: only committed rows."""
    other = sqlite3.connect(path)
    try:
        return other.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        other.close()


def test_the_block_is_committed_and_holds_the_write_lock_from_its_start(conn, tmp_path):
    with write_transaction(conn) as same:
        assert same is conn and conn.in_transaction
        other = sqlite3.connect(tmp_path / "db.sqlite", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # taken at BEGIN, before the block wrote anything
        other.close()
        conn.execute("INSERT INTO parent (id) VALUES (1)")
    assert not conn.in_transaction
    assert _rows(tmp_path / "db.sqlite", "parent") == [(1,)]


def test_an_error_in_the_block_rolls_it_back_and_is_the_error_raised(conn, tmp_path):
    with pytest.raises(LookupError):
        with write_transaction(conn):
            conn.execute("INSERT INTO parent (id) VALUES (1)")
            raise LookupError("the block failed")
    assert not conn.in_transaction
    assert _rows(tmp_path / "db.sqlite", "parent") == []


def test_a_failed_commit_leaves_no_transaction_open(conn, tmp_path):
    with pytest.raises(sqlite3.IntegrityError):
        with write_transaction(conn):
            conn.execute("INSERT INTO child (id, parent_id) VALUES (1, 99)")  # checked at COMMIT
    assert not conn.in_transaction
    with write_transaction(conn):  # the connection's next user starts cleanly
        conn.execute("INSERT INTO parent (id) VALUES (2)")
    assert _rows(tmp_path / "db.sqlite", "child") == []
    assert _rows(tmp_path / "db.sqlite", "parent") == [(2,)]


def test_a_transaction_sqlite_already_rolled_back_keeps_the_blocks_error(conn):
    # After SQLITE_FULL (a full disk) SQLite ends the transaction itself; a second ROLLBACK
    # would fail with "no transaction is active" and hide why the write failed.
    with pytest.raises(LookupError):
        with write_transaction(conn):
            conn.execute("INSERT INTO parent (id) VALUES (1)")
            conn.execute("ROLLBACK")
            raise LookupError("the disk is full")
    assert not conn.in_transaction
