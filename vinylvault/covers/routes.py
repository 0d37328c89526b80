"""Serving cached covers: ``GET|HEAD /cache/<size>/<key>.webp`` and the placeholders.

Nothing from the URL reaches the filesystem: the routes accept only a key of
exactly 64 lowercase hex digits and a size type from a fixed set, and the file
to send is the path recorded in the cache index for that key.

- A hit is sent with an ETag (the content hash) and a year of ``immutable``;
  ``If-None-Match`` is answered 304 from the index row alone, without touching
  the file. The hit is recorded in memory and flushed to the index in batches.
- A key whose source is known but not cached (yet) is converted on demand,
  waiting at most ``ON_DEMAND_WAIT_SECONDS``; failing that, the placeholder is
  sent with ``no-store`` so no cache keeps it under the real image's URL.
- An unknown key is a 404.
- Placeholders are sent from memory (drawn once per process), never from a
  file, so they answer on a full disk too.

``FILE_DELIVERY`` chooses who sends the bytes: this process (``direct``, with
the server's sendfile through ``wsgi.file_wrapper``), nginx
(``x-accel-redirect``) or Apache/lighttpd (``x-sendfile``). With the memory
tier on, ``direct`` hits are answered from memory, accounted to the page that
asked (its Referer), so one page cannot push out another's hot images.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import wrap_file

from image_cache import Entry, ImageCache
from vinylvault.covers.extension import get_cache

log = logging.getLogger("vinylvault.covers.routes")

bp = Blueprint("cache_routes", __name__)

MIMETYPE = "image/webp"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Placeholders change only with a new version of the drawing code.
PLACEHOLDER_MAX_AGE = "public, max-age=86400"
PLACEHOLDER_HEADER = "X-VinylVault-Placeholder"
#: Memory-tier scopes by the path of the page that asked; a fixed set of names,
#: whatever a client puts in its Referer.
PAGE_SCOPES = (
    ("/album/", "album"),
    ("/now-playing/", "album"),
    ("/search", "search"),
    ("/stats", "stats"),
    ("/admin", "admin"),
)


class CacheKeyConverter(BaseConverter):
    """Exactly a cache key: the sha256 hex digest of a normalized source URL."""

    regex = "[0-9a-f]{64}"


def init_app(app: Flask) -> None:
    """Teach ``app`` the ``<cachekey:...>`` converter; before :data:`bp` is registered, whose rules use it."""
    app.url_map.converters["cachekey"] = CacheKeyConverter


def _deliver(path: Path, headers: dict[str, str]) -> Response | None:
    """A response sending ``path`` the configured way; None when the file is gone."""
    try:
        handle = None if request.method == "HEAD" else open(path, "rb")
        size = os.fstat(handle.fileno()).st_size if handle else path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return None
    mode = current_app.config["FILE_DELIVERY"]
    if mode == "direct" and handle is not None:
        response = Response(wrap_file(request.environ, handle), mimetype=MIMETYPE, direct_passthrough=True)
    else:
        if handle is not None:
            handle.close()
        response = Response(mimetype=MIMETYPE)
    if mode == "x-accel-redirect":
        relative = path.relative_to(current_app.config["COVERS_DIR"]).as_posix()
        response.headers["X-Accel-Redirect"] = current_app.config["X_ACCEL_PREFIX"] + relative
    elif mode == "x-sendfile":
        response.headers["X-Sendfile"] = os.fspath(path)
    if mode == "direct" or request.method == "HEAD":
        response.content_length = size
    response.headers.update(headers)
    return response


def page_scope() -> str:
    """The memory-tier scope of this request: which page the image is shown on."""
    path = urlsplit(request.referrer or "").path
    for prefix, scope in PAGE_SCOPES:
        if path.startswith(prefix):
            return scope
    return "grid" if path == "/" else "other"


def _from_memory(cache: ImageCache, entry: Entry, headers: dict[str, str]) -> Response | None:
    """``entry`` sent from the memory tier (filled from its file); None if the file vanished."""
    try:
        data = cache.read_bytes(entry, scope=page_scope())
    except FileNotFoundError:
        return None
    return Response(data, mimetype=MIMETYPE, headers=headers)


def _entry_headers(content_hash: str) -> dict[str, str]:
    return {"ETag": f'"{content_hash}"', "Cache-Control": IMMUTABLE}


def _not_modified(content_hash: str) -> bool:
    etags = request.if_none_match
    return etags.star_tag or etags.contains_weak(content_hash)


def _serve_entry(cache: ImageCache, entry: Entry) -> Response | None:
    """The cached file of ``entry`` (200, or 304 to a matching ETag); None if its file vanished."""
    headers = _entry_headers(entry.content_hash)
    if _not_modified(entry.content_hash):
        cache.record_access(entry.key, entry.size_type)
        return Response(status=304, headers=headers)
    if cache.memory is not None and request.method == "GET" and current_app.config["FILE_DELIVERY"] == "direct":
        response = _from_memory(cache, entry, headers)
    else:
        response = _deliver(entry.path, headers)
    if response is None:
        log.warning("cache file missing for %s/%s; converting again", entry.size_type, entry.key)
        return None
    cache.record_access(entry.key, entry.size_type)
    return response


def _convert_on_demand(cache: ImageCache, url: str, key: str, size_type: str) -> Response | None:
    """Produce the image within ON_DEMAND_WAIT_SECONDS and serve it; None if that failed."""
    if cache.is_failed(url):
        return None
    if not cache.get_image(url, size_type, wait=current_app.config["ON_DEMAND_WAIT_SECONDS"]):
        return None
    entry = cache.lookup_key(key, size_type)
    return None if entry is None else _serve_entry(cache, entry)


def _placeholder(size_type: str, cache_control: str) -> Response:
    # From memory whatever FILE_DELIVERY says: a few KB, and no file that a
    # full or read-only disk could keep from being written.
    return Response(
        get_cache().placeholder_bytes(size_type),
        mimetype=MIMETYPE,
        headers={"Cache-Control": cache_control, PLACEHOLDER_HEADER: "1"},
    )


@bp.route("/cache/<any(thumbnails, detail):size_type>/<cachekey:key>.webp", methods=["GET", "HEAD"])
def cached_image(size_type: str, key: str) -> Response:
    cache = get_cache()
    entry = cache.lookup_key(key, size_type)
    response = None if entry is None else _serve_entry(cache, entry)
    if response is not None:
        return response
    url = entry.url if entry is not None else cache.source_url(key)
    if url is None:
        abort(404, "No image is known under this key.")
    return _convert_on_demand(cache, url, key, size_type) or _placeholder(size_type, "no-store")


@bp.route("/cache/placeholders/placeholder_<any(thumbnails, detail):size_type>.webp", methods=["GET", "HEAD"])
def placeholder(size_type: str) -> Response:
    return _placeholder(size_type, PLACEHOLDER_MAX_AGE)
