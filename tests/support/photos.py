"""Photos of a test app: uploading them through the API, and everything the photo store kept."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.images import image_bytes
from vinylvault import db

#: The albums the photo tests upload to.
ALBUM = 1
OTHER_ALBUM = 2

#: What :func:`stored` finds in a photo store that kept nothing.
NOTHING = {"rows": [], "originals": [], "derived": [], "temp": [], "entries": 0}


def upload(
    client: FlaskClient,
    files: Iterable[tuple[str, bytes]],
    album_id: int = ALBUM,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> TestResponse:
    """POST ``files`` (name, content) to the album's photos in one multipart request."""
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
    """Upload one photo, which must be accepted; the photo as the API describes it."""
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
