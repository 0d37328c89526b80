"""CacheIndex: exact byte accounting, LRU eviction in the add transaction, batching, negative cache."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cache_engine.errors import EntryTooLarge
from cache_engine.index import CacheIndex, Entry


def make_entry(root: Path, key: str, size: int, size_type: str = "thumbnails") -> Entry:
    return Entry(
        key=key,
        size_type=size_type,
        url=f"https://img.example/{key}",
        path=root / size_type / f"{key}.webp",
        bytes=size,
        width=10,
        height=10,
        content_hash="h" * 64,
        preview=b"p",
    )


def add(index: CacheIndex, entry: Entry, limit: int, low: int | None = None) -> list[Entry]:
    def place():
        entry.path.parent.mkdir(parents=True, exist_ok=True)
        entry.path.write_bytes(b"x" * entry.bytes)

    return index.add_entry(entry, place, limit, low if low is not None else limit)


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.webp"))


@pytest.fixture
def index(tmp_path):
    idx = CacheIndex(tmp_path / "index.db", tmp_path / "files")
    yield idx
    idx.close()


def key(n: int) -> str:
    return f"{n:064x}"


def test_add_get_and_exact_total(index, tmp_path):
    add(index, make_entry(index.root, key(1), 100), limit=1000)
    add(index, make_entry(index.root, key(1), 50, "detail"), limit=1000)
    entry = index.get(key(1), "thumbnails")
    assert entry.path == index.root / "thumbnails" / f"{key(1)}.webp" and entry.bytes == 100
    assert entry.preview == b"p" and entry.created > 0
    assert index.total_bytes() == 150 == disk_bytes(index.root)
    assert index.get(key(2), "thumbnails") is None
    assert set(index.get_many([key(1), key(2)], "detail")) == {key(1)}


def test_replacing_an_entry_keeps_total_exact(index):
    add(index, make_entry(index.root, key(1), 100), limit=1000)
    add(index, make_entry(index.root, key(1), 30), limit=1000)
    assert index.total_bytes() == 30 == disk_bytes(index.root)


def test_eviction_removes_least_recently_used_rows_and_files_to_low_water(index):
    for n in range(5):
        add(index, make_entry(index.root, key(n), 100), limit=500, low=300)
        time.sleep(0.002)
    index.record_access(key(0), "thumbnails")  # 0 becomes the most recent; pending only
    evicted = add(index, make_entry(index.root, key(9), 100), limit=500, low=300)
    assert [e.key for e in evicted] == [key(1), key(2), key(3)]
    assert index.total_bytes() == 300 == disk_bytes(index.root)
    assert {e.key for e in index.iter_entries()} == {key(0), key(4), key(9)}
    assert index.counters()["evictions"] == 3


def test_entry_larger_than_budget_is_refused_without_evicting(index):
    add(index, make_entry(index.root, key(1), 100), limit=500)
    with pytest.raises(EntryTooLarge):
        add(index, make_entry(index.root, key(2), 501), limit=500)
    assert index.get(key(1), "thumbnails") is not None and disk_bytes(index.root) == 100


def test_a_failed_placement_commits_evictions_but_not_the_row(index):
    add(index, make_entry(index.root, key(1), 100), limit=150)

    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError):
        index.add_entry(make_entry(index.root, key(2), 100), broken, 150, 150)
    assert list(index.iter_entries()) == [] and index.total_bytes() == 0 == disk_bytes(index.root)


def test_hits_write_nothing_until_flush(index):
    add(index, make_entry(index.root, key(1), 10), limit=1000)
    before = index.get(key(1), "thumbnails").last_access
    probe = sqlite3.connect(index.database_path)
    changes = probe.execute("SELECT value FROM counters WHERE name='hits'").fetchone()[0]
    changes_before = index.conn.total_changes
    for _ in range(100):
        index.record_access(key(1), "thumbnails")
    assert index.conn.total_changes == changes_before
    assert probe.execute("SELECT value FROM counters WHERE name='hits'").fetchone()[0] == changes
    assert index.get(key(1), "thumbnails").hits == 0
    assert index.flush() == 1
    entry = index.get(key(1), "thumbnails")
    assert entry.hits == 100 and entry.last_access >= before
    assert probe.execute("SELECT value FROM counters WHERE name='hits'").fetchone()[0] == 100
    probe.close()


def test_flush_writes_in_small_batches(index, monkeypatch):
    import cache_engine.index as module

    monkeypatch.setattr(module, "FLUSH_BATCH_ROWS", 3)
    for n in range(7):
        add(index, make_entry(index.root, key(n), 1), limit=1000)
    for n in range(7):
        index.record_access(key(n), "thumbnails")
    commits = []
    index.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    assert index.flush() == 7
    index.conn.set_trace_callback(None)
    assert len(commits) == 3
    assert all(e.hits == 1 for e in index.iter_entries())


def test_negative_cache_backs_off_exponentially_with_a_cap(index):
    k = key(1)
    first = index.record_failure(k, "https://x/1", "http_404", 100, 350)
    second = index.record_failure(k, "https://x/1", "http_404", 100, 350)
    third = index.record_failure(k, "https://x/1", "timeout", 100, 350)
    now = time.time()
    assert 85 < first.retry_at - now < 115
    assert 175 < second.retry_at - now < 225
    assert third.retry_at - now <= 350 and third.attempts == 3
    state = index.failure_state(k)
    assert state.blocks() and state.last_error == "timeout"
    assert index.stats()["negative_entries"] == 1 and index.counters()["failures"] == 3
    index.clear_failure(k)
    assert index.failure_state(k) is None
    assert index.source_url(k) == "https://x/1"


def test_register_sources_only_writes_new_keys(index):
    assert index.register_sources({key(1): "u1", key(2): "u2"}) == 2
    assert index.register_sources({key(1): "changed", key(3): "u3"}) == 1
    assert index.source_url(key(1)) == "u1" and index.source_url(key(9)) is None


def test_cleanup_older_than_uses_pending_accesses(index):
    add(index, make_entry(index.root, key(1), 10), limit=1000)
    add(index, make_entry(index.root, key(2), 10), limit=1000)
    index.conn.execute("UPDATE entries SET last_access = ?", (time.time() - 3600,))
    index.record_access(key(2), "thumbnails")
    removed = index.cleanup_older_than(60)
    assert [e.key for e in removed] == [key(1)]
    assert index.total_bytes() == 10 == disk_bytes(index.root)
    assert index.stats()["last_cleanup"] is not None


def test_clear_all_resets_rows_negative_cache_and_counters(index):
    add(index, make_entry(index.root, key(1), 10), limit=1000)
    index.record_failure(key(2), "u", "x", 10, 20)
    removed = index.clear_all()
    assert [e.key for e in removed] == [key(1)]
    assert index.total_bytes() == 0 and index.failure_state(key(2)) is None
    assert index.counters()["failures"] == 0


def test_samples_one_per_bucket_even_from_two_indexes(index, tmp_path):
    other = CacheIndex(index.database_path, index.root)
    assert index.take_sample(now=6000.0) is True
    assert other.take_sample(now=6001.0) is False
    assert len(index.samples()) == 1
    other.close()


def test_stats_processing_times(index):
    for n, ms in enumerate([1.0, 2.0, 3.0, 100.0]):
        entry = make_entry(index.root, key(n), 1)
        add(index, Entry(**{**entry.__dict__, "process_ms": ms}), limit=1000)
    stats = index.stats()
    assert stats["mean_processing_ms"] == 26.5 and stats["p95_processing_ms"] == 3.0
    assert stats["entries_by_size_type"] == {"thumbnails": 4}


def test_a_version_1_index_gets_its_totals_counted_once(tmp_path):
    index = CacheIndex(tmp_path / "i.db", tmp_path)
    for n, ms in enumerate([4.0, None, 8.0]):
        add(index, Entry(**{**make_entry(tmp_path, key(n), 1).__dict__, "process_ms": ms}), limit=1000)
    with index.write() as conn:  # what a version-1 index looked like
        conn.execute("DELETE FROM entry_totals")
        conn.execute("UPDATE meta SET value = 1 WHERE name = 'index_schema'")
    index.close()
    upgraded = CacheIndex(tmp_path / "i.db", tmp_path)
    stats = upgraded.stats()
    assert stats["entries_by_size_type"] == {"thumbnails": 3} and stats["mean_processing_ms"] == 6.0
    upgraded.close()
    again = CacheIndex(tmp_path / "i.db", tmp_path)  # counted once, not again
    assert again.stats()["entries_by_size_type"] == {"thumbnails": 3}
    again.close()


def test_schema_is_idempotent_and_leaves_user_version_alone(tmp_path):
    db = tmp_path / "i.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    CacheIndex(db, tmp_path).close()
    CacheIndex(db, tmp_path).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


class IndexMachine(RuleBasedStateMachine):
    """After any sequence of operations the rows sum to the bytes on disk, within the limit."""

    LIMIT = 1000

    def __init__(self):
        super().__init__()
        import tempfile

        self.tmp = Path(tempfile.mkdtemp())
        self.index = CacheIndex(self.tmp / "i.db", self.tmp / "files")

    @rule(n=st.integers(0, 15), size=st.integers(1, 1200), detail=st.booleans(), ms=st.none() | st.floats(0.5, 500))
    def add(self, n, size, detail, ms):
        entry = make_entry(self.index.root, key(n), size, "detail" if detail else "thumbnails")
        entry = Entry(**{**entry.__dict__, "process_ms": ms})
        try:
            add(self.index, entry, self.LIMIT, 800)
        except EntryTooLarge:
            assert size > self.LIMIT

    @rule(n=st.integers(0, 15))
    def hit(self, n):
        if self.index.get(key(n), "thumbnails"):
            self.index.record_access(key(n), "thumbnails")

    @rule()
    def flush(self):
        self.index.flush()

    @rule(n=st.integers(0, 15))
    def remove(self, n):
        self.index.remove_key(key(n))

    @rule()
    def clear(self):
        for entry in self.index.clear_all():
            entry.path.unlink(missing_ok=True)

    @rule(age=st.sampled_from([0, 3600]))
    def cleanup(self, age):
        self.index.cleanup_older_than(age)

    @invariant()
    def rows_match_disk_within_limit(self):
        rows = sum(e.bytes for e in self.index.iter_entries())
        assert rows == self.index.total_bytes() == disk_bytes(self.index.root) <= self.LIMIT
        for entry in self.index.iter_entries():
            assert entry.path.stat().st_size == entry.bytes

    @invariant()
    def totals_match_a_recount(self):
        entries = list(self.index.iter_entries())
        stats = self.index.stats()
        recount: dict[str, int] = {}
        for entry in entries:
            recount[entry.size_type] = recount.get(entry.size_type, 0) + 1
        assert stats["entries_by_size_type"] == recount
        timed = [entry.process_ms for entry in entries if entry.process_ms is not None]
        expected = round(sum(timed) / len(timed), 2) if timed else None
        assert (
            stats["mean_processing_ms"] == pytest.approx(expected, abs=0.011)
            if timed
            else stats["mean_processing_ms"] is None
        )

    def teardown(self):
        self.index.close()
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


IndexMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_index_state_machine = IndexMachine.TestCase


def test_the_index_database_is_readable_by_the_owner_only(tmp_path):
    index = CacheIndex(tmp_path / "index.db", tmp_path)
    try:
        index.record_access("a" * 64, "thumbnails")
        index.flush()
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"index.db{suffix}"
            if path.exists():
                assert path.stat().st_mode & 0o777 == 0o600, path
    finally:
        index.close()


def _open_fresh_index(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        CacheIndex(Path(path), Path(path).parent).close()
        results.put("ok")
    except sqlite3.Error as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_fresh_index_together_all_succeed(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(5):  # each attempt races on a new, not yet created file
        path = str(tmp_path / f"race{attempt}.db")
        barrier, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=_open_fresh_index, args=(path, barrier, results)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert sorted(results.get(timeout=5) for _ in workers) == ["ok"] * 8
