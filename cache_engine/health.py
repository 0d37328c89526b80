"""Health of the image cache, shared by ``GET /api/cache/health`` and ``cache_monitor.py``.

One function, :func:`check_health`, runs every check and folds them into an
overall status, so the web API and the CLI can never disagree:

- ``index``: the index answers (else unhealthy: nothing can be served).
- ``drift``: the files on disk match the index rows (count and bytes). A
  killed process can leave drift; ``ImageCache.reconcile()`` repairs it, so it
  is degraded, not unhealthy.
- ``disk``: free space above ``HEALTH_MIN_FREE_MB`` (degraded below it,
  unhealthy below a tenth of it) and above the reserve the caches keep,
  ``MIN_FREE_DISK_MB`` (degraded below it: old covers are being removed to
  make room, and new ones are not saved once nothing is left to remove).
- ``errors``: the share of failed fetches among recent fetches stays under
  ``HEALTH_MAX_ERROR_RATE`` (checked only after enough fetches to mean something).
- ``writable``: the cache folders and the index folder can be written
  (else unhealthy: nothing new can be cached).

A fresh, empty cache passes every check. No check writes anything.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import config

from .convert import SIZE_TYPES
from .units import human_bytes

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}
#: Fewer fetches than this say nothing about an error rate.
MIN_FETCHES_FOR_ERROR_RATE = 20


@dataclass(frozen=True)
class Check:
    """One check's verdict: ``status`` is healthy, degraded or unhealthy."""

    name: str
    status: str
    detail: str


def overall(checks: list[Check]) -> str:
    """The worst status among ``checks`` (healthy if there are none)."""
    return max((c.status for c in checks), key=_RANK.__getitem__, default=HEALTHY)


def exit_code(status: str) -> int:
    """The CLI's exit code for a status: 0 healthy, 1 degraded, 2 unhealthy."""
    return _RANK[status]


def _disk_files(covers_dir: Path) -> tuple[int, int]:
    """(count, bytes) of the cached image files, placeholders and temp files excluded."""
    count = size = 0
    for folder in SIZE_TYPES:
        root = covers_dir / folder
        if not root.is_dir():
            continue
        for shard in os.scandir(root):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(shard.path):
                if entry.name.endswith(".webp") and entry.is_file(follow_symlinks=False):
                    count += 1
                    size += entry.stat(follow_symlinks=False).st_size
    return count, size


def _indexed(stats: Mapping[str, Any]) -> tuple[int, int]:
    return int(stats.get("total_entries", 0)), int(stats.get("total_size_bytes", 0))


def check_drift(covers_dir: Path, read_stats: Callable[[], Mapping[str, Any]]) -> Check:
    """Compare the index's entry count and bytes with the files on disk.

    The index is read before and after the walk: if it changed meanwhile, the
    cache is busy writing and a mismatch would be our own race, not drift.
    """
    before = _indexed(read_stats())
    on_disk = _disk_files(covers_dir)
    after = _indexed(read_stats())
    if before != after:
        return Check("drift", HEALTHY, "the cache changed during the check; not compared")
    if on_disk == after:
        return Check("drift", HEALTHY, f"{after[0]} entries, index and disk agree")
    return Check(
        "drift",
        DEGRADED,
        f"index has {after[0]} entries ({after[1]} bytes), disk has {on_disk[0]} files "
        f"({on_disk[1]} bytes); run cache_monitor.py --action cleanup",
    )


def check_disk(path: Path, min_free_mb: float, reserve_mb: float = 0.0) -> Check:
    """Free space where the cache lives, against the warning level and the caches' reserve."""
    free = shutil.disk_usage(path).free
    free_mb = free / 1024**2
    detail = f"{human_bytes(free)} free (minimum {human_bytes(min_free_mb * 1024**2)})"
    if free_mb < reserve_mb:
        detail = (
            f"The disk is nearly full: {human_bytes(free)} free, less than the "
            f"{human_bytes(reserve_mb * 1024**2)} always kept free. Old covers are removed to make room, "
            "and new covers and photos are not saved once nothing is left to remove. "
            "Free some space on the disk or clear the cover cache."
        )
    status = (
        UNHEALTHY if free_mb < min_free_mb / 10 else DEGRADED if free_mb < max(min_free_mb, reserve_mb) else HEALTHY
    )
    return Check("disk", status, detail)


def check_error_rate(stats: Mapping[str, Any], max_rate: float) -> Check:
    """Failed fetches against all fetches, as counted by the cache."""
    failures = int(stats.get("failures", 0))
    # "downloads" counts successful downloads only; every failure is counted once.
    fetches = int(stats.get("downloads", 0)) + failures
    if fetches < MIN_FETCHES_FOR_ERROR_RATE:
        return Check("errors", HEALTHY, f"{failures} failed of {fetches} fetches (too few to judge)")
    rate = failures / fetches
    detail = f"{failures} failed of {fetches} fetches ({rate:.0%}, limit {max_rate:.0%})"
    return Check("errors", DEGRADED if rate > max_rate else HEALTHY, detail)


def check_writable(folders: list[Path]) -> Check:
    """Every folder the cache writes into exists and is writable by this process."""
    bad = [str(f) for f in folders if f.exists() and not os.access(f, os.W_OK | os.X_OK)]
    missing = [str(f) for f in folders[:1] if not f.is_dir()]
    if missing or bad:
        return Check("writable", UNHEALTHY, "not writable: " + ", ".join(missing + bad))
    return Check("writable", HEALTHY, f"{len(folders)} folders writable")


def check_health(
    covers_dir: str | os.PathLike[str],
    database_path: str | os.PathLike[str],
    read_stats: Callable[[], Mapping[str, Any]],
    settings: config.Settings,
) -> dict[str, Any]:
    """Run every check; return ``{"status", "checks": [...], "checked_at"}``.

    :param covers_dir: the cover cache folder (``COVERS_DIR``).
    :param database_path: the cache index (``CACHE_DATABASE_PATH``).
    :param read_stats: returns the cache's current stats (``ImageCache.get_cache_stats``).
    """
    covers_dir, database_path = Path(covers_dir), Path(database_path)
    checks = [
        check_writable([covers_dir, *(covers_dir / f for f in SIZE_TYPES), covers_dir / ".tmp", database_path.parent])
    ]
    try:
        stats = read_stats()
    except Exception as exc:  # noqa: BLE001 - any failure to read the index is the finding
        checks.append(Check("index", UNHEALTHY, f"the index cannot be read: {exc}"))
    else:
        checks.append(Check("index", HEALTHY, f"{_indexed(stats)[0]} entries"))
        checks.append(check_drift(covers_dir, read_stats))
        checks.append(check_error_rate(stats, settings.HEALTH_MAX_ERROR_RATE))
    if covers_dir.is_dir():
        checks.append(check_disk(covers_dir, settings.HEALTH_MIN_FREE_MB, settings.MIN_FREE_DISK_MB))
    return {"status": overall(checks), "checks": [asdict(c) for c in checks], "checked_at": time.time()}


def cache_health(cache: Any, settings: config.Settings) -> dict[str, Any]:
    """:func:`check_health` of an :class:`image_cache.ImageCache` (what the API and the CLI call)."""
    return check_health(cache.cache_dir, cache.index.database_path, cache.get_cache_stats, settings)
