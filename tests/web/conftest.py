"""Fixtures for the web tests: a real app on a temporary DATA_DIR.

Copy ``make_app`` into other web test folders: it builds the app the way
production does (real SQLite, real cache folders), with the settings tests
need to fetch from the local origin (tests/support/origin.py).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.support.apps import app_factory
from tests.support.origin import origin
from vinylvault import db
from vinylvault.access import auth
from vinylvault.covers import extension

PASSWORD = "correct horse battery"

#: Settings every web test starts from; a test overrides what it exercises.
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


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_app(**overrides)`` -> a fresh app on ``tmp_path/data``, shut down after the test.

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


def set_owner_password(app: Flask, password: str = PASSWORD) -> None:
    with app.app_context():
        auth.set_password(db.get_db(), password)


def page_csrf_token(client: FlaskClient) -> str:
    """The CSRF token as a browser gets it: from the login page's form."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client: FlaskClient, password: str = PASSWORD):
    return client.post("/login", data={"password": password, "csrf_token": page_csrf_token(client)})


@pytest.fixture
def owner_client(app: Flask, client: FlaskClient) -> FlaskClient:
    """A client logged in as the owner; its CSRF token is ``session_csrf(client)``."""
    set_owner_password(app)
    assert log_in(client).status_code == 302
    return client


def session_csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return sess["csrf_token"]


def jpeg(width: int = 320, height: int = 240, colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def cached_cover(app: Flask, origin, path: str = "/cover.jpg", **size: int):
    """Serve a JPEG at ``path`` on the origin and cache it; return its thumbnail entry."""
    url = origin.add_file(path, jpeg(**size))
    with app.app_context():
        cache = extension.get_cache()
        assert cache.get_image(url, "thumbnails", wait=30)
        return cache.lookup(url, "thumbnails")
