"""VinylVault: a self-hosted browser for your record collection.

:func:`create_app` builds the Flask application and reads as its table of
contents: settings from :mod:`config`, then each part's ``init_app`` in the
order :mod:`vinylvault.lifecycle` stops them in reverse (the collection
database, the cover cache from :mod:`image_cache`, the photo cache, the
background threads), then one blueprint per area of the site.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import config
from cache_engine.files import keep_startup_room, release_startup_room, write_synced_temp

if TYPE_CHECKING:
    from flask import Blueprint, Flask

log = logging.getLogger("vinylvault")


def _split_overrides(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate VinylVault settings from plain Flask config keys (TESTING, ...)."""
    names = {name for name, _default, _help in config.describe()}
    ours = {k: v for k, v in overrides.items() if k in names}
    flask_only = {k: v for k, v in overrides.items() if k not in names}
    return ours, flask_only


def _secret_key(settings: config.Settings) -> str:
    """The configured key, else one generated once and kept in DATA_DIR (mode 0600)."""
    if settings.SECRET_KEY:
        return settings.SECRET_KEY
    path = Path(settings.DATA_DIR) / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    # Workers starting together on a fresh DATA_DIR race here: each writes a
    # complete candidate, link() installs exactly one, and all read the winner.
    candidate = write_synced_temp(path.parent, secrets.token_hex(32).encode("ascii"), mode=0o600, prefix=".secret_key.")
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_text(encoding="ascii").strip()


def configure_logging(level: str) -> None:
    """One line per event on stderr; gunicorn and systemd collect it."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``overrides`` maps setting names (as in :mod:`config`) or Flask config keys
    to values; settings given here win over ``VINYL_VAULT_*`` variables.
    """
    # Imported here, not at the top: vinylvault.site.charts is imported by
    # cache_monitor.py, which has no use for Flask.
    from flask import Flask

    from vinylvault.web.converters import AlbumIdConverter, SQLiteIntegerConverter

    ours, flask_only = _split_overrides(overrides or {})
    settings = config.load(**ours)
    configure_logging(settings.LOG_LEVEL)

    app = Flask(__name__)
    app.url_map.converters["int"] = SQLiteIntegerConverter
    app.url_map.converters["album_id"] = AlbumIdConverter
    app.config.update(settings.as_dict())
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = int(settings.MAX_IMAGE_UPLOAD_SIZE_MB * 1024 * 1024 * 4)
    app.config.update(flask_only)
    app.debug = settings.DEBUG and settings.DEV_DEBUGGER

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    release_startup_room(settings.DATA_DIR)  # on a full disk: room for the databases' -wal and -shm
    app.secret_key = _secret_key(settings)

    from vinylvault import cli, db
    from vinylvault.access import auth
    from vinylvault.covers import extension, jobs, routes, tags
    from vinylvault.library import sync
    from vinylvault.listening import scrobble
    from vinylvault.photos import views as photos
    from vinylvault.site import pages, pwa
    from vinylvault.web import errors, inputs, security_headers

    # What each area needs before the first request. Whatever starts a thread or
    # opens a file registers its stop with vinylvault.lifecycle, which stops them
    # in reverse order: what is built on something stops before it.
    db.init_app(app)  # the collection database, migrated; closed last
    extension.init_app(app)  # the cover cache
    photos.init_app(app)  # the photo cache (sharing the cover cache's memory tier) and the PhotoStore
    jobs.init_app(app)  # the preload/sync job runner's thread, fetching through the cover cache
    pages.init_app(app)  # the album page's queue fetching release details from Discogs
    tags.init_app(app)  # the templates' cover helpers; each request's misses queued after it
    errors.init_app(app)  # JSON errors under /api/, error pages elsewhere
    inputs.init_app(app)  # the checks on every request's text; before the blueprints' own
    auth.init_app(app)  # sessions and their cookie, trusted proxies, the templates' auth helpers
    security_headers.init_app(app)  # CSP, nosniff, frame and referrer policies on every response
    routes.init_app(app)  # the <cachekey:...> converter, before the cache routes use it
    pwa.init_app(app)  # the static files' version and the service worker's source

    for blueprint in _blueprints():
        app.register_blueprint(blueprint)

    cli.init_app(app)  # the flask commands
    # Their periodic work starts with a serving process's first request that
    # passes the blueprints' checks (set-up, guest links), which run before it.
    sync.init_app(app)  # the Discogs thread and the periodic sync
    scrobble.init_app(app)  # the scrobble tick, writing to the collection database: stops first
    keep_startup_room(settings.DATA_DIR, settings.min_free_disk_bytes)
    return app


def _blueprints() -> tuple[Blueprint, ...]:
    """One blueprint per area of the site; registering one only adds its routes and hooks."""
    from vinylvault.access import auth, guest_links
    from vinylvault.covers import cache_api, image_api, routes
    from vinylvault.library import api
    from vinylvault.photos import views as photos
    from vinylvault.site import kiosk, pages, pwa

    return (
        auth.bp,  # owner login, sessions, CSRF, API tokens, rate limits
        routes.bp,  # /cache/...: serving cached images
        cache_api.bp,  # /api/cache/...: stats, health, clear, preload jobs
        image_api.bp,  # /api/images/...: image management
        photos.bp,  # /api/albums/<id>/photos, /photos/...: owner photos
        api.bp,  # /api/collection, /api/album/<id>, /health
        pages.bp,  # the HTML site
        kiosk.bp,  # the touchscreen kiosk view, attract screen, guests' QR code
        guest_links.bp,  # /guest/<token>: read-only guest links, GUESTS_NEED_LINK
        pwa.bp,  # /manifest.webmanifest, /sw.js, /offline: the phone app shell
    )
