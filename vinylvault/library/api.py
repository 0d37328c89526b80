"""JSON API over the collection, and ``GET /health`` for Docker and systemd.

``GET /api/collection`` takes the grid's parameters (``sort``, ``order``,
``genre``, ``style``, ``decade``, ``format``, ``folder``, ``q``, ``limit``,
``after`` or ``offset``) and answers ``{"albums", "total", "next_cursor",
"next_offset"}``; a bad parameter is a 400 ``{"error": "invalid_query"}``.
``GET /api/album/<id>`` answers one album with its stored release details.
Both are read-only and public, like the pages that show the same data.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Mapping

from flask import Blueprint, current_app, jsonify, request

from vinylvault import db
from vinylvault.covers import extension
from vinylvault.library import collection
from vinylvault.library.collection import Album, InvalidQuery
from vinylvault.web.errors import APIError

bp = Blueprint("api_collection", __name__)

#: Below this free space on the data disk, /health reports unhealthy.
MIN_FREE_DISK_MB = 50
_LIST_PARAMS = ("sort", "order", "genre", "style", "decade", "format", "folder", "q", "after")


def album_json(album: Album) -> dict[str, Any]:
    """An album as JSON: every field, labels as objects, plus its Discogs link."""
    data = dataclasses.asdict(album)
    data["discogs_url"] = album.discogs_url
    return data


def _int_param(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidQuery(name, "must be a whole number")
    return int(raw)


def list_params(args: Mapping[str, str], default_limit: int) -> dict[str, Any]:
    """:func:`collection.list_albums` keyword arguments from query parameters (pages use it too).

    Raises :class:`InvalidQuery` for a non-numeric ``limit``/``offset``;
    the other checks happen in :func:`collection.list_albums`.
    """
    params: dict[str, Any] = {name: args[name] for name in _LIST_PARAMS if args.get(name)}
    limit = _int_param(args, "limit")
    params["limit"] = default_limit if limit is None else limit
    offset = _int_param(args, "offset")
    if offset:
        params["offset"] = offset
    return params


@bp.get("/api/collection")
def api_collection():
    """One page of albums, sorted, filtered and searched like the grid."""
    try:
        page = collection.list_albums(
            db.get_db(), **list_params(request.args, current_app.config["SETTINGS"].PAGE_SIZE)
        )
    except InvalidQuery as exc:
        raise APIError(400, "invalid_query", str(exc)) from None
    return jsonify(
        albums=[album_json(a) for a in page.albums],
        total=page.total,
        next_cursor=page.next_cursor,
        next_offset=page.next_offset,
    )


@bp.get("/api/album/<album_id:album_id>")  # demo and CSV copies have negative ids
def api_album(album_id: int):
    """One album and, when already fetched, its release details (tracklist, images...)."""
    conn = db.get_db()
    album = collection.get_album(conn, album_id)
    if album is None:
        raise APIError(404, "not_found", f"no album {album_id}")
    details = collection.get_release_details(conn, album.release_id) if album.release_id else None
    return jsonify(album=album_json(album), details=dataclasses.asdict(details) if details else None)


def _database_check() -> dict[str, Any]:
    try:
        counts = collection.counts(db.get_db())
    except sqlite3.Error as exc:
        return {"ok": False, "detail": f"database error: {exc}"}
    return {"ok": True, "albums": counts["albums"]}


def _cache_check() -> dict[str, Any]:
    """The cover cache's index answers; no file scan (health is polled every few seconds)."""
    try:
        stats = extension.get_cache().get_cache_stats()
    except Exception as exc:  # noqa: BLE001 - any failure to read the cache is the finding
        return {"ok": False, "detail": f"cache error: {type(exc).__name__}"}
    return {"ok": True, "entries": stats.get("total_entries", 0)}


def _disk_check(data_dir: Path) -> dict[str, Any]:
    free_mb = shutil.disk_usage(data_dir).free / (1024 * 1024)
    return {"ok": free_mb >= MIN_FREE_DISK_MB, "free_mb": round(free_mb, 1)}


@bp.get("/health")
def health():
    """``{"status", "database", "cache", "disk"}``: 200 when all are ok, else 503."""
    checks = {
        "database": _database_check(),
        "cache": _cache_check(),
        "disk": _disk_check(Path(current_app.config["SETTINGS"].DATA_DIR)),
    }
    ok = all(check["ok"] for check in checks.values())
    response = jsonify(status="ok" if ok else "unhealthy", **checks)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
