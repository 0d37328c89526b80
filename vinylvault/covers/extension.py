"""Connects the cover cache to the app, and closes it at the app's shutdown.

The cover cache (covers from Discogs, local files and the demo) lives on
``app.extensions["image_cache"]``; request code reaches it with
:func:`get_cache`. It is also the process-wide instance that
:func:`image_cache.get_image_cache` returns, so code using that module-level
API sees the same cache as the app.

Closing flushes the batched hit counts; :mod:`vinylvault.lifecycle` closes it
after everything built on it (job runner, photo cache) has stopped.
"""

from __future__ import annotations

from flask import Flask, current_app

import image_cache
from image_cache import ImageCache
from vinylvault import lifecycle
from vinylvault.library.demo import DEMO_COVERS

COVERS = "image_cache"


class CacheUnavailable(RuntimeError):
    """The cover cache could not be created (unwritable folder, bad settings)."""


def init_app(app: Flask) -> None:
    """Open the cover cache for ``app`` and have the app's shutdown close it."""
    settings = app.config["SETTINGS"]
    try:
        cache = ImageCache(
            settings.COVERS_DIR,
            settings.CACHE_DATABASE_PATH,
            settings,
            local_root=settings.DATA_DIR,
            local_folders=(DEMO_COVERS,),
            rebuild_corrupt_index=True,
        )
    except (OSError, ValueError) as exc:
        raise CacheUnavailable(f"the cover cache in {settings.COVERS_DIR} could not be opened: {exc}") from exc
    # The app owns and closes its cache; it is also the process-wide instance,
    # so code calling image_cache.get_image_cache() sees the same one.
    # An earlier app's cache (tests create several) stays open for that app.
    image_cache.install_image_cache(cache)
    app.extensions[COVERS] = cache
    lifecycle.on_shutdown(app, "cover cache", lambda: _close(app))


def get_cache() -> ImageCache:
    """The current app's cover cache."""
    return current_app.extensions[COVERS]


def _close(app: Flask) -> None:
    cache = app.extensions.pop(COVERS)
    if image_cache.get_image_cache() is cache:
        image_cache.install_image_cache(None)
    cache.close()
