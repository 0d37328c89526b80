"""Connects the image caches to the app and stops their threads on exit.

The cover cache (covers from Discogs, local files and the demo) lives on
``app.extensions["image_cache"]``; request code reaches it with
:func:`get_cache`. It is also the process-wide instance that
:func:`image_cache.get_image_cache` returns, so code written against the seed's
module-level API sees the same cache as the app.

Shutdown flushes the batched hit counts: :func:`shutdown` runs at interpreter
exit, and gunicorn's ``worker_exit`` hook should call it too (a worker killed
by a signal does not always reach ``atexit``).
"""

from __future__ import annotations

import atexit
import functools

from flask import Flask, current_app

import image_cache
from image_cache import ImageCache

from vinylvault import db
from vinylvault.covers import tags
from vinylvault.photos import store as photos_store
from vinylvault.library.demo import DEMO_COVERS

COVERS = "image_cache"
#: The preload/sync job runner (vinylvault.covers.cache_api) works on the cache: it stops first.
JOBS = "image_jobs"
#: The owner photos' derivatives (vinylvault.photos.store): their own ImageCache in
#: PHOTOS_DIR/derived, never under COVERS_DIR, which nginx serves without access checks.
PHOTOS = "photo_cache"
#: The PhotoStore over it (created by vinylvault.photos.views); flushes view counts at shutdown.
PHOTO_STORE = "photo_store"
#: The scrobble tick (vinylvault.listening.scrobble): it writes to the collection database, so it stops first.
SCROBBLES = "scrobble_ticker"
EXIT_HOOK = "vv_exit_hook"


class CacheUnavailable(RuntimeError):
    """The cover cache could not be created (unwritable folder, bad settings)."""


def init_app(app: Flask) -> None:
    """Create the cover cache for ``app`` and register the Jinja helpers."""
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
    # so code written against the seed's get_image_cache() sees the same one.
    # An earlier app's cache (tests create several) stays open for that app.
    image_cache.install_image_cache(cache)
    app.extensions[COVERS] = cache
    app.extensions[PHOTOS] = photos_store.open_photo_cache(settings, memory=cache.memory)
    # At exit, the whole ordered shutdown: the job runner must stop before the caches close.
    app.extensions[EXIT_HOOK] = hook = functools.partial(shutdown, app)
    atexit.register(hook)
    tags.init_app(app)


def get_cache() -> ImageCache:
    """The current app's cover cache."""
    return current_app.extensions[COVERS]


def shutdown(app: Flask) -> None:
    """Flush and close ``app``'s caches, then its collection database; safe to call more than once."""
    hook = app.extensions.pop(EXIT_HOOK, None)
    if hook is not None:
        atexit.unregister(hook)
    ticker = app.extensions.pop(SCROBBLES, None)
    if ticker is not None:
        ticker.stop()
    jobs = app.extensions.pop(JOBS, None)  # api_cache's job runner uses the cache: stop it first
    if jobs is not None:
        jobs.stop()
    store = app.extensions.pop(PHOTO_STORE, None)
    if store is not None:
        store.close()
    photo_cache = app.extensions.pop(PHOTOS, None)
    if photo_cache is not None:
        photo_cache.close()
    cache = app.extensions.pop(COVERS, None)
    if cache is not None:
        if image_cache.get_image_cache() is cache:
            image_cache.install_image_cache(None)
        cache.close()
    db.close_anchor(app)
