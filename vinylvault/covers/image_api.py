"""Image management API: the collection's images and their state in the cover cache.

The kinds are album covers (``albums.cover_url``, else ``thumb_url``; wanted
releases' too) and artist images (``artists.image_url``). Every image lives in the one cover cache, so these
endpoints are views over it joined with the collection:

- ``GET  /api/images/stats``: per kind, referenced / cached / failed / missing and bytes.
- ``GET  /api/images/album/<id>``: the album's cover and its cached sizes.
- ``POST /api/images/album/<id>/download``: fetch it now, within ``ON_DEMAND_WAIT_SECONDS``.
- ``POST /api/images/sync``: every referenced image not cached yet, as a background job.
- ``POST /api/images/cleanup``: drop cached images nothing references any more.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Blueprint, current_app, jsonify

from cache_engine.convert import SIZE_TYPES
from image_cache import ImageCache
from vinylvault.access.auth import owner_required, rate_limit
from vinylvault.covers import jobs
from vinylvault.covers.extension import get_cache
from vinylvault.db import get_db
from vinylvault.library import collection
from vinylvault.photos import views as photos
from vinylvault.web.errors import APIError

log = logging.getLogger("vinylvault.covers.image_api")

bp = Blueprint("api_images", __name__, url_prefix="/api/images")


def artist_image_urls(conn: sqlite3.Connection) -> list[str]:
    """Every distinct artist image URL of the collection."""
    return [
        row[0]
        for row in conn.execute("SELECT DISTINCT image_url FROM artists WHERE image_url != '' ORDER BY image_url")
    ]


def referenced_urls(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The source URLs the collection references, by kind."""
    return {"covers": collection.all_cover_urls(conn), "artists": artist_image_urls(conn)}


def _cache_url(size_type: str, key: str) -> str:
    # The serving route's fixed shape: key and size type never come from the client here.
    return f"/cache/{size_type}/{key}.webp"


def kind_stats(cache: ImageCache, urls: list[str]) -> dict[str, int]:
    """How many of ``urls`` are cached (detail size present), failed, or still missing; cached bytes."""
    entries = {size: cache.lookup_many(urls, size) for size in SIZE_TYPES}
    cached = sum(1 for url in urls if entries["detail"].get(url) is not None)
    failed = sum(1 for url in urls if entries["detail"].get(url) is None and cache.is_failed(url))
    size = sum(entry.bytes for by_url in entries.values() for entry in by_url.values() if entry is not None)
    return {
        "referenced": len(urls),
        "cached": cached,
        "failed": failed,
        "missing": len(urls) - cached - failed,
        "bytes": size,
    }


def album_image(cache: ImageCache, album: collection.Album) -> dict[str, Any]:
    """The album's cover: its source, each cached size with URL and dimensions, failure state."""
    url = album.image_url
    body: dict[str, Any] = {"album_id": album.id, "source_url": url or None, "sizes": {}, "failed": False}
    if not url:
        return body
    for size_type in SIZE_TYPES:
        entry = cache.lookup(url, size_type)
        body["sizes"][size_type] = (
            None
            if entry is None
            else {
                "url": _cache_url(size_type, entry.key),
                "width": entry.width,
                "height": entry.height,
                "bytes": entry.bytes,
            }
        )
    body["failed"] = body["sizes"]["detail"] is None and cache.is_failed(url)
    return body


def _album_or_404(album_id: int) -> collection.Album:
    album = collection.get_album(get_db(), album_id)
    if album is None:
        raise APIError(404, "unknown_album", f"no album {album_id}")
    return album


@bp.get("/stats")
def stats():
    """Per kind of image: referenced, cached, failed, missing, bytes."""
    cache = get_cache()
    return jsonify({kind: kind_stats(cache, urls) for kind, urls in referenced_urls(get_db()).items()})


@bp.get("/album/<album_id:album_id>")
def album_info(album_id: int):
    return jsonify(album_image(get_cache(), _album_or_404(album_id)))


@bp.post("/album/<album_id:album_id>/download")
@owner_required
@rate_limit(scope="images")
def album_download(album_id: int):
    """Fetch and convert the album's cover now; 202 if it is still being converted after the wait.

    A source that cannot be fetched (refused URL, HTTP error, not an image) is
    a 502 naming the reason; it stays in the negative cache until its retry time.
    """
    album = _album_or_404(album_id)
    if not album.image_url:
        raise APIError(409, "no_source", f"album {album_id} has no cover URL")
    cache = get_cache()
    path = cache.get_image(album.image_url, "detail", wait=current_app.config["ON_DEMAND_WAIT_SECONDS"])
    if path is None and cache.is_failed(album.image_url):
        reason = cache.failure_reason(album.image_url) or "failed"
        raise APIError(502, reason, "the cover could not be fetched; it is retried later")
    # None without a failure: another worker is still converting it.
    return jsonify(album_image(cache, album)), 200 if path else 202


@bp.post("/sync")
@owner_required
@rate_limit(scope="images")
def sync():
    """Queue every referenced image that is not cached yet (failed ones included) as one job.

    URLs come from the collection, not the client, and may be ``local:`` demo
    covers, so they are not screened here; the engine refuses unsafe ones per item.
    """
    cache = get_cache()
    urls = [url for kind_urls in referenced_urls(get_db()).values() for url in kind_urls]
    cached = {url for url, entry in cache.lookup_many(urls, "detail").items() if entry is not None}
    todo = [url for url in urls if url not in cached]
    if not todo:
        return jsonify({"job_id": None, "queued": 0, "already_cached": len(cached)})
    return jobs.submit("sync_images", todo, "api_images.sync_status", queued=len(todo), already_cached=len(cached))


@bp.get("/sync/<job_id>")
def sync_status(job_id: str):
    return jobs.status(job_id)


@bp.post("/cleanup")
@owner_required
@rate_limit(scope="images")
def cleanup():
    """Remove cached images whose source no album or artist references; referenced ones are kept."""
    cache = get_cache()
    referenced = {cache.key_for(url) for urls in referenced_urls(get_db()).values() for url in urls}
    removed_sources = removed_files = kept = 0
    for url in list(cache.cached_source_urls()):
        if cache.key_for(url) in referenced:
            kept += 1
            continue
        removed_files += cache.remove_source(url)
        removed_sources += 1
    # Photos of deleted albums (their rows go with the album; the files stay until now).
    removed_photos = photos.get_store().remove_orphans(get_db())
    log.info(
        "image cleanup: %d orphan sources removed (%d files), %d kept, %d orphan photos removed",
        removed_sources,
        removed_files,
        kept,
        removed_photos,
    )
    return jsonify(
        {
            "success": True,
            "removed_sources": removed_sources,
            "removed_files": removed_files,
            "kept": kept,
            "removed_photos": removed_photos,
        }
    )
