"""Fixtures for the photo tests: a real app (real SQLite, real folders) with two albums.

The app fixtures come from tests/web/conftest.py; here the albums, an API
token, and helpers to make images, upload them and look at what was stored.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.web.conftest import (
    app,
    client,
    log_in,
    make_app,
    owner_client,
    session_csrf,
    set_owner_password,
)
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord

ALBUM = 1
OTHER_ALBUM = 2
CORPUS = Path("/work/shared/corpus/images")


@pytest.fixture
def albums(app: Flask) -> Flask:
    """``app`` with albums ALBUM and OTHER_ALBUM and the owner's password set."""
    set_owner_password(app)
    with app.app_context():
        conn = db.get_db()
        for album_id in (ALBUM, OTHER_ALBUM):
            collection.save_album(
                conn,
                AlbumRecord(
                    id=album_id, source="csv", artist="Band", title=f"Record {album_id}", artists=[(None, "Band")]
                ),
            )
    return app


@pytest.fixture
def token(albums: Flask) -> str:
    with albums.app_context():
        return auth.create_api_token(db.get_db(), "tests")


@pytest.fixture
def owner_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), colour: str = "teal", **save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt, **save)
    return buffer.getvalue()


def upload(
    client: FlaskClient,
    files: Iterable[tuple[str, bytes]],
    album_id: int = ALBUM,
    headers: dict[str, str] | None = None,
    **fields: str,
):
    data: dict[str, Any] = {"photos": [(io.BytesIO(content), name) for name, content in files], **fields}
    return client.post(
        f"/api/albums/{album_id}/photos", data=data, headers=headers or {}, content_type="multipart/form-data"
    )


def upload_one(
    client: FlaskClient,
    headers: dict[str, str],
    visibility: str = "public",
    album_id: int = ALBUM,
    content: bytes | None = None,
    name: str = "photo.jpg",
) -> dict[str, Any]:
    response = upload(client, [(name, content or image_bytes())], album_id, headers, visibility=visibility)
    assert response.status_code == 201, response.get_json()
    (photo,) = response.get_json()["photos"]
    return photo


def stored(app: Flask) -> dict[str, Any]:
    """Everything the photo store has kept: rows, originals, derivative files and index entries."""
    photos_dir = Path(app.config["PHOTOS_DIR"])
    with app.app_context():
        rows = [dict(row) for row in db.get_db().execute("SELECT id, album_id, visibility FROM photos")]
    index = sqlite3.connect(photos_dir / "derived" / "photo_index.db")
    try:
        entries = index.execute("SELECT count(*) FROM entries").fetchone()[0]
    finally:
        index.close()
    return {
        "rows": rows,
        "originals": sorted(p.name for p in (photos_dir / "originals").rglob("*") if p.is_file()),
        "derived": sorted(p.name for p in (photos_dir / "derived").rglob("*.webp")),
        "temp": sorted(p.name for p in (photos_dir / ".tmp").iterdir()),
        "entries": entries,
    }


NOTHING = {"rows": [], "originals": [], "derived": [], "temp": [], "entries": 0}
