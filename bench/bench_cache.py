"""Cache look-ups and the memory tier, as ratios to baselines measured in the same run.

Run alone with ``.venv/bin/python bench/bench_cache.py`` (or via run_all.py).
Writes "## Cache look-ups and memory tier" in BENCHMARKS.md.

- warm look-up: ``ImageCache.get_image`` on a hit (index query, file check,
  batched hit record) against a bare ``os.stat`` of the same file and a dict
  look-up;
- cold thumbnail: source bytes in hand to thumbnail stored (conversion, temp
  file, fsync, rename, index row: the entry's ``process_ms``) against the
  conversion alone (``next(convert(...))``);
- both sizes: ``store_source_bytes`` against ``list(convert(...))``;
- reading an entry's bytes with the memory tier off (a file read) and on.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_convert import make_source
from report import table, write_section

import config
from cache_engine.convert import SIZE_TYPES, ConvertOptions, convert
from image_cache import ImageCache

TARGET_LOOKUP_MS = 0.2
COLD_RUNS = 15


def per_call_us(function: Callable[[], object], calls: int = 20000, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean µs per call of ``calls`` calls."""
    function()
    results = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        results.append((time.perf_counter() - started) * 1e6 / calls)
    return statistics.median(results)


def make_cache(folder: Path, **overrides: object) -> ImageCache:
    settings = config.load(environ={}, DATA_DIR=folder, ACCESS_FLUSH_INTERVAL_SECONDS=3600.0, **overrides)
    return ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings)


def fill(cache: ImageCache, source: bytes, count: int) -> list[str]:
    """``count`` distinct entries (one conversion each) so look-ups hit a realistic index."""
    urls = [f"local:bench/{n}.jpg" for n in range(count)]
    for url in urls:
        cache.store_source_bytes(url, source)
    return urls


def bench_lookups(cache: ImageCache, url: str) -> list[list[object]]:
    path = cache.get_image(url, "thumbnails")
    paths = {url: path}
    lookup = per_call_us(lambda: cache.get_image(url, "thumbnails"))
    stat = per_call_us(lambda: os.stat(path))
    dict_get = per_call_us(lambda: paths.get(url))
    cache.flush()
    verdict = "yes" if lookup / 1000 < TARGET_LOOKUP_MS else "NO"
    return [
        [
            "warm get_image (hit)",
            f"{lookup:.1f} µs",
            f"{lookup / stat:.1f}x os.stat, {lookup / dict_get:.0f}x dict",
            f"< {TARGET_LOOKUP_MS} ms: {verdict}",
        ],
        ["baseline os.stat", f"{stat:.2f} µs", "1.0x", ""],
        ["baseline dict look-up", f"{dict_get:.3f} µs", "", ""],
    ]


def median_wall_ms(function: Callable[[], object], runs: int) -> float:
    """Median wall-clock milliseconds of ``function`` after one warm-up call."""
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_cold(cache: ImageCache, source: bytes) -> list[list[object]]:
    """Wall time from source bytes to the thumbnail committed (file fsynced, row in the index),
    and to both sizes stored, against conversion alone in the same run."""
    options = ConvertOptions.from_settings(cache.settings)
    convert_thumb = median_wall_ms(lambda: next(convert(source, options)), COLD_RUNS)
    convert_both = median_wall_ms(lambda: list(convert(source, options)), COLD_RUNS)
    thumb_ready, both_stored = [], []
    for n in range(COLD_RUNS):
        url = f"local:cold/{n}.jpg"
        started = time.time()
        cache.store_source_bytes(url, source)
        both_stored.append((time.time() - started) * 1000)
        # The row's creation time is taken inside the transaction that commits it.
        thumb_ready.append((cache.lookup(url, "thumbnails").created - started) * 1000)
    thumb, both = statistics.median(thumb_ready), statistics.median(both_stored)
    return [
        [
            "cold thumbnail committed (600 px source)",
            f"{thumb:.1f} ms",
            f"{thumb / convert_thumb:.2f}x conversion",
            f"< 10 ms: {'yes' if thumb < 10 else 'NO'}",
        ],
        ["baseline: thumbnail conversion alone", f"{convert_thumb:.1f} ms", "1.00x", ""],
        ["cold both sizes stored", f"{both:.1f} ms", f"{both / convert_both:.2f}x conversion", ""],
        ["baseline: both conversions alone", f"{convert_both:.1f} ms", "1.00x", ""],
    ]


def bench_memory_tier(off: ImageCache, on: ImageCache, url: str) -> list[list[object]]:
    rows = []
    for size_type in SIZE_TYPES:
        entry_off, entry_on = off.lookup(url, size_type), on.lookup(url, size_type)
        from_file = per_call_us(lambda e=entry_off: off.read_bytes(e), calls=5000)
        from_memory = per_call_us(lambda e=entry_on: on.read_bytes(e, scope="grid"), calls=5000)
        rows.append(
            [
                f"read {size_type} ({entry_off.bytes // 1024} KiB)",
                f"{from_file:.1f} µs",
                f"{from_memory:.2f} µs",
                f"{from_file / from_memory:.0f}x",
            ]
        )
    return rows


def main() -> None:
    source = make_source((600, 600)).read_bytes()
    with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as on_dir:
        off = make_cache(Path(off_dir), MEMORY_CACHE_ENABLED=False)
        on = make_cache(Path(on_dir), MEMORY_CACHE_ENABLED=True)
        try:
            urls = fill(off, source, 200)
            fill(on, source, 1)
            lookups = bench_lookups(off, urls[100])
            cold = bench_cold(off, source)
            tier = bench_memory_tier(off, on, urls[0])
        finally:
            off.close()
            on.close()
    body = "\n\n".join(
        [
            "Warm look-ups on an index of 200 sources (400 entries):",
            table(["operation", "time", "ratio to baseline", "target"], lookups),
            "Cold path, wall time (local source bytes already in memory; includes fsync and the index transaction):",
            table(["operation", "median", "ratio to baseline", "target"], cold),
            "Reading an entry's bytes, memory tier off (file read, page cache warm) vs on:",
            table(["read", "tier off", "tier on", "off / on"], tier),
            MEMORY_TIER_FINDING,
        ]
    )
    write_section("Cache look-ups and memory tier", body)
    print(body)


MEMORY_TIER_FINDING = (
    "**Memory tier: off by default.** The tier makes a read many times faster than a file read, but a "
    "file read of a cached cover costs microseconds while a request through Flask costs about 480 µs of "
    "CPU (PERFORMANCE_NOTES.md) and nginx serves hits without Python at all: the tier would save a few "
    "percent of a request that production never makes. It would also hold up to "
    "`MEMORY_CACHE_SIZE_MB` per worker process on a Pi with little RAM, duplicating the kernel's page "
    "cache, which already keeps hot files in memory for every process at once. "
    "`MEMORY_CACHE_ENABLED=true` turns it on (with per-page scopes and a TTL)."
)


if __name__ == "__main__":
    main()
