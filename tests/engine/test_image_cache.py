"""ImageCache in one process against a real origin on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
import time

import pytest
from PIL import Image

from image_cache import key_for, normalize_url
from tests.support.caches import disk_bytes
from tests.support.images import jpeg_bytes


def test_miss_then_hit_one_get_both_sizes(origin, make_cache):
    url = origin.add_file("/covers/a.jpg", jpeg_bytes(1200, 900))
    cache = make_cache()
    thumb = cache.get_image(url, "thumbnails")
    detail = cache.get_image(url, "detail")
    assert origin.hits("/covers/a.jpg") == 1
    with Image.open(thumb) as t, Image.open(detail) as d:
        assert (t.format, t.size, d.size) == ("WEBP", (150, 112), (600, 450))
    entry = cache.lookup(url, "thumbnails")
    assert str(entry.path) == thumb and entry.width == 150
    assert entry.content_hash == hashlib.sha256(entry.path.read_bytes()).hexdigest()
    assert entry.preview and Image.open(__import__("io").BytesIO(entry.preview)).format == "WEBP"
    assert thumb.endswith(f"thumbnails/{entry.key[:2]}/{entry.key}.webp")
    assert cache.get_image(url, "thumbnails") == thumb
    stats = cache.get_cache_stats()
    assert (stats["misses"], stats["hits"], stats["downloads"], stats["conversions"]) == (1, 2, 1, 1)
    assert stats["thumbnail_count"] == stats["detail_count"] == 1
    assert stats["total_size_bytes"] == disk_bytes(cache)
    assert stats["mean_processing_ms"] is not None and stats["p95_processing_ms"] is not None


def test_small_source_is_never_upscaled(origin, make_cache):
    url = origin.add_file("/small.jpg", jpeg_bytes(100, 40))
    cache = make_cache()
    assert cache.lookup(url, "detail") is None
    cache.get_image(url, "detail")
    assert (cache.lookup(url, "detail").width, cache.lookup(url, "thumbnails").width) == (100, 100)


def test_unknown_size_type_raises_before_any_path_or_fetch(origin, make_cache):
    url = origin.add_file("/b.jpg", jpeg_bytes(300, 300))
    cache = make_cache()
    for bad in ("../../etc", "original", "thumbnails/../x"):
        with pytest.raises(ValueError):
            cache.get_image(url, bad)
    with pytest.raises(ValueError):
        cache.get_placeholder_path("../x")
    assert origin.hits("/b.jpg") == 0
    assert sorted(p.name for p in cache.cache_dir.iterdir()) == [".locks", ".tmp", "detail", "thumbnails"]


def test_key_normalization_keeps_signed_query_exact():
    a = key_for("  HTTPS://I.Discogs.COM:443/x/Y.jpg?sig=AbC#frag ")
    assert a == key_for("https://i.discogs.com/x/Y.jpg?sig=AbC")
    assert a != key_for("https://i.discogs.com/x/Y.jpg?sig=abc")
    assert a != key_for("https://i.discogs.com/x/y.jpg?sig=AbC")
    assert normalize_url("http://h:8080") == "http://h:8080/"
    assert re.fullmatch("[0-9a-f]{64}", a)
    assert a == hashlib.sha256(b"https://i.discogs.com/x/Y.jpg?sig=AbC").hexdigest()  # of the normalized URL


@pytest.mark.parametrize(
    "setup, reason",
    [
        (lambda o: o.add_status("/missing.jpg", 404), "http_404"),
        (lambda o: o.add_html("/page.jpg", content_type="image/jpeg"), "html_body"),
        (lambda o: o.add_file("/trunc.jpg", jpeg_bytes(400, 400)[:300]), "corrupt_image"),
        (lambda o: o.add_file("/text.jpg", b"hello, not an image at all", "image/jpeg"), "not_an_image"),
    ],
)
def test_refusal_returns_none_logs_one_line_and_is_negatively_cached(origin, make_cache, caplog, setup, reason):
    url = setup(origin)
    path = "/" + url.split("/", 3)[3]
    cache = make_cache()
    with caplog.at_level(logging.INFO):
        assert cache.get_image(url, "thumbnails") is None
    refusals = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refusals) == 1 and "\n" not in refusals[0].getMessage()
    assert cache.get_image(url, "detail") is None
    assert origin.hits(path) == 1  # not fetched again before its retry time
    assert cache.is_failed(url)
    state = cache.index.failure_state(cache.key_for(url))
    assert state.last_error == reason and state.retry_at - time.time() > 200
    stats = cache.get_cache_stats()
    assert stats["failures"] == 1 and stats["negative_entries"] == 1
    assert cache.clear_cache() is True
    assert not cache.is_failed(url) and cache.get_cache_stats()["failures"] == 0
    cache.get_image(url, "thumbnails")
    assert origin.hits(path) == 2


def test_negative_cache_expires_and_success_clears_it(origin, make_cache):
    body = jpeg_bytes(200, 200)
    url = origin.add_flaky("/flaky.jpg", body, failures=1, status=500)
    cache = make_cache(NEGATIVE_CACHE_MIN_SECONDS=0.0, NEGATIVE_CACHE_MAX_SECONDS=0.0)
    assert cache.get_image(url, "thumbnails") is None
    assert not cache.is_failed(url)  # retry time 0: may be fetched again right away
    assert cache.get_image(url, "thumbnails") is not None
    assert cache.index.failure_state(cache.key_for(url)) is None


def test_single_flight_eight_threads_one_get(origin, make_cache):
    url = origin.add_file("/slow.jpg", jpeg_bytes(800, 800), delay=0.5)
    cache = make_cache()
    results = []
    barrier = threading.Barrier(8)

    def worker(size_type):
        barrier.wait()
        results.append(cache.get_image(url, size_type, wait=30))

    threads = [threading.Thread(target=worker, args=(("thumbnails", "detail")[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert origin.hits("/slow.jpg") == 1
    assert all(results) and len(set(results)) == 2
    assert cache.get_cache_stats()["conversions"] == 1


def test_waiter_gives_up_after_its_bounded_wait(origin, make_cache):
    url = origin.add_file("/slower.jpg", jpeg_bytes(300, 300), delay=1.5)
    cache = make_cache()
    first = threading.Thread(target=cache.get_image, args=(url, "thumbnails", 30))
    first.start()
    while origin.hits("/slower.jpg") == 0:
        time.sleep(0.01)
    assert cache.get_image(url, "thumbnails", wait=0.1) is None
    assert not cache.is_failed(url)  # a timeout is not the source's fault
    first.join()
    assert cache.get_image(url, "thumbnails") is not None and origin.hits("/slower.jpg") == 1


def test_a_caller_without_a_wait_waits_for_another_threads_slow_download(origin, make_cache):
    url = origin.add_file("/slowest.jpg", jpeg_bytes(300, 300), delay=1.5)
    cache = make_cache(ON_DEMAND_WAIT_SECONDS=0.05)  # what a request would wait: far less than the download
    first: list[str | None] = []
    producer = threading.Thread(target=lambda: first.append(cache.get_image(url, "thumbnails")))
    producer.start()
    while origin.hits("/slowest.jpg") == 0:
        time.sleep(0.01)
    second = cache.get_image(url, "thumbnails")
    producer.join()
    assert second is not None and first == [second]
    assert origin.hits("/slowest.jpg") == 1


def test_lru_with_a_tiny_budget_keeps_recent_entries_and_survives_restart(origin, make_cache):
    urls = [origin.add_file(f"/n{i}.jpg", jpeg_bytes(300, 300, seed=i, noise=True)) for i in range(8)]
    cache = make_cache(MAX_CACHE_SIZE_GB=0.0004)  # ~430 KB: room for a few noisy covers
    limit = cache.limit_bytes
    for url in urls[:4]:
        assert cache.get_image(url, "detail")
        assert disk_bytes(cache) <= limit
    cache.get_image(urls[0], "thumbnails")  # urls[0] is now the most recently used
    cache.close()
    cache = make_cache(MAX_CACHE_SIZE_GB=0.0004)  # recency must survive a restart
    for url in urls[4:]:
        assert cache.get_image(url, "detail")
        assert disk_bytes(cache) <= limit
        assert cache.get_cache_stats()["total_size_bytes"] == disk_bytes(cache)
    assert cache.get_cache_stats()["evictions"] > 0
    assert cache.lookup(urls[0], "thumbnails") is not None
    assert cache.lookup(urls[1], "detail") is None
    assert cache.lookup(urls[-1], "detail") is not None


def test_entry_larger_than_budget_refused_without_evicting(origin, make_cache):
    small = origin.add_file("/small.jpg", jpeg_bytes(100, 100))
    huge = origin.add_file("/huge.jpg", jpeg_bytes(1200, 1200, noise=True))
    cache = make_cache(MAX_CACHE_SIZE_GB=0.0001)  # ~107 KB; a noisy 600 px WebP is far bigger
    assert cache.get_image(small, "detail")
    before = {(e.key, e.size_type) for e in cache.index.iter_entries()}
    assert cache.get_image(huge, "detail") is None
    after = {(e.key, e.size_type) for e in cache.index.iter_entries()}
    assert before <= after
    assert cache.index.failure_state(cache.key_for(huge)).last_error == "entry_too_large"
    assert disk_bytes(cache) == cache.get_cache_stats()["total_size_bytes"] <= cache.limit_bytes


def test_a_hit_writes_nothing_to_the_database_until_flush(origin, make_cache):
    url = origin.add_file("/h.jpg", jpeg_bytes(300, 300))
    cache = make_cache()
    path = cache.get_image(url, "thumbnails")
    db = cache.index.database_path
    files = [db, db.with_name(db.name + "-wal")]
    before = [(f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    changes = cache.index.conn.total_changes
    for _ in range(200):
        assert cache.get_image(url, "thumbnails") == path
    assert [(f.stat().st_size, f.stat().st_mtime_ns) for f in files] == before
    assert cache.index.conn.total_changes == changes
    assert cache.get_cache_stats()["pending_accesses"] > 0
    cache.flush()
    assert cache.lookup(url, "thumbnails").hits == 200
    probe = sqlite3.connect(db)
    assert probe.execute("SELECT value FROM counters WHERE name = 'hits'").fetchone()[0] == 200
    probe.close()


def test_background_thread_flushes_hits(origin, make_cache):
    url = origin.add_file("/bg.jpg", jpeg_bytes(200, 200))
    cache = make_cache(ACCESS_FLUSH_INTERVAL_SECONDS=0.05)
    cache.get_image(url, "thumbnails")
    cache.get_image(url, "thumbnails")
    deadline = time.monotonic() + 10
    while cache.lookup(url, "thumbnails").hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.lookup(url, "thumbnails").hits == 1
    assert cache.index.samples()


def test_local_sources_and_traversal_refusals(tmp_path, make_cache):
    root = tmp_path / "data_root"
    (root / "demo" / "covers").mkdir(parents=True)
    (root / "demo" / "covers" / "one.jpg").write_bytes(jpeg_bytes(640, 640))
    (tmp_path / "secret.jpg").write_bytes(jpeg_bytes(64, 64))
    (root / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    (root / "inside.jpg").symlink_to(root / "demo" / "covers" / "one.jpg")
    cache = make_cache(local_root=root)
    path = cache.get_image("local:demo/covers/one.jpg", "thumbnails")
    assert path and Image.open(path).size == (150, 150)
    assert cache.get_image("local:inside.jpg", "detail")
    for bad in (
        "local:../secret.jpg",
        "local:/etc/passwd",
        "local:escape.jpg",
        "local:demo/../../secret.jpg",
        "local:demo/\x00x.jpg",
        "local:demo\\..\\..\\secret.jpg",
        "local:",
    ):
        assert cache.get_image(bad, "thumbnails") is None, bad
        assert cache.index.failure_state(cache.key_for(bad)).last_error in ("path_traversal", "local_missing")
    assert cache.get_image("local:demo/covers/none.jpg", "thumbnails") is None
    assert cache.get_cache_stats()["downloads"] == 0
    no_root = make_cache()
    assert no_root.get_image("local:demo/covers/one.jpg", "thumbnails") in (None, path)


def test_local_sources_are_read_from_the_allowed_folders_only(tmp_path, make_cache):
    root = tmp_path / "data"
    covers, originals = root / "demo" / "covers", root / "photos" / "originals" / "1"
    for folder in (covers, originals):
        folder.mkdir(parents=True)
    (covers / "one.jpg").write_bytes(jpeg_bytes(300, 300))
    (originals / "private.jpg").write_bytes(jpeg_bytes(300, 300))
    (covers / "link.jpg").symlink_to(originals / "private.jpg")  # inside by name, outside in fact
    cache = make_cache(local_root=root, local_folders=("demo/covers",))
    assert cache.get_image("local:demo/covers/one.jpg", "thumbnails") is not None
    for url in ("local:photos/originals/1/private.jpg", "local:demo/covers/link.jpg"):
        assert cache.get_image(url, "thumbnails") is None, url
        assert cache.index.failure_state(cache.key_for(url)).last_error == "path_traversal"


def test_local_source_byte_cap(tmp_path, make_cache):
    root = tmp_path / "r"
    root.mkdir()
    (root / "big.jpg").write_bytes(jpeg_bytes(1000, 1000, noise=True))
    cache = make_cache(local_root=root, MAX_DOWNLOAD_MB=0.01)
    assert cache.get_image("local:big.jpg", "thumbnails") is None
    assert cache.index.failure_state(cache.key_for("local:big.jpg")).last_error == "too_large"


def test_store_source_bytes_and_remove_source(make_cache):
    cache = make_cache()
    url = "local:photos/originals/1/2.jpg"
    assert cache.store_source_bytes(url, jpeg_bytes(700, 350)) is True
    assert cache.lookup(url, "detail").width == 600
    assert cache.store_source_bytes("local:x.jpg", b"not an image") is False
    assert cache.remove_source(url) == 2
    assert cache.lookup(url, "detail") is None and disk_bytes(cache) == 0


def test_register_sources_and_source_url(make_cache):
    cache = make_cache()
    assert cache.register_sources(["https://i.example/a.jpg", "https://i.example/b.jpg"]) == 2
    assert cache.register_sources(["https://I.EXAMPLE/a.jpg"]) == 0
    key = cache.key_for("https://i.example/a.jpg")
    assert cache.source_url(key) == "https://i.example/a.jpg"
    assert cache.source_url("../../etc") is None and cache.lookup_key("nothex", "detail") is None


def test_preload_with_progress_and_lookup_many(origin, make_cache):
    urls = [origin.add_file(f"/p{i}.jpg", jpeg_bytes(300, 200, seed=i)) for i in range(4)]
    bad = origin.add_status("/gone.jpg", 410)
    cache = make_cache()
    progress = []
    results = cache.preload_images(urls + [bad, urls[0]], lambda done, total, url: progress.append((done, total)))
    assert results == {**{u: True for u in urls}, bad: False}
    assert sorted(progress) == [(i, 5) for i in range(1, 6)]
    assert all(origin.hits(f"/p{i}.jpg") == 1 for i in range(4))
    found = cache.lookup_many(urls + ["https://nowhere.example/x.jpg"], "thumbnails")
    assert all(found[u] for u in urls) and found["https://nowhere.example/x.jpg"] is None
    assert cache.get_cache_stats()["hits"] == 0  # preloading is not a hit


def test_queue_is_non_blocking_and_deduplicates(origin, make_cache):
    urls = [origin.add_file(f"/q{i}.jpg", jpeg_bytes(200, 200, seed=i), delay=0.2) for i in range(5)]
    cache = make_cache()
    start = time.monotonic()
    assert cache.queue(urls + urls) == 5
    assert time.monotonic() - start < 5  # generous: queueing never waits for downloads
    deadline = time.monotonic() + 30
    while cache.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(cache.lookup(u, "detail") for u in urls)
    assert all(origin.hits(f"/q{i}.jpg") == 1 for i in range(5))
    assert cache.queue(urls) == 0  # cached now


def test_cleanup_by_last_access(origin, make_cache):
    old, new = (origin.add_file(f"/{n}.jpg", jpeg_bytes(200, 200, seed=i)) for i, n in enumerate(("old", "new")))
    cache = make_cache()
    cache.get_image(old, "detail")
    cache.get_image(new, "detail")
    with cache.index.write() as conn:
        conn.execute("UPDATE entries SET last_access = ? WHERE url = ?", (time.time() - 40 * 86400, old))
    assert cache.cleanup_cache(max_age_days=30) == 2
    assert cache.lookup(old, "detail") is None and cache.lookup(new, "detail") is not None
    assert disk_bytes(cache) == cache.get_cache_stats()["total_size_bytes"]
    assert cache.get_cache_stats()["last_cleanup"] is not None


def test_reconcile_repairs_drift(origin, make_cache):
    url = origin.add_file("/r.jpg", jpeg_bytes(300, 300))
    other = origin.add_file("/s.jpg", jpeg_bytes(300, 300, seed=3))
    cache = make_cache()
    cache.get_image(url, "detail")
    cache.get_image(other, "detail")
    os.unlink(cache.lookup(url, "detail").path)  # row without file
    orphan = cache.path_for("ab" * 32, "thumbnails")  # file without row
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"x")
    stale = cache.temp_dir / "dead.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 3600,) * 2)
    fresh = cache.temp_dir / "live.tmp"
    fresh.write_bytes(b"in progress")
    assert cache.reconcile() == {"files_removed": 1, "rows_removed": 1, "temp_files_removed": 1}
    assert not orphan.exists() and not stale.exists() and fresh.exists()
    assert disk_bytes(cache) == cache.get_cache_stats()["total_size_bytes"]
    assert cache.reconcile() == {"files_removed": 0, "rows_removed": 0, "temp_files_removed": 0}
    assert cache.get_image(url, "detail")  # produced again
    assert origin.hits("/r.jpg") == 2


def test_missing_file_behind_a_row_is_produced_again(origin, make_cache):
    url = origin.add_file("/m.jpg", jpeg_bytes(300, 300))
    cache = make_cache()
    path = cache.get_image(url, "thumbnails")
    os.unlink(path)
    assert cache.get_image(url, "thumbnails") == path and os.path.exists(path)
    assert origin.hits("/m.jpg") == 2


def test_memory_tier_serves_bytes_and_accounts_scopes(origin, make_cache):
    url = origin.add_file("/mt.jpg", jpeg_bytes(300, 300))
    cache = make_cache(MEMORY_CACHE_ENABLED=True, MEMORY_CACHE_SIZE_MB=1.0)
    cache.get_image(url, "thumbnails")
    entry = cache.lookup(url, "thumbnails")
    data = cache.read_bytes(entry, scope="grid")
    assert data == entry.path.read_bytes()
    os.unlink(entry.path)
    assert cache.read_bytes(entry, scope="grid") == data  # served from memory
    tier = cache.get_cache_stats()["memory_tier"]
    assert tier["scopes"] == {"grid": {"bytes": len(data), "items": 1}} and tier["max_bytes"] == 1024 * 1024
    assert make_cache().get_cache_stats()["memory_tier"] == {"enabled": False}


def test_placeholder_paths(make_cache):
    cache = make_cache()
    path = cache.get_placeholder_path("thumbnails")
    assert path.endswith("placeholder_thumbnails.webp") and Image.open(path).size == (150, 150)
    assert cache.get_placeholder_path("thumbnails") == path


def test_close_is_idempotent_and_flushes(origin, make_cache):
    url = origin.add_file("/c.jpg", jpeg_bytes(200, 200))
    cache = make_cache()
    cache.get_image(url, "detail")
    cache.get_image(url, "detail")
    cache.close()
    cache.close()
    again = make_cache()
    assert again.lookup(url, "detail").hits == 1


def test_module_functions_keep_the_seed_names(tmp_path, caplog):
    import image_cache

    assert (
        image_cache.initialize_image_cache(
            tmp_path / "covers", tmp_path / "index.db", max_cache_size=512 * 1024**2, ALLOW_PRIVATE_SOURCES=True
        )
        is True
    )
    cache = image_cache.get_image_cache()
    assert cache.limit_bytes == 512 * 1024**2 and cache.get_cache_stats()["cache_limit_bytes"] == 512 * 1024**2
    with caplog.at_level(logging.ERROR):
        assert image_cache.initialize_image_cache(tmp_path / "c2", tmp_path / "i2.db", MAX_CACHE_SIZE_GB=-1) is False
    assert "MAX_CACHE_SIZE_GB" in caplog.text and image_cache.get_image_cache() is cache
    image_cache.shutdown_image_cache()
    image_cache.shutdown_image_cache()
    assert image_cache.get_image_cache() is None
    assert not any(t.name.startswith("image-cache") for t in threading.enumerate())


def test_producing_an_image_records_its_source_again_after_a_removal(make_cache, origin):
    url = origin.add_file("/registered.jpg", jpeg_bytes(300, 300))
    cache = make_cache()
    assert cache.get_image(url, "thumbnails")
    assert cache.source_url(key_for(url)) == normalize_url(url)
    assert cache.clear_cache()
    assert cache.source_url(key_for(url)) == normalize_url(url)  # a clear keeps what is known
    assert cache.remove_source(url) == 0 and cache.source_url(key_for(url)) is None
    assert cache.preload_images([url]) == {url: True}
    assert cache.source_url(key_for(url)) == normalize_url(url)
