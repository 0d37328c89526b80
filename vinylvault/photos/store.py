"""Owner photos of their copies (sleeve, labels, runout): upload, visibility, share links.

:class:`PhotoStore` keeps the metadata in the collection database (table ``photos``), the
originals under ``PHOTOS_DIR/originals/<album_id>/<photo_id>.<ext>`` (mode
0600, written atomically, extension from the decoded format), and the
derivatives (thumbnails, detail, square) in a second
:class:`image_cache.ImageCache` rooted in ``PHOTOS_DIR/derived``, produced by
the same converter as covers, which strips EXIF, GPS, XMP and ICC.

Visibility: ``public`` (anyone), ``private`` (owner only) and ``shared``
(the owner, or a guest holding the album's share token). A guest asking for
anything else gets the same answer as for a photo that does not exist.

Uploads are checked before anything is kept: size cap per file, the
extension must be one of jpg/jpeg/png/gif/webp/bmp and agree with the
decoded format, the header's pixel count is capped, and the full conversion
must succeed. A batch is all or nothing: one bad file, or a batch that would
take the album past ``MAX_IMAGES_PER_ALBUM``, stores none of its files.

View counts are kept in memory and written at most every
``ACCESS_FLUSH_INTERVAL_SECONDS`` per process; a view is one request for a
photo's detail image (the grid's thumbnails are not views).

No Flask here: callers pass a database connection and an :class:`Access`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Sequence

import config
from cache_engine.convert import SIZE_TYPES, SourceInfo, identify
from cache_engine.errors import SourceRefused
from cache_engine.files import write_atomically
from cache_engine.memory_tier import MemoryTier
from cache_engine.sqlite import write_transaction
from image_cache import LOCAL_PREFIX, Entry, ImageCache
from vinylvault import db

log = logging.getLogger("vinylvault.photos.store")

#: A photo gets a cover's renditions and a square crop for the gallery.
PHOTO_SIZE_TYPES = (*SIZE_TYPES, "square")
#: Decoded format -> extensions a client may give it; the first is the one stored.
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": ("jpg", "jpeg"),
    "MPO": ("jpg", "jpeg"),  # what many cameras write: a JPEG with extra frames
    "PNG": ("png",),
    "GIF": ("gif",),
    "WEBP": ("webp",),
    "BMP": ("bmp",),
}
ALLOWED_EXTENSIONS = frozenset(ext for exts in FORMAT_EXTENSIONS.values() for ext in exts)
MIMETYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp"}
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
#: token_urlsafe(24) is 32 characters; anything much longer is not one of ours.
SHARE_TOKEN_MAX = 128
#: The originals' folder under PHOTOS_DIR: the only one the photo cache reads sources from.
ORIGINALS = "originals"
_PHOTO_ID = re.compile(r"[0-9a-f]{32}")
#: An original this young may belong to an upload whose row is not committed yet.
ORPHAN_GRACE_SECONDS = 600.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_COLUMNS = (
    "id, album_id, visibility, title, description, format, ext, width, height, bytes, "
    "created_at, updated_at, view_count, last_viewed_at"
)


# --- Errors ------------------------------------------------------------------


class PhotoError(Exception):
    """A request the store refuses; ``status`` is the HTTP answer, ``code`` a short reason."""

    status = 400

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class InvalidPhoto(PhotoError):
    """A file or a field that cannot be accepted (not an image, mismatched extension, ...)."""


class PhotoTooLarge(PhotoError):
    """A file over ``MAX_IMAGE_UPLOAD_SIZE_MB``."""

    status = 413


class AlbumFull(PhotoError):
    """The upload would take the album past ``MAX_IMAGES_PER_ALBUM``."""

    status = 409


class StorageFull(PhotoError):
    """The photo could not be written (the disk is full or unwritable); nothing was kept."""

    status = 507


class NotFound(PhotoError):
    """No such album or photo (or, for a guest, one they may not see)."""

    status = 404


# --- Values ------------------------------------------------------------------


class Visibility(str, enum.Enum):
    """Who may see a photo."""

    PUBLIC = "public"
    PRIVATE = "private"
    SHARED = "shared"

    @classmethod
    def parse(cls, value: object) -> "Visibility":
        """The API value (any case); ``subscribers`` is accepted for shared.

        :raises InvalidPhoto: anything else.
        """
        if isinstance(value, str):
            name = value.strip().lower()
            with contextlib.suppress(ValueError):
                return cls("shared" if name == "subscribers" else name)
        raise InvalidPhoto("invalid_visibility", "visibility must be 'public', 'private' or 'shared'")


@dataclass(frozen=True)
class Access:
    """Who is asking: the owner, or a guest who may hold an album's share token."""

    is_owner: bool = False
    share_token: str | None = None


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the client's file name (only its extension is used) and its bytes."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class Photo:
    """One row of ``photos``."""

    id: str
    album_id: int
    visibility: Visibility
    title: str
    description: str
    format: str
    ext: str
    width: int
    height: int
    bytes: int
    created_at: float
    updated_at: float
    view_count: int = 0
    last_viewed_at: float | None = None

    @property
    def relative_path(self) -> str:
        """The original's path under ``PHOTOS_DIR`` (built from checked parts only)."""
        return f"{ORIGINALS}/{self.album_id}/{self.id}.{self.ext}"

    @property
    def source_url(self) -> str:
        """The photo cache's source for the derivatives."""
        return LOCAL_PREFIX + self.relative_path

    def as_dict(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["visibility"] = self.visibility.value
        return body


def _photo(row: sqlite3.Row) -> Photo:
    values = dict(row)
    values["visibility"] = Visibility(values["visibility"])
    return Photo(**values)


def clean_text(value: object, limit: int, field: str) -> str:
    """``value`` stripped, without control characters; at most ``limit`` characters.

    :raises InvalidPhoto: not a string, or too long.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPhoto(f"invalid_{field}", f"{field} must be a string")
    text = _CONTROL.sub("", value).strip()
    if len(text) > limit:
        raise InvalidPhoto(f"invalid_{field}", f"{field} must be at most {limit} characters")
    return text


def display_name(filename: str) -> str:
    """A client's file name made safe to quote in one line of an error or a log."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = _CONTROL.sub("", name)[:80]
    return repr(name) if name else "a file without a name"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --- The derivative cache ------------------------------------------------------


def open_photo_cache(settings: config.Settings, memory: MemoryTier | None = None) -> ImageCache:
    """The photos' own :class:`ImageCache`: ``PHOTOS_DIR/derived``, never under ``COVERS_DIR``.

    ``COVERS_DIR`` is served by nginx without access checks, so private
    derivatives must live elsewhere. Sources are the originals (``local:``
    under ``PHOTOS_DIR``); an evicted derivative is made again from them,
    which is why the read cap is raised to the largest accepted upload.
    ``memory`` is the cover cache's memory tier, shared so that a process
    keeps one memory budget, divided by page scope (photos use ``"photos"``).
    """
    photos_dir = Path(settings.PHOTOS_DIR)
    photos_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    derived = photos_dir / "derived"
    cache_settings = dataclasses.replace(
        settings,
        MEMORY_CACHE_ENABLED=False,
        MAX_DOWNLOAD_MB=max(settings.MAX_DOWNLOAD_MB, settings.MAX_IMAGE_UPLOAD_SIZE_MB),
    )
    cache = ImageCache(
        derived,
        derived / "photo_index.db",
        cache_settings,
        size_types=PHOTO_SIZE_TYPES,
        local_root=photos_dir,
        local_folders=(ORIGINALS,),
        file_mode=0o600,
        rebuild_corrupt_index=True,
    )
    cache.memory = memory
    return cache


# --- View counts ---------------------------------------------------------------------


class ViewCounter:
    """Views counted in memory, written in one transaction at most every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, float]] = {}
        self._last_flush = time.monotonic()

    def record(self, photo_id: str) -> None:
        with self._lock:
            count, _last = self._pending.get(photo_id, (0, 0.0))
            self._pending[photo_id] = (count + 1, time.time())

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._last_flush >= self.interval

    def flush(self, conn: sqlite3.Connection) -> int:
        """Write the pending views; return how many photos were updated."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        try:
            with write_transaction(conn):
                conn.executemany(
                    "UPDATE photos SET view_count = view_count + ?,"
                    " last_viewed_at = max(coalesce(last_viewed_at, 0), ?) WHERE id = ?",
                    [(count, last, photo_id) for photo_id, (count, last) in pending.items()],
                )
        except BaseException:
            with self._lock:  # keep them for the next flush
                for photo_id, (count, last) in pending.items():
                    newer, latest = self._pending.get(photo_id, (0, 0.0))
                    self._pending[photo_id] = (count + newer, max(last, latest))
            raise
        return len(pending)


# --- The store ---------------------------------------------------------------------------


class PhotoStore:
    """Album photos: originals on disk, metadata in the collection database, derivatives in ``cache``.

    :param photos_dir: ``PHOTOS_DIR``; originals go to ``originals/`` inside it.
    :param database_path: the collection database (used only to write view counts at :meth:`close`).
    :param cache: the photo cache from :func:`open_photo_cache`.
    """

    def __init__(
        self, photos_dir: Path | str, database_path: Path | str, cache: ImageCache, settings: config.Settings
    ) -> None:
        self.photos_dir = Path(photos_dir)
        self.originals_dir = self.photos_dir / ORIGINALS
        self.temp_dir = self.photos_dir / ".tmp"
        for folder in (self.photos_dir, self.originals_dir, self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.database_path = Path(database_path)
        self.cache = cache
        self.max_bytes = int(settings.MAX_IMAGE_UPLOAD_SIZE_MB * 1024 * 1024)
        self.max_per_album = settings.MAX_IMAGES_PER_ALBUM
        # Only the accepted formats' decoders ever parse an upload.
        self.options = dataclasses.replace(cache.options, allowed_formats=frozenset(FORMAT_EXTENSIONS))
        self.views = ViewCounter(settings.ACCESS_FLUSH_INTERVAL_SECONDS)
        self.on_demand_wait = settings.ON_DEMAND_WAIT_SECONDS

    def original_path(self, photo: Photo) -> Path:
        return self.photos_dir / photo.relative_path

    # -- reading ------------------------------------------------------------------------
    def get(self, conn: sqlite3.Connection, photo_id: str) -> Photo | None:
        """The photo with this id, whoever may see it; None for an unknown or malformed id."""
        if not _PHOTO_ID.fullmatch(photo_id or ""):
            return None
        row = conn.execute(f"SELECT {_COLUMNS} FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return _photo(row) if row else None

    def visible_photo(self, conn: sqlite3.Connection, photo_id: str, access: Access) -> Photo | None:
        """The photo if ``access`` may see it, else None (exactly as if it did not exist)."""
        photo = self.get(conn, photo_id)
        if photo is None or photo.visibility not in self._visible_to(conn, photo.album_id, access):
            return None
        return photo

    def list_photos(self, conn: sqlite3.Connection, album_id: int, access: Access) -> list[Photo]:
        """The album's photos that ``access`` may see, oldest first."""
        visible = [v.value for v in self._visible_to(conn, album_id, access)]
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM photos WHERE album_id = ? AND visibility IN "
            f"({', '.join('?' * len(visible))}) ORDER BY created_at, id",
            (album_id, *visible),
        )
        return [_photo(row) for row in rows]

    def _visible_to(self, conn: sqlite3.Connection, album_id: int, access: Access) -> tuple[Visibility, ...]:
        if access.is_owner:
            return tuple(Visibility)
        if access.share_token and self.share_valid(conn, album_id, access.share_token):
            return (Visibility.PUBLIC, Visibility.SHARED)
        return (Visibility.PUBLIC,)

    def read_derivative(self, photo: Photo, size_type: str) -> tuple[Entry, bytes] | None:
        """The ``size_type`` WebP of ``photo`` and its bytes, made again from the original if evicted.

        Bytes come through the memory tier's ``"photos"`` scope. None when the
        derivative cannot be produced (the original is gone or unreadable).
        """
        entry = self.cache.lookup(photo.source_url, size_type)
        data = None if entry is None else self._read(entry)
        if data is None:
            # Evicted from the photo cache (or its file vanished): made again from the original,
            # waiting for another worker doing it no longer than a request may.
            if self.cache.get_image(photo.source_url, size_type, wait=self.on_demand_wait) is None:
                return None
            entry = self.cache.lookup(photo.source_url, size_type)
            data = None if entry is None else self._read(entry)
        return None if data is None else (entry, data)

    def _read(self, entry: Entry) -> bytes | None:
        try:
            return self.cache.read_bytes(entry, scope="photos")
        except FileNotFoundError:
            return None

    def stats(self, conn: sqlite3.Connection, album_id: int) -> dict[str, Any]:
        """``{total, public, private, shared, total_size_mb, most_viewed}`` of an album.

        ``total_size_mb`` counts the originals; ``most_viewed`` is
        ``{id, title, view_count}`` or None when nothing was viewed yet.
        """
        self.flush_views(conn)
        counts = dict(
            conn.execute("SELECT visibility, count(*) FROM photos WHERE album_id = ? GROUP BY visibility", (album_id,))
        )
        size = conn.execute("SELECT coalesce(sum(bytes), 0) FROM photos WHERE album_id = ?", (album_id,)).fetchone()[0]
        top = conn.execute(
            "SELECT id, title, view_count FROM photos WHERE album_id = ? AND view_count > 0"
            " ORDER BY view_count DESC, last_viewed_at DESC LIMIT 1",
            (album_id,),
        ).fetchone()
        body: dict[str, Any] = {v.value: counts.get(v.value, 0) for v in Visibility}
        body.update(
            total=sum(counts.values()),
            total_size_mb=round(size / (1024 * 1024), 2),
            most_viewed=dict(top) if top else None,
        )
        return body

    # -- uploading --------------------------------------------------------------------------
    def upload(
        self,
        conn: sqlite3.Connection,
        album_id: int,
        files: Sequence[Upload],
        *,
        visibility: object = "private",
        title: object = "",
        description: object = "",
    ) -> list[Photo]:
        """Check and keep every file of one upload, or none of them.

        :raises NotFound: no album ``album_id``.
        :raises InvalidPhoto: no files, a bad field, or a file that is not an accepted image.
        :raises PhotoTooLarge: a file over the size cap.
        :raises AlbumFull: the album would hold more than ``MAX_IMAGES_PER_ALBUM`` photos.
        """
        chosen = Visibility.parse(visibility)
        title = clean_text(title, TITLE_MAX, "title")
        description = clean_text(description, DESCRIPTION_MAX, "description")
        if not files:
            raise InvalidPhoto("no_files", "send one or more image files in the 'photos' field")
        self.require_album(conn, album_id)
        self._check_room(conn, album_id, len(files))
        kept: list[Photo] = []
        try:
            for upload in files:
                data = self._read_capped(upload)
                info = self._identify(upload.filename, data)
                now = time.time()
                photo = Photo(
                    id=uuid.uuid4().hex,
                    album_id=album_id,
                    visibility=chosen,
                    title=title,
                    description=description,
                    format=info.format,
                    ext=FORMAT_EXTENSIONS[info.format][0],
                    width=info.width,
                    height=info.height,
                    bytes=len(data),
                    created_at=now,
                    updated_at=now,
                )
                kept.append(photo)
                self._store_files(photo, data, upload.filename)
            self._insert(conn, album_id, kept)
        except BaseException:
            for photo in kept:
                self._remove_files(photo)
            raise
        log.info("album %d: %d photo(s) uploaded (%s)", album_id, len(kept), chosen.value)
        return kept

    def require_album(self, conn: sqlite3.Connection, album_id: int) -> None:
        """:raises NotFound: no album ``album_id``."""
        if conn.execute("SELECT 1 FROM albums WHERE id = ?", (album_id,)).fetchone() is None:
            raise NotFound("unknown_album", f"no album {album_id}")

    def _check_room(self, conn: sqlite3.Connection, album_id: int, adding: int) -> None:
        # Checked before the work (cheap) and again inside the insert (exact under concurrency).
        present = conn.execute("SELECT count(*) FROM photos WHERE album_id = ?", (album_id,)).fetchone()[0]
        if present + adding > self.max_per_album:
            raise AlbumFull(
                "album_full",
                f"an album holds at most {self.max_per_album} photos; this one has {present}, the upload adds {adding}",
            )

    def _read_capped(self, upload: Upload) -> bytes:
        """The file's bytes, reading no more than one byte past the cap."""
        data = upload.stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            limit = self.max_bytes / (1024 * 1024)
            raise PhotoTooLarge("too_large", f"{display_name(upload.filename)} is larger than {limit:g} MB")
        return data

    def _identify(self, filename: str, data: bytes) -> SourceInfo:
        """The decoded format and size, after checking extension, emptiness and header."""
        name = display_name(filename)
        suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower().lstrip(".")
        if suffix not in ALLOWED_EXTENSIONS:
            raise InvalidPhoto(
                "unsupported_extension", f"{name}: the extension must be one of {', '.join(sorted(ALLOWED_EXTENSIONS))}"
            )
        if not data:
            raise InvalidPhoto("empty_file", f"{name} is empty")
        try:
            info = identify(data, self.options)
        except SourceRefused as exc:
            raise InvalidPhoto(exc.reason, f"{name}: {exc.message}") from None
        if suffix not in FORMAT_EXTENSIONS[info.format]:
            raise InvalidPhoto(
                "format_mismatch", f"{name} is a {info.format} image, not what its .{suffix} extension says"
            )
        return info

    def _store_files(self, photo: Photo, data: bytes, filename: str) -> None:
        """Write the original, then convert it; the full decode happens here."""
        name = display_name(filename)
        try:
            self.original_path(photo).parent.mkdir(mode=0o700, exist_ok=True)
            write_atomically(
                self.original_path(photo),
                data,
                self.temp_dir,
                mode=0o600,
                reserve_bytes=self.cache.settings.min_free_disk_bytes,
            )
        except OSError as exc:
            log.error("could not store the original of %s: %s", name, exc.strerror or exc)
            raise StorageFull("storage_full", f"{name} could not be stored: {exc.strerror or 'write failed'}") from None
        if not self.cache.store_source_bytes(photo.source_url, data):
            # A refused image is in the negative cache with its reason; a failed write is not.
            reason = self.cache.failure_reason(photo.source_url)
            if reason is None:
                raise StorageFull("storage_full", f"{name}: its derivatives could not be stored (is the disk full?)")
            raise InvalidPhoto(reason, f"{name}: the image data is damaged and cannot be converted")

    def _insert(self, conn: sqlite3.Connection, album_id: int, photos: list[Photo]) -> None:
        with write_transaction(conn):
            self._check_room(conn, album_id, len(photos))
            conn.executemany(
                f"INSERT INTO photos ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                [tuple(p.as_dict().values()) for p in photos],
            )

    def _remove_files(self, photo: Photo) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.original_path(photo).unlink()
        self.cache.remove_source(photo.source_url)

    # -- editing --------------------------------------------------------------------------
    def update(
        self,
        conn: sqlite3.Connection,
        photo_id: str,
        *,
        title: object = None,
        description: object = None,
        visibility: object = None,
    ) -> Photo:
        """Change the given fields (None leaves one as it is); return the photo as stored.

        :raises NotFound: no such photo.
        :raises InvalidPhoto: a bad value.
        """
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = clean_text(title, TITLE_MAX, "title")
        if description is not None:
            changes["description"] = clean_text(description, DESCRIPTION_MAX, "description")
        if visibility is not None:
            changes["visibility"] = Visibility.parse(visibility).value
        if self.get(conn, photo_id) is None:
            raise NotFound("unknown_photo", "no such photo")
        if changes:
            assignments = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(
                f"UPDATE photos SET {assignments}, updated_at = ? WHERE id = ?",
                (*changes.values(), time.time(), photo_id),
            )
        photo = self.get(conn, photo_id)
        if photo is None:  # deleted by another request meanwhile
            raise NotFound("unknown_photo", "no such photo")
        return photo

    def delete(self, conn: sqlite3.Connection, photo_id: str) -> Photo:
        """Remove the row, the original, its derivatives and cache entries.

        The row goes first, so no request can reach the files while they are removed.

        :raises NotFound: no such photo.
        """
        photo = self.get(conn, photo_id)
        if photo is None or conn.execute("DELETE FROM photos WHERE id = ?", (photo_id,)).rowcount == 0:
            raise NotFound("unknown_photo", "no such photo")
        self._remove_files(photo)
        log.info("album %d: photo %s deleted", photo.album_id, photo.id)
        return photo

    def remove_orphans(self, conn: sqlite3.Connection) -> int:
        """Remove originals and derivatives no row refers to; return how many originals.

        They are left by a deleted album, or by an upload killed before its
        row was committed, which may also leave temporary files or a
        derivative without an index row: those are removed too. Originals
        younger than :data:`ORPHAN_GRACE_SECONDS` are spared: an upload writes
        its original before its row is committed.
        """
        known = {row[0] for row in conn.execute("SELECT id FROM photos")}
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        removed = 0
        for path in self.originals_dir.glob("*/*"):
            if path.stem not in known and _modified_before(path, cutoff):
                path.unlink(missing_ok=True)
                removed += 1
        for temp in self.temp_dir.iterdir():
            if _modified_before(temp, cutoff):
                temp.unlink(missing_ok=True)
                log.info("removed %s, left by an upload that did not finish", temp.name)
        for url in list(self.cache.cached_source_urls()):
            if PurePosixPath(url).stem not in known:
                self.cache.remove_source(url)
        self.cache.reconcile()
        for folder in self.originals_dir.iterdir():
            with contextlib.suppress(OSError):  # not empty: still in use
                folder.rmdir()
        return removed

    # -- share links ----------------------------------------------------------------------------
    def share(self, conn: sqlite3.Connection, album_id: int) -> str:
        """A new share token for the album; any earlier one stops working. Only its hash is kept.

        :raises NotFound: no album ``album_id``.
        """
        self.require_album(conn, album_id)
        token = secrets.token_urlsafe(24)
        conn.execute(
            "INSERT INTO album_shares (album_id, token_hash, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (album_id) DO UPDATE SET token_hash = excluded.token_hash,"
            " created_at = excluded.created_at",
            (album_id, _token_hash(token), time.time()),
        )
        return token

    def revoke_share(self, conn: sqlite3.Connection, album_id: int) -> bool:
        """End the album's share link; False when it had none."""
        return conn.execute("DELETE FROM album_shares WHERE album_id = ?", (album_id,)).rowcount > 0

    def share_active(self, conn: sqlite3.Connection, album_id: int) -> bool:
        return conn.execute("SELECT 1 FROM album_shares WHERE album_id = ?", (album_id,)).fetchone() is not None

    def share_valid(self, conn: sqlite3.Connection, album_id: int, token: str) -> bool:
        """Whether ``token`` is the album's live share token (compared in constant time)."""
        if not token or len(token) > SHARE_TOKEN_MAX:
            return False
        row = conn.execute("SELECT token_hash FROM album_shares WHERE album_id = ?", (album_id,)).fetchone()
        return row is not None and hmac.compare_digest(row[0], _token_hash(token))

    # -- views -----------------------------------------------------------------------------------
    def record_view(self, conn: sqlite3.Connection, photo: Photo) -> None:
        """Count a view; pending views are written once per flush interval, not per request."""
        self.views.record(photo.id)
        if self.views.due():
            self.flush_views(conn)

    def flush_views(self, conn: sqlite3.Connection) -> int:
        try:
            return self.views.flush(conn)
        except sqlite3.Error as exc:  # counts are kept for the next try; a view must not fail
            log.warning("writing photo view counts failed: %s", exc)
            return 0

    def close(self) -> None:
        """Write pending view counts (at shutdown)."""
        conn = db.connect(self.database_path)
        try:
            self.flush_views(conn)
        finally:
            conn.close()


def _modified_before(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
