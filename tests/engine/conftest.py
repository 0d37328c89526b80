"""Fixtures for the cache engine tests: caches on temporary folders (the origin comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import config
from image_cache import ImageCache
from tests.support.caches import CACHE_SETTINGS


@pytest.fixture
def make_cache(tmp_path: Path) -> Iterator[Callable[..., ImageCache]]:
    """``make_cache(**settings)``: an ImageCache on tmp_path/cache (same folder each call), closed afterwards."""
    caches: list[ImageCache] = []

    def factory(
        local_root: Path | None = None, local_folders: tuple[str, ...] = (".",), **overrides: object
    ) -> ImageCache:
        settings = config.load(environ={}, DATA_DIR=tmp_path, **{**CACHE_SETTINGS, **overrides})
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
