"""Fixtures for the cache engine tests: a real origin, caches on temporary folders, real images."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Callable, Iterator

import pytest
from PIL import Image

import config
from image_cache import ImageCache
from tests.support.origin import origin

#: Settings every engine test needs: the origin is on loopback, and pacing would only slow tests down.
TEST_SETTINGS = {
    "ALLOW_PRIVATE_SOURCES": True,
    "HOST_MIN_INTERVAL_SECONDS": 0.0,
    "FETCH_RETRIES": 0,
    "ACCESS_FLUSH_INTERVAL_SECONDS": 3600.0,
}


def jpeg_bytes(width: int, height: int, seed: int = 0, noise: bool = False) -> bytes:
    """A real JPEG; ``noise`` makes it hard to compress (big WebP files for budget tests)."""
    rng = random.Random(seed)
    if noise:
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def make_cache(tmp_path: Path) -> Iterator[Callable[..., ImageCache]]:
    """``make_cache(**settings)``: an ImageCache on tmp_path/cache (same folder each call), closed afterwards."""
    caches: list[ImageCache] = []

    def factory(
        local_root: Path | None = None, local_folders: tuple[str, ...] = (".",), **overrides: object
    ) -> ImageCache:
        settings = config.load(environ={}, DATA_DIR=tmp_path, **{**TEST_SETTINGS, **overrides})
        cache = ImageCache(
            settings.COVERS_DIR,
            settings.CACHE_DATABASE_PATH,
            settings,
            local_root=local_root,
            local_folders=local_folders,
        )
        caches.append(cache)
        return cache

    yield factory
    for cache in caches:
        cache.close()


def disk_bytes(cache: ImageCache) -> int:
    """Bytes of every stored rendition on disk."""
    return sum(
        p.stat().st_size for size_type in cache.size_types for p in (cache.cache_dir / size_type).rglob("*.webp")
    )
