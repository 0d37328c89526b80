"""MemoryTier: LRU within a byte budget, TTL, fair shares between page scopes."""

from __future__ import annotations

import threading
import time

import pytest

from cache_engine.memory_tier import MemoryTier


def test_get_put_and_lru_order():
    tier = MemoryTier(max_bytes=30, ttl_seconds=0)
    tier.put("a", "thumbnails", b"x" * 10)
    tier.put("b", "thumbnails", b"y" * 10)
    tier.put("c", "thumbnails", b"z" * 10)
    assert tier.get("a", "thumbnails") == b"x" * 10  # a is now the most recent
    tier.put("d", "thumbnails", b"w" * 10)
    assert tier.get("b", "thumbnails") is None
    assert tier.get("a", "thumbnails") is not None
    assert tier.stats()["used_bytes"] == 30


def test_size_types_are_distinct_and_replacing_keeps_accounting_exact():
    tier = MemoryTier(max_bytes=100, ttl_seconds=0)
    tier.put("a", "thumbnails", b"1" * 10)
    tier.put("a", "detail", b"2" * 40)
    tier.put("a", "detail", b"3" * 20)
    assert tier.get("a", "thumbnails") == b"1" * 10
    assert tier.get("a", "detail") == b"3" * 20
    assert tier.stats()["used_bytes"] == 30
    assert tier.stats()["items"] == 2


def test_item_bigger_than_budget_is_not_kept_and_evicts_nothing():
    tier = MemoryTier(max_bytes=10, ttl_seconds=0)
    tier.put("a", "detail", b"1" * 5)
    assert tier.put("b", "detail", b"2" * 11) is False
    assert tier.get("a", "detail") == b"1" * 5


def test_ttl_expires_items():
    tier = MemoryTier(max_bytes=100, ttl_seconds=0.05)
    tier.put("a", "detail", b"1")
    time.sleep(0.1)
    assert tier.get("a", "detail") is None
    assert tier.stats()["used_bytes"] == 0


def test_one_scope_cannot_push_another_below_its_fair_share():
    tier = MemoryTier(max_bytes=100, ttl_seconds=0)
    for i in range(5):
        tier.put(f"album{i}", "detail", b"a" * 10, scope="album")
    for i in range(50):  # the grid scrolls through far more than the budget
        tier.put(f"grid{i}", "thumbnails", b"g" * 10, scope="grid")
    scopes = tier.stats()["scopes"]
    assert scopes["album"] == {"bytes": 50, "items": 5}
    assert scopes["grid"]["bytes"] == 50
    assert all(tier.get(f"album{i}", "detail", scope="album") for i in range(5))


def test_a_scope_alone_may_use_the_whole_budget_then_yields_half():
    tier = MemoryTier(max_bytes=100, ttl_seconds=0)
    for i in range(10):
        tier.put(f"g{i}", "thumbnails", b"g" * 10, scope="grid")
    assert tier.stats()["scopes"]["grid"]["bytes"] == 100
    for i in range(10):
        tier.put(f"p{i}", "detail", b"p" * 10, scope="photos")
    assert tier.stats()["scopes"] == {"grid": {"bytes": 50, "items": 5}, "photos": {"bytes": 50, "items": 5}}
    # the grid kept its most recent half
    assert tier.get("g9", "thumbnails", scope="grid") and tier.get("g4", "thumbnails", scope="grid") is None


def test_clear_scope_and_clear():
    tier = MemoryTier(max_bytes=100, ttl_seconds=0)
    tier.put("a", "detail", b"1" * 10, scope="album")
    tier.put("b", "detail", b"2" * 10, scope="grid")
    assert tier.clear_scope("album") == 10
    assert tier.get("a", "detail", scope="album") is None
    assert tier.stats()["used_bytes"] == 10
    tier.clear()
    assert tier.stats() == {"used_bytes": 0, "max_bytes": 100, "items": 0, "ttl_hours": 0.0, "scopes": {}}


def test_concurrent_puts_keep_the_budget():
    tier = MemoryTier(max_bytes=1000, ttl_seconds=0)

    def worker(n):
        for i in range(300):
            tier.put(f"{n}-{i}", "thumbnails", b"x" * (i % 37 + 1), scope=f"s{n % 3}")
            tier.get(f"{n}-{i - 1}", "thumbnails", scope=f"s{n % 3}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = tier.stats()
    assert stats["used_bytes"] <= 1000
    assert stats["used_bytes"] == sum(s["bytes"] for s in stats["scopes"].values())


def test_negative_budget_refused():
    with pytest.raises(ValueError):
        MemoryTier(max_bytes=-1, ttl_seconds=0)
