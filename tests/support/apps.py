"""Real apps for tests (real SQLite, real cache folders on a temporary DATA_DIR), shut down afterwards.

A pytest plugin (tests/conftest.py registers it): the fixtures ``make_app``,
``app``, ``client`` and ``owner_client`` serve every folder; a folder
overrides one when its tests need other settings.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cache_engine.index import Entry
from tests.support.images import jpeg
from tests.support.origin import Origin
from tests.support.owner import log_in, set_owner_password
from vinylvault import create_app, lifecycle
from vinylvault.covers import extension

#: Settings every app of the tests starts from; a test overrides what it exercises.
BASE_SETTINGS: dict[str, Any] = {
    "TESTING": True,
    "ALLOW_PRIVATE_SOURCES": True,
    "HOST_MIN_INTERVAL_SECONDS": 0,
    "NEGATIVE_CACHE_MIN_SECONDS": 60,
    "FETCH_RETRIES": 0,
    "ON_DEMAND_WAIT_SECONDS": 10,
    "DEMO_WHEN_EMPTY": False,
    "SYNC_INTERVAL_HOURS": 0,
}


@contextlib.contextmanager
def app_factory(data_dir: Path, base_settings: Mapping[str, Any]) -> Iterator[Callable[..., Flask]]:
    """``factory(**overrides)`` builds an app on ``data_dir`` from ``base_settings``; every app
    built is shut down on exit (job runner stopped, caches flushed and closed)."""
    built: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**base_settings, "DATA_DIR": data_dir, **overrides})
        built.append(app)
        return app

    try:
        yield factory
    finally:
        for app in built:
            lifecycle.shutdown(app)


def cached_cover(app: Flask, origin: Origin, path: str = "/cover.jpg", **size: int) -> Entry:
    """Serve a JPEG at ``path`` on the origin and cache it; its thumbnail entry."""
    url = origin.add_file(path, jpeg(**size))
    with app.app_context():
        cache = extension.get_cache()
        assert cache.get_image(url, "thumbnails", wait=30)
        return cache.lookup(url, "thumbnails")


def cache_path(app: Flask, url: str, size_type: str = "thumbnails") -> str:
    """The path the app serves the rendition of ``url`` at, cached or not."""
    with app.app_context():
        return f"/cache/{size_type}/{extension.get_cache().key_for(url)}.webp"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_app(**overrides)`` -> a fresh app on ``tmp_path/data`` (no owner yet), shut down after the test.

    Each app owns its cover cache; the newest is also the process-wide
    ``image_cache.get_image_cache()``.
    """
    with app_factory(tmp_path / "data", BASE_SETTINGS) as factory:
        yield factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def owner_client(app: Flask, client: FlaskClient) -> FlaskClient:
    """A client logged in as the owner; its CSRF token is ``session_csrf(client)``."""
    set_owner_password(app)
    log_in(client)
    return client
