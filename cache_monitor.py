#!/usr/bin/env python3
"""Admin CLI for the cover cache (seed 004's ``cache_monitor.py``).

::

    python cache_monitor.py --action status   [--json]
    python cache_monitor.py --action health   [--json]     # exit 0 healthy, 1 degraded, 2 unhealthy
    python cache_monitor.py --action cleanup  --cleanup-days 30 [--json]   (also repairs drift and
                                                          restores the free-space reserve)
    python cache_monitor.py --action report   [--html report.html] [--json]
    python cache_monitor.py --action monitor  --monitor-interval 5    # Ctrl-C to leave

It works on the same files as a running server (``--cache-dir`` and
``--database`` default to ``COVERS_DIR`` and ``CACHE_DATABASE_PATH`` from
``config.load()``): it opens the cache index the way every worker does (WAL,
``BEGIN IMMEDIATE`` writes) and starts no background fetcher, so it can
neither corrupt the cache nor download anything.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import config
from cache_engine.health import cache_health, exit_code
from cache_engine.units import byte_unit, human_bytes, human_when, plural
from image_cache import SAMPLE_INTERVAL_SECONDS, ImageCache
from vinylvault.site.charts import line_chart

ACTIONS = ("status", "health", "cleanup", "report", "monitor")
BAR_WIDTH = 30
CHART_SIZE = {"width": 640, "height": 180}
#: The report is one file: the chart classes of vinylvault.site.charts get their colours here.
CHART_CSS = (
    ".chart-line{stroke:#2a7ab0;stroke-width:2}.chart-bar{fill:#2a7ab0}"
    ".chart-axis{stroke:#888}.chart-grid{stroke:#ddd}.chart-text{fill:#222;font-size:12px}"
    ".chart-value{fill:#555}.chart-empty{color:#555;font-style:italic}"
)
_EVERY = f"every {SAMPLE_INTERVAL_SECONDS / 60:g} minutes while the site runs"
SIZE_NOT_YET = f"Not enough data yet: the cache's size is recorded {_EVERY}; the chart starts at the second sample."
HIT_RATE_NOT_YET = (
    f"Not enough data yet: the hit rate is worked out between samples (taken {_EVERY}) in which "
    "covers were asked for; the chart starts once there are two such intervals."
)


class MonitorError(Exception):
    """A problem the CLI reports as one line (exit 2), e.g. a missing cache folder."""


# --- formatting --------------------------------------------------------------


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[#######.......]`` filled to ``fraction`` (clamped to 0..1)."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return dt.datetime.fromtimestamp(float(timestamp)).strftime("%Y-%m-%d %H:%M")


def format_status(stats: dict[str, Any]) -> str:
    """The human-readable status summary."""
    used, limit = stats["total_size_bytes"], stats["cache_limit_bytes"]
    by_type = stats.get("entries_by_size_type") or {}
    ms = stats.get("mean_processing_ms")
    lines = [
        "VinylVault image cache",
        f"  entries      {stats['total_entries']} ("
        + ", ".join(f"{name} {count}" for name, count in sorted(by_type.items()))
        + ")"
        if by_type
        else f"  entries      {stats['total_entries']}",
        f"  size         {human_bytes(used)} of {human_bytes(limit)} {bar(used / limit if limit else 0)}"
        f" {100 * used / limit if limit else 0:.1f}%",
        f"  hit rate     {stats['hit_rate']:.1f}% ({stats['hits']} hits, {stats['misses']} misses)",
        f"  downloads    {stats['downloads']}, failures {stats['failures']}, "
        f"negative entries {stats['negative_entries']}",
        f"  evictions    {stats['evictions']}",
        f"  processing   {'n/a' if ms is None else f'{ms:.1f} ms mean'}",
        f"  disk free    {human_bytes(stats['available_space_bytes'])}",
        f"  last cleanup {human_when(stats.get('last_cleanup'))}",
    ]
    return "\n".join(lines)


def format_health(report: dict[str, Any]) -> str:
    lines = [f"Cache health: {report['status'].upper()}"]
    lines += [f"  {c['status']:<10} {c['name']:<9} {c['detail']}" for c in report["checks"]]
    return "\n".join(lines)


# --- the report's charts -----------------------------------------------------


def hit_rate_series(samples: list[dict[str, float]]) -> list[tuple[float, float]]:
    """Hit rate (percent) between consecutive samples: counters are cumulative."""
    series = []
    for previous, current in zip(samples, samples[1:]):
        hits = current["hits"] - previous["hits"]
        lookups = hits + current["misses"] - previous["misses"]
        if lookups > 0 and hits >= 0:  # counters reset by a clear give negative deltas
            series.append((current["ts"], 100.0 * hits / lookups))
    return series


def report_html(stats: dict[str, Any], health: dict[str, Any], samples: list[dict[str, float]]) -> str:
    """A self-contained HTML page: the status, the health checks, size and hit-rate charts."""
    # At least KiB: a nearly empty cache reads "0.5 KiB", not fractions of a byte.
    unit, per_unit = byte_unit(max([1024, *(s["bytes"] for s in samples)]))
    size_chart = line_chart(
        [(_when(s["ts"]), s["bytes"] / per_unit) for s in samples],
        chart_id="size",
        title="Cache size over time",
        unit=unit,
        empty=SIZE_NOT_YET,
        **CHART_SIZE,
    )
    rate_chart = line_chart(
        [(_when(ts), rate) for ts, rate in hit_rate_series(samples)],
        chart_id="hit-rate",
        title="Hit rate over time",
        unit="%",
        axis_max=100,
        empty=HIT_RATE_NOT_YET,
        **CHART_SIZE,
    )
    generated = html.escape(_when(time.time()))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>VinylVault cache report</title>"
        "<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
        "pre{background:#f4f4f4;padding:1rem;overflow:auto}" + CHART_CSS + "</style></head><body>"
        f"<h1>VinylVault cache report</h1><p>Generated {generated}.</p>"
        f"<h2>Status</h2><pre>{html.escape(format_status(stats))}</pre>"
        f"<h2>Health</h2><pre>{html.escape(format_health(health))}</pre>"
        f"<h2>Size</h2>{size_chart}<h2>Hit rate</h2>{rate_chart}"
        f"<p>{plural(len(samples), 'sample')} recorded.</p></body></html>"
    )


# --- actions -----------------------------------------------------------------


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def action_status(cache: ImageCache, settings: config.Settings, args: argparse.Namespace) -> int:
    stats = cache.get_cache_stats()
    _emit(args, stats, format_status(stats))
    return 0


def action_health(cache: ImageCache, settings: config.Settings, args: argparse.Namespace) -> int:
    report = cache_health(cache, settings)
    _emit(args, report, format_health(report))
    return exit_code(report["status"])


def action_cleanup(cache: ImageCache, settings: config.Settings, args: argparse.Namespace) -> int:
    # The index calls (what ImageCache.cleanup_cache wraps) name the entries, so the freed bytes are exact.
    # A disk below the free-space reserve comes first: removing files needs no space, and what
    # they free is what the index's journal needs for the steps after.
    for_space = cache.index.restore_reserve(partial=True)
    removed = cache.index.cleanup_older_than(args.cleanup_days * 86400)
    freed = sum(entry.bytes for entry in (*for_space, *removed))
    # Then the drift a killed process can leave (files without rows, rows without files, old temp files).
    repaired = cache.reconcile()
    result = {
        "removed_entries": len(removed) + len(for_space),
        "removed_for_free_space": len(for_space),
        "freed_bytes": freed,
        "older_than_days": args.cleanup_days,
        "repaired": repaired,
    }
    space = (
        f" and {len(for_space)} least recently used to keep {settings.MIN_FREE_DISK_MB:g} MB free on the disk"
        if for_space
        else ""
    )
    _emit(
        args,
        result,
        f"Removed {len(removed)} entries not used for {args.cleanup_days:g} days{space} "
        f"({human_bytes(freed)} freed). Repaired drift: {repaired['files_removed']} stray "
        f"files, {repaired['rows_removed']} rows without files, "
        f"{repaired['temp_files_removed']} leftover temp files removed.",
    )
    return 0


def action_report(cache: ImageCache, settings: config.Settings, args: argparse.Namespace) -> int:
    stats, health, samples = cache.get_cache_stats(), cache_health(cache, settings), cache.index.samples()
    if args.html:
        Path(args.html).write_text(report_html(stats, health, samples), encoding="utf-8")
    text = f"{format_status(stats)}\n\n{format_health(health)}\n\n{plural(len(samples), 'sample')} recorded."
    if args.html:
        text += f"\nHTML report written to {args.html}"
    _emit(args, {"stats": stats, "health": health, "samples": samples}, text)
    return 0


def action_monitor(
    cache: ImageCache, settings: config.Settings, args: argparse.Namespace, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Redraw the status every ``--monitor-interval`` seconds until Ctrl-C."""
    try:
        while True:
            stats = cache.get_cache_stats()
            if not args.json:
                sys.stdout.write("\x1b[2J\x1b[H")  # clear the screen, cursor home
            _emit(
                args,
                stats,
                f"{format_status(stats)}\n\n{_when(time.time())} - "
                f"refreshing every {args.monitor_interval:g}s, Ctrl-C to quit",
            )
            sys.stdout.flush()
            sleep(args.monitor_interval)
    except KeyboardInterrupt:
        print()
        return 0


_ACTIONS = {
    "status": action_status,
    "health": action_health,
    "cleanup": action_cleanup,
    "report": action_report,
    "monitor": action_monitor,
}


# --- entry point -------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cache_monitor.py", description="Inspect and maintain the cover cache.")
    parser.add_argument("--action", choices=ACTIONS, default="status")
    parser.add_argument(
        "--cleanup-days",
        type=_positive,
        default=30.0,
        help="cleanup: remove entries not used for this many days (default 30)",
    )
    parser.add_argument(
        "--monitor-interval", type=_positive, default=5.0, help="monitor: seconds between refreshes (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--cache-dir", type=Path, help="cover cache folder (default COVERS_DIR)")
    parser.add_argument("--database", type=Path, help="cache index (default CACHE_DATABASE_PATH)")
    parser.add_argument("--html", type=Path, metavar="FILE", help="report: also write an HTML page here")
    return parser.parse_args(argv)


@contextlib.contextmanager
def open_cache(cache_dir: Path, database: Path, settings: config.Settings) -> Iterator[ImageCache]:
    """The existing cache at ``cache_dir``; closed (and flushed) on exit.

    ``ImageCache`` starts download workers only when something is queued, and
    the CLI queues nothing: it never fetches.
    """
    if not cache_dir.is_dir():
        raise MonitorError(f"cache folder {cache_dir} does not exist")
    if not database.is_file():
        raise MonitorError(f"cache index {database} does not exist")
    cache = ImageCache(cache_dir, database, settings)
    try:
        yield cache
    finally:
        cache.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = config.load()
        with open_cache(
            args.cache_dir or settings.COVERS_DIR, args.database or settings.CACHE_DATABASE_PATH, settings
        ) as cache:
            return _ACTIONS[args.action](cache, settings, args)
    except (MonitorError, config.ConfigError, OSError, sqlite3.Error) as exc:
        print(f"cache_monitor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
