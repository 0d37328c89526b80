"""Fixtures for the robustness tests: a real app with something in it, and its three kinds of caller.

The app comes from tests/web/conftest.py's ``make_app`` (real SQLite, real
cache folders on a temporary DATA_DIR). :func:`site` adds what the routes need
to reach their handlers: albums, an uploaded photo, the owner's password and an
API token. :class:`Caller` is one identity (guest, owner with session and CSRF
token, or Bearer token) that can send any request without being changed by it:
a ``/logout`` in the middle of a walk ends the owner's session on the server,
so the owner logs in again before the next request.
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from tests.web.conftest import PASSWORD, make_app, origin
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord

ALBUM = 1

#: On top of tests/web's BASE_SETTINGS: limits high enough that a walk never
#: meets 429 instead of the handler, small bodies so "over the cap" is cheap,
#: and a Discogs that refuses at once (nothing listens on port 9).
ROBUST_SETTINGS: dict[str, Any] = {
    "RATE_LIMIT_PER_MINUTE": 1_000_000,
    "LOGIN_ATTEMPTS_PER_MINUTE": 1_000_000,
    "MAX_JSON_BYTES": 4096,
    "MAX_IMAGE_UPLOAD_SIZE_MB": 0.5,
    "DISCOGS_API_URL": "http://127.0.0.1:9",
    "ON_DEMAND_WAIT_SECONDS": 0,
    "JOB_POLL_SECONDS": 0.05,
}


def jpeg(width: int = 64, height: int = 48, colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class Site:
    """A populated app, its owner's session and token, and its photo (replaced if a walk deletes it)."""

    app: Flask
    token: str
    photo_id: str
    owner_cookie: str
    csrf: str


@dataclass
class Caller:
    """One identity sending requests through a fresh test client each time."""

    name: str
    site: Site

    def headers(self) -> dict[str, str]:
        if self.name == "bearer":
            return {"Authorization": f"Bearer {self.site.token}"}
        if self.name == "owner":
            return {auth.CSRF_HEADER: self.site.csrf}
        return {}

    def client(self) -> FlaskClient:
        client = self.site.app.test_client()
        if self.name == "owner":
            client.set_cookie("session", self.site.owner_cookie)
        return client

    def open(self, path: str, method: str = "GET", **kwargs: Any) -> TestResponse:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.client().open(path, method=method, headers=headers, **kwargs)


def owner_session(app: Flask) -> tuple[str, str]:
    """A fresh owner session, as a login makes it: (its cookie, its CSRF token).

    Made directly rather than through the form: the walk logs the owner out
    dozens of times, and each password check costs a deliberate fraction of a second.
    """
    with app.app_context():
        session_id = auth.start_session(db.get_db(), app.permanent_session_lifetime.total_seconds())
    csrf = secrets.token_urlsafe(32)
    cookie = app.session_interface.get_signing_serializer(app).dumps(
        {"_permanent": True, auth.SESSION_ID_FIELD: session_id, auth.CSRF_FIELD: csrf}
    )
    return cookie, csrf


def fill_site(app: Flask) -> tuple[str, str]:
    """Two albums, the owner's password and an API token; returns (token, album id as text)."""
    with app.app_context():
        conn = db.get_db()
        auth.set_password(conn, PASSWORD)
        for album_id in (ALBUM, ALBUM + 1):
            collection.save_album(
                conn,
                AlbumRecord(
                    id=album_id,
                    source="csv",
                    artist="Band",
                    title=f"Record {album_id}",
                    cover_url=f"http://127.0.0.1:9/covers/{album_id}.jpg",
                    artists=[(None, "Band")],
                ),
            )
        return auth.create_api_token(conn, "robustness"), str(ALBUM)


def upload_photo(app: Flask, token: str) -> str:
    """A private photo on the first album, uploaded with ``token``; its id."""
    response = app.test_client().post(
        f"/api/albums/{ALBUM}/photos",
        headers={"Authorization": f"Bearer {token}"},
        data={"photos": [(io.BytesIO(jpeg()), "copy.jpg")], "visibility": "private"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["photos"][0]["id"]


def ensure_photo(site: Site) -> None:
    """Upload a new photo if a walk deleted the site's one, so photo routes reach their handlers."""
    original = site.app.test_client().get(
        f"/api/photos/{site.photo_id}/original", headers={"Authorization": f"Bearer {site.token}"}
    )
    if original.status_code == 404:
        site.photo_id = upload_photo(site.app, site.token)


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Site:
    app = make_app(**ROBUST_SETTINGS)
    token, _album = fill_site(app)
    cookie, csrf = owner_session(app)
    return Site(app=app, token=token, photo_id=upload_photo(app, token), owner_cookie=cookie, csrf=csrf)


@pytest.fixture
def callers(site: Site) -> dict[str, Caller]:
    return {name: Caller(name, site) for name in ("guest", "owner", "bearer")}


@pytest.fixture
def request_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """Records logged by the test's own thread since the last call (background threads excluded)."""
    caplog.set_level(logging.INFO)
    me = threading.get_ident()

    def take() -> list[logging.LogRecord]:
        records = [record for record in caplog.records if record.thread == me]
        caplog.clear()
        return records

    return take
