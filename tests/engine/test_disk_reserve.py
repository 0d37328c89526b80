"""The free-space reserve and a full disk, at the index level, on a real small tmpfs.

Entry files live on the tmpfs; the index database lives there too where the
test is about the database itself needing (or not needing) space.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from cache_engine.files import DiskReserveReached, is_storage_full, write_synced_temp
from cache_engine.index import CacheIndex, Entry
from tests.support.disk import fill, free_bytes, mounted_tmpfs

KB = 1024
RESERVE = 1024 * KB


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "4m") as mount:
        yield mount


def entry(root: Path, n: int, size: int) -> Entry:
    key = f"{n:064x}"
    return Entry(
        key=key,
        size_type="detail",
        url=f"https://img.example/{n}",
        path=root / "detail" / f"{key}.webp",
        bytes=size,
        width=10,
        height=10,
        content_hash="h" * 64,
    )


def add(index: CacheIndex, new: Entry) -> list[Entry]:
    """The way ImageCache adds: a synced temp file first, renamed into place inside the transaction."""
    temp = write_synced_temp(index.root, b"x" * new.bytes)

    def place() -> None:
        new.path.parent.mkdir(exist_ok=True)
        temp.rename(new.path)

    try:
        return index.add_entry(new, place, 1 << 40, 1 << 40)
    finally:
        temp.unlink(missing_ok=True)


def test_adds_evict_least_recently_used_entries_to_keep_the_reserve_free(disk, tmp_path):
    index = CacheIndex(tmp_path / "index.db", disk, reserve_bytes=RESERVE)
    entries = [entry(disk, n, 300 * KB) for n in range(20)]  # 6 MB for a 4 MB disk, under a 1 TiB budget
    evicted = []
    for new in entries:
        evicted += add(index, new)
        assert free_bytes(disk) >= RESERVE
    assert evicted and evicted[0].key == entries[0].key
    assert index.get(entries[-1].key, "detail") is not None
    assert index.stats()["evictions"] == len(evicted)
    assert sum(1 for _ in disk.rglob("*.webp")) == index.stats()["total_entries"]
    index.close()


def test_an_add_that_evicting_everything_could_not_fit_is_refused_and_evicts_nothing(disk, tmp_path):
    index = CacheIndex(tmp_path / "index.db", disk, reserve_bytes=RESERVE)
    kept = entry(disk, 1, 20 * KB)
    add(index, kept)
    fill(disk, leave=RESERVE + 200 * KB)  # something else took the disk
    with pytest.raises(DiskReserveReached) as refused:
        add(index, entry(disk, 2, 300 * KB))
    assert is_storage_full(refused.value) and "nearly full" in str(refused.value)
    assert kept.path.exists() and index.get(kept.key, "detail") is not None
    assert index.get(entry(disk, 2, 0).key, "detail") is None
    assert [p.name for p in disk.rglob("*.tmp")] == []
    index.close()


def test_restoring_the_reserve_frees_what_it_can_when_asked_to(disk, tmp_path):
    index = CacheIndex(tmp_path / "index.db", disk, reserve_bytes=RESERVE)
    old, recent = entry(disk, 1, 200 * KB), entry(disk, 2, 200 * KB)
    add(index, old)
    add(index, recent)
    assert index.restore_reserve() == []  # plenty of room: one statvfs, nothing else
    fill(disk)
    with pytest.raises(DiskReserveReached):
        index.restore_reserve()
    assert old.path.exists() and recent.path.exists()
    assert [e.key for e in index.restore_reserve(partial=True)] == [old.key, recent.key]
    assert not old.path.exists() and index.stats()["total_entries"] == 0
    assert free_bytes(disk) >= 400 * KB
    index.close()


def test_on_a_full_disk_an_index_opens_reads_and_clears(disk):
    database = disk / "index.db"
    index = CacheIndex(database, disk)
    entries = [entry(disk, n, 50 * KB) for n in range(10)]
    for new in entries:
        add(index, new)
    index.close()
    fill(disk)
    reopened = CacheIndex(database, disk)  # an index at the current version is only read
    assert reopened.stats()["total_entries"] == 10
    assert reopened.flush_if_possible() is True  # nothing pending: nothing to write
    reopened.record_access(entries[0].key, "detail")
    assert [e.key for e in reopened.clear_all()] == [e.key for e in entries]
    assert reopened.stats()["total_entries"] == 0 and not list(disk.rglob("*.webp"))
    assert free_bytes(disk) >= 9 * 50 * KB  # the journal keeps a little of it
    fill(disk)
    assert reopened.clear_all() == []  # an empty cache clears without writing a byte
    reopened.close()


def test_a_write_the_full_disk_refused_leaves_the_connection_usable(disk):
    index = CacheIndex(disk / "index.db", disk)
    filler = fill(disk)
    with pytest.raises(sqlite3.OperationalError) as full:
        with index.write() as conn:  # SQLite rolls this back itself
            conn.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?)", [(f"n{n}", "v" * 1000) for n in range(2000)]
            )
    assert is_storage_full(full.value)
    assert not index.conn.in_transaction
    filler.unlink()
    with index.write() as conn:
        conn.execute("INSERT INTO meta (name, value) VALUES ('after', 1)")
    assert index.conn.execute("SELECT value FROM meta WHERE name = 'after'").fetchone() == (1,)
    index.close()
