"""A real app with something in it, and its three kinds of caller, for the robustness tests.

:func:`fill_site` adds what the routes need to reach their handlers: albums,
the owner's password and an API token; :func:`upload_photo` a photo.
:class:`Caller` is one identity (guest, owner with session and CSRF token, or
Bearer token) that can send any request without being changed by it: a
``/logout`` in the middle of a walk ends the owner's session on the server,
so the owner logs in again before the next request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.albums import COVER_BASE, album, fill
from tests.support.images import image_bytes
from tests.support.owner import bearer, create_token, set_owner_password
from tests.support.photos import upload_one
from vinylvault import db
from vinylvault.access import auth

ALBUM = 1

#: On top of BASE_SETTINGS: limits high enough that a walk never meets 429 instead of the
#: handler, small bodies so "over the cap" is cheap, and a Discogs that refuses at once
#: (nothing listens on port 9).
ROBUST_SETTINGS: dict[str, Any] = {
    "RATE_LIMIT_PER_MINUTE": 1_000_000,
    "LOGIN_ATTEMPTS_PER_MINUTE": 1_000_000,
    "MAX_JSON_BYTES": 4096,
    "MAX_IMAGE_UPLOAD_SIZE_MB": 0.5,
    "DISCOGS_API_URL": "http://127.0.0.1:9",
    "ON_DEMAND_WAIT_SECONDS": 0,
    "JOB_POLL_SECONDS": 0.05,
}


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
            return bearer(self.site.token)
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


def fill_site(app: Flask) -> str:
    """Albums ALBUM and ALBUM + 1 (covers on a closed port), the owner's password; a new API token."""
    set_owner_password(app)
    fill(app, [album(n, cover_url=f"{COVER_BASE}/{n}.jpg") for n in (ALBUM, ALBUM + 1)])
    return create_token(app, "robustness")


def upload_photo(app: Flask, token: str) -> str:
    """A private photo on the first album, uploaded with ``token``; its id."""
    photo = upload_one(app.test_client(), bearer(token), "private", ALBUM, image_bytes(), "copy.jpg")
    return photo["id"]


def ensure_photo(site: Site) -> None:
    """Upload a new photo if a walk deleted the site's one, so photo routes reach their handlers."""
    original = site.app.test_client().get(f"/api/photos/{site.photo_id}/original", headers=bearer(site.token))
    if original.status_code == 404:
        site.photo_id = upload_photo(site.app, site.token)
