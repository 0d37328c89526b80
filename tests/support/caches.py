"""Cover caches of the engine tests: the settings they run with, and what they hold on disk."""

from __future__ import annotations

from image_cache import ImageCache

#: Settings every engine test needs: the origin is on loopback, and pacing would only slow tests down.
CACHE_SETTINGS = {
    "ALLOW_PRIVATE_SOURCES": True,
    "HOST_MIN_INTERVAL_SECONDS": 0.0,
    "FETCH_RETRIES": 0,
    "ACCESS_FLUSH_INTERVAL_SECONDS": 3600.0,
}


def disk_bytes(cache: ImageCache) -> int:
    """Bytes of every stored rendition on disk."""
    return sum(
        p.stat().st_size for size_type in cache.size_types for p in (cache.cache_dir / size_type).rglob("*.webp")
    )
