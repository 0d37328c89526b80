"""Owner photos over HTTP: the JSON API, the access-checked image routes, and the page forms.

JSON (owner = session with CSRF token, or ``Authorization: Bearer``; writes are rate limited):

- ``POST   /api/albums/<id>/photos``        multipart ``photos`` (several), ``visibility``, ``title``,
  ``description`` -> 201 ``{"photos": [...]}``; all files are kept or none.
- ``GET    /api/albums/<id>/photos``        what the caller may see (a share token as ``?share=``).
- ``GET    /api/albums/<id>/photos/stats``  owner: ``{total, public, private, shared, total_size_mb, most_viewed}``.
- ``PATCH  /api/photos/<id>``               JSON ``{title?, description?, visibility?}``.
- ``DELETE /api/photos/<id>``
- ``POST   /api/albums/<id>/share``         -> ``{url, token}``; a new token each time, the old one stops working.
- ``DELETE /api/albums/<id>/share``         revokes the link.

Files, each access-checked on every request (public: anyone; shared: the
owner or the album's share token; private: the owner):

- ``GET|HEAD /photos/<id>/<thumbnails|detail|square>.webp[?share=]``
- ``GET /photos/<id>/original`` and ``/api/photos/<id>/original``: owner only, as a download.

A photo the caller may not see answers exactly like one that does not exist
(404), so its existence does not leak. Public derivatives may be kept by
shared caches for a few minutes; the others are ``private``. A view is
counted per request for a detail image (see :mod:`vinylvault.photos.store`).

The album page's gallery (``templates/_photos.html``) calls the Jinja
global ``photo_gallery(album_id)``; its forms post to ``/album/<id>/photos``,
``/album/<id>/share`` and ``/photos/<id>/edit``, which answer with a
redirect and a flashed message, so the page works without JavaScript.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, flash, jsonify, redirect, request, send_file, url_for

from vinylvault import db, lifecycle
from vinylvault.access import auth
from vinylvault.covers import extension
from vinylvault.photos.store import (
    MIMETYPES,
    Access,
    NotFound,
    Photo,
    PhotoError,
    PhotoStore,
    Upload,
    Visibility,
    open_photo_cache,
)
from vinylvault.web import inputs
from vinylvault.web.errors import APIError, handle_api_error

log = logging.getLogger("vinylvault.photos.views")

bp = Blueprint("api_photos", __name__)

#: ``app.extensions`` keys: the owner photos' derivatives, their own ImageCache in
#: PHOTOS_DIR/derived (never under COVERS_DIR, which nginx serves without access
#: checks), and the :class:`PhotoStore` over it.
PHOTOS = "photo_cache"
PHOTO_STORE = "photo_store"

#: Public photos may change visibility later, so shared caches keep them only briefly.
PUBLIC_CACHE_CONTROL = "public, max-age=600"
PRIVATE_CACHE_CONTROL = "private, max-age=60"
URL_NAMES = {"thumbnail": "thumbnails", "detail": "detail", "square": "square"}
PATCH_FIELDS = frozenset({"title", "description", "visibility"})


def get_store() -> PhotoStore:
    """The app's photo store."""
    return current_app.extensions[PHOTO_STORE]


def current_access() -> Access:
    """The requester: owner (session or API token), or a guest with an optional ``?share=`` token."""
    return Access(is_owner=auth.current_user_is_owner(), share_token=request.args.get("share") or None)


def photo_json(photo: Photo, access: Access) -> dict[str, Any]:
    """A photo as the API shows it; the owner also sees the bookkeeping and the original's URL."""
    # A guest's URLs carry the share token for shared photos, so the images load for them too.
    share = access.share_token if photo.visibility is Visibility.SHARED and not access.is_owner else None
    body: dict[str, Any] = {
        "id": photo.id,
        "album_id": photo.album_id,
        "visibility": photo.visibility.value,
        "title": photo.title,
        "description": photo.description,
        "width": photo.width,
        "height": photo.height,
        "created_at": photo.created_at,
        "urls": {
            name: url_for(
                "api_photos.photo_file", photo_id=photo.id, size_type=size_type, **({"share": share} if share else {})
            )
            for name, size_type in URL_NAMES.items()
        },
    }
    if access.is_owner:
        body.update(
            format=photo.format,
            bytes=photo.bytes,
            view_count=photo.view_count,
            last_viewed_at=photo.last_viewed_at,
            updated_at=photo.updated_at,
            original_url=url_for("api_photos.original", photo_id=photo.id),
        )
    return body


def _uploads() -> list[Upload]:
    # A form sent without choosing a file still has one empty, nameless part.
    return [
        Upload(item.filename or "", item.stream)
        for item in request.files.getlist("photos")
        if item.filename or item.content_length
    ]


def _upload_from_request(album_id: int) -> list[Photo]:
    form = request.form
    return get_store().upload(
        db.get_db(),
        album_id,
        _uploads(),
        visibility=form.get("visibility", "private"),
        title=form.get("title", ""),
        description=form.get("description", ""),
    )


@bp.errorhandler(PhotoError)
def _photo_error(exc: PhotoError):
    return handle_api_error(APIError(exc.status, exc.code, exc.detail))


# --- JSON API ------------------------------------------------------------------------------


@bp.post("/api/albums/<album_id:album_id>/photos")
@auth.owner_required
@auth.rate_limit(scope="photos")
def upload(album_id: int):
    """Keep every posted file, or none; 201 with each photo."""
    photos = _upload_from_request(album_id)
    access = current_access()
    return jsonify({"photos": [photo_json(photo, access) for photo in photos]}), 201


@bp.get("/api/albums/<album_id:album_id>/photos")
def list_photos(album_id: int):
    get_store().require_album(db.get_db(), album_id)
    access = current_access()
    photos = get_store().list_photos(db.get_db(), album_id, access)
    return jsonify({"album_id": album_id, "photos": [photo_json(photo, access) for photo in photos]})


@bp.get("/api/albums/<album_id:album_id>/photos/stats")
@auth.owner_required
def stats(album_id: int):
    get_store().require_album(db.get_db(), album_id)
    return jsonify(get_store().stats(db.get_db(), album_id))


@bp.patch("/api/photos/<photo_id>")
@auth.owner_required
@auth.rate_limit(scope="photos")
def update(photo_id: str):
    payload = inputs.read_json_body()
    if not isinstance(payload, dict) or not payload:
        raise APIError(400, "invalid_body", 'expected an object like {"title": "...", "visibility": "public"}')
    unknown = sorted(set(payload) - PATCH_FIELDS)
    if unknown:
        raise APIError(
            400,
            "unknown_fields",
            f"cannot change {', '.join(unknown)[:100]}; allowed: {', '.join(sorted(PATCH_FIELDS))}",
        )
    photo = get_store().update(db.get_db(), photo_id, **payload)
    return jsonify(photo_json(photo, current_access()))


@bp.delete("/api/photos/<photo_id>")
@auth.owner_required
@auth.rate_limit(scope="photos")
def delete(photo_id: str):
    photo = get_store().delete(db.get_db(), photo_id)
    return jsonify({"deleted": photo.id})


@bp.post("/api/albums/<album_id:album_id>/share")
@auth.owner_required
@auth.rate_limit(scope="photos")
def share(album_id: int):
    """A new share link for the album's shared photos (the previous one stops working)."""
    token = get_store().share(db.get_db(), album_id)
    return jsonify({"url": url_for("pages.album", album_id=album_id, share=token), "token": token}), 201


@bp.delete("/api/albums/<album_id:album_id>/share")
@auth.owner_required
@auth.rate_limit(scope="photos")
def revoke_share(album_id: int):
    get_store().require_album(db.get_db(), album_id)
    return jsonify({"revoked": get_store().revoke_share(db.get_db(), album_id)})


# --- Files -------------------------------------------------------------------------------


def _visible_or_404(photo_id: str) -> Photo:
    photo = get_store().visible_photo(db.get_db(), photo_id, current_access())
    if photo is None:
        abort(404, "No photo is known under this address.")
    return photo


@bp.route("/photos/<photo_id>/<any(thumbnails, detail, square):size_type>.webp", methods=["GET", "HEAD"])
def photo_file(photo_id: str, size_type: str) -> Response:
    """A derivative, if the requester may see the photo; 304 to a matching ETag."""
    photo = _visible_or_404(photo_id)
    store = get_store()
    found = store.read_derivative(photo, size_type)
    if found is None:
        log.warning("photo %s: %s could not be produced from the original", photo.id, size_type)
        abort(404, "No photo is known under this address.")
    entry, data = found
    if size_type == "detail" and request.method == "GET":
        store.record_view(db.get_db(), photo)
    response = Response(data, mimetype="image/webp")
    response.set_etag(entry.content_hash)
    response.headers["Cache-Control"] = (
        PUBLIC_CACHE_CONTROL if photo.visibility is Visibility.PUBLIC else PRIVATE_CACHE_CONTROL
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@bp.get("/photos/<photo_id>/original")
@bp.get("/api/photos/<photo_id>/original", endpoint="api_original")
def original(photo_id: str) -> Response:
    """The file as uploaded (metadata included), to the owner only."""
    if not auth.current_user_is_owner():
        abort(404, "No photo is known under this address.")
    store = get_store()
    photo = store.get(db.get_db(), photo_id)
    path = None if photo is None else store.original_path(photo)
    if photo is None or not path.is_file():
        abort(404, "No photo is known under this address.")
    response = send_file(
        path,
        mimetype=MIMETYPES[photo.ext],
        as_attachment=True,
        download_name=f"{photo.id}.{photo.ext}",
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- Page forms (no JavaScript needed) ----------------------------------------------------


def _back_to_album(album_id: int, **params: str) -> Response:
    return redirect(url_for("pages.album", album_id=album_id, **params) + "#photos", 303)


@bp.post("/album/<album_id:album_id>/photos")
@auth.owner_required
@auth.rate_limit(scope="photos")
def upload_form(album_id: int):
    try:
        photos = _upload_from_request(album_id)
    except NotFound:
        abort(404, "There is no album with this number in the collection.")
    except PhotoError as exc:
        flash(f"Nothing was uploaded: {exc.detail}", "error")
    else:
        flash(f"Uploaded {len(photos)} photo{'s' if len(photos) != 1 else ''}.", "ok")
    return _back_to_album(album_id)


@bp.post("/album/<album_id:album_id>/share")
@auth.owner_required
@auth.rate_limit(scope="photos")
def share_form(album_id: int):
    """``action=create`` lands on the new share link itself (copy it from the address bar)."""
    store, conn = get_store(), db.get_db()
    try:
        if request.form.get("action") == "revoke":
            store.revoke_share(conn, album_id)
            flash("The share link was revoked; it no longer works.", "ok")
            return _back_to_album(album_id)
        token = store.share(conn, album_id)
    except NotFound:
        abort(404, "There is no album with this number in the collection.")
    flash("New share link: copy this page's address. Earlier links no longer work.", "ok")
    return _back_to_album(album_id, share=token)


@bp.post("/photos/<photo_id>/edit")
@auth.owner_required
@auth.rate_limit(scope="photos")
def edit_form(photo_id: str):
    """Save title, description and visibility, or delete (``action=delete``)."""
    store, conn, form = get_store(), db.get_db(), request.form
    photo = store.get(conn, photo_id)
    if photo is None:
        abort(404, "No photo is known under this address.")
    try:
        if form.get("action") == "delete":
            store.delete(conn, photo_id)
            flash("Photo deleted.", "ok")
        else:
            store.update(
                conn,
                photo_id,
                title=form.get("title"),
                description=form.get("description"),
                visibility=form.get("visibility"),
            )
            flash("Photo saved.", "ok")
    except PhotoError as exc:
        flash(f"Not saved: {exc.detail}", "error")
    return _back_to_album(photo.album_id)


# --- The album page's gallery ---------------------------------------------------------------


def photo_gallery(album_id: int) -> dict[str, Any]:
    """What ``_photos.html`` shows: the photos the requester may see and, for the owner, the tools."""
    store, conn, access = get_store(), db.get_db(), current_access()
    photos = store.list_photos(conn, album_id, access)
    gallery: dict[str, Any] = {
        "photos": [photo_json(photo, access) for photo in photos],
        "is_owner": access.is_owner,
        "visibilities": [v.value for v in Visibility],
    }
    if access.is_owner:
        gallery.update(
            share_active=store.share_active(conn, album_id),
            room=max(store.max_per_album - len(photos), 0),
            max_mb=store.max_bytes // (1024 * 1024),
            accept=", ".join(f".{ext}" for ext in sorted(MIMETYPES) + ["jpeg"]),
        )
    return gallery


def init_app(app: Flask) -> None:
    """Open the photos' own cache and the :class:`PhotoStore` over it; the app's shutdown closes both.

    The photo cache shares the cover cache's memory tier, so the cover cache comes first.
    """
    settings = app.config["SETTINGS"]
    cache = open_photo_cache(settings, memory=app.extensions[extension.COVERS].memory)
    app.extensions[PHOTOS] = cache
    lifecycle.on_shutdown(app, "photo cache", lambda: app.extensions.pop(PHOTOS).close())
    app.extensions[PHOTO_STORE] = PhotoStore(settings.PHOTOS_DIR, settings.DATABASE_PATH, cache, settings)
    lifecycle.on_shutdown(app, "photo store", lambda: app.extensions.pop(PHOTO_STORE).close())
    app.jinja_env.globals["photo_gallery"] = photo_gallery
