"""Collection queries: grid pages, sort, filters, search, album, random pick, stats.

Every function takes an explicit :class:`sqlite3.Connection` opened with
:func:`vinylvault.db.connect` (in a request: ``db.get_db()``). Read functions
return plain dataclasses; bad parameters raise :class:`InvalidQuery`, which
pages turn into a 400 and the JSON API into ``{"error": "invalid_query"}``.

Sorting and paging. A grid page is ordered by one of :data:`SORTS`; the first
key follows ``order``, ties always ascend (artist, then year, then title, then
id), and each combination has its own index, so a page walks an index instead
of sorting the collection. Paging is keyset: :attr:`AlbumPage.next_cursor` is
an opaque string to pass back as ``after``. ``offset`` is accepted too (for
links such as ``?page=3``) but costs a walk over the skipped rows.

Unknown values: ``year`` 0 and ``date_added`` ``''`` mean unknown; an unknown
year sorts as the oldest, an unknown date added as the earliest.

Writers (sync, CSV import, demo) go through :func:`save_album` inside their
own ``BEGIN IMMEDIATE`` transaction; the search index follows by trigger, and
so does :func:`collection_version`, under which the whole-collection
aggregates (:func:`filter_options`, :func:`collection_stats`, :func:`counts`)
are cached per process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import random
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence, TypeVar

from cache_engine.files import is_storage_full

log = logging.getLogger("vinylvault.library.collection")

#: Sort name -> its columns after the first one, which carry the ties (ascending).
SORTS: dict[str, tuple[str, ...]] = {
    "artist": ("artist_sort", "year", "title_sort", "id"),
    "title": ("title_sort", "artist_sort", "id"),
    "year": ("year", "artist_sort", "title_sort", "id"),
    "added": ("date_added", "id"),
    "rating": ("rating", "artist_sort", "title_sort", "id"),
}
ORDERS = ("asc", "desc")
#: The order used when none is given: newest additions and best ratings first.
DEFAULT_ORDER = {"artist": "asc", "title": "asc", "year": "asc", "added": "desc", "rating": "desc"}
MAX_LIMIT = 500
MAX_QUERY_CHARS = 200
#: How many recent random picks are never picked again.
RANDOM_HISTORY = 20
#: Weight of an album in the random pick, by rating: unrated counts as 1 star.
RATING_WEIGHTS = {0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}

T = TypeVar("T")

_DISAMBIGUATION = re.compile(r"\s*\(\d+\)$")
_LEADING_ARTICLE = re.compile(r"^the\s+")
_TAG_KINDS = ("genre", "style", "format")


class InvalidQuery(ValueError):
    """A query parameter (sort, order, decade, cursor, limit...) cannot be used.

    ``param`` names the offending parameter; the message is one line, safe to
    show to the user.
    """

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass(frozen=True)
class Label:
    name: str
    catno: str


@dataclass(frozen=True)
class Album:
    """One owned copy. ``year`` is ``None`` when unknown; lists are display strings."""

    id: int
    release_id: int
    artist: str
    title: str
    year: int | None
    labels: list[Label]
    formats: list[str]
    genres: list[str]
    styles: list[str]
    folder: str
    rating: int
    date_added: str
    cover_url: str
    thumb_url: str
    media_condition: str
    sleeve_condition: str
    notes: str
    custom_fields: dict[str, str]
    play_count: int
    last_played: str | None
    is_demo: bool
    source: str
    updated_at: str
    master_id: int = 0

    @property
    def image_url(self) -> str:
        """The best source for the cover: the 600 px image, else the thumbnail, else ''."""
        return self.cover_url or self.thumb_url

    @property
    def catalog_numbers(self) -> list[str]:
        return [label.catno for label in self.labels if label.catno]

    @property
    def discogs_url(self) -> str | None:
        """The release page on discogs.com, or ``None`` for demo/unknown releases."""
        if self.is_demo or self.release_id <= 0:
            return None
        return f"https://www.discogs.com/release/{self.release_id}"


@dataclass(frozen=True)
class AlbumPage:
    """One grid page: ``total`` counts every match, not just this page.

    ``next_cursor`` (pass as ``after``) and ``next_offset`` are ``None`` on the
    last page.
    """

    albums: list[Album]
    total: int
    next_cursor: str | None
    next_offset: int | None


@dataclass(frozen=True)
class Track:
    position: str
    title: str
    duration: str
    type: str  # "track", "heading" or "index"


@dataclass(frozen=True)
class ReleaseDetails:
    release_id: int
    country: str
    released: str
    notes: str
    tracklist: list[Track]
    images: list[dict[str, Any]]
    image_url: str
    fetched_at: str


@dataclass(frozen=True)
class FilterOption:
    value: str  # what to pass back as the filter (display spelling; matching ignores case)
    label: str
    count: int


@dataclass(frozen=True)
class FilterOptions:
    genres: list[FilterOption]
    styles: list[FilterOption]
    decades: list[FilterOption]  # value "1970", label "1970s"; unknown years are left out
    formats: list[FilterOption]
    folders: list[FilterOption]
    media: list[FilterOption] = field(default_factory=list)  # media conditions given, most common first
    sleeve: list[FilterOption] = field(default_factory=list)  # sleeve conditions given


@dataclass(kw_only=True)
class ReleaseRecord:
    """What a collection copy and a want share: the release as Discogs' ``basic_information`` gives it."""

    release_id: int = 0
    master_id: int = 0
    artist: str = ""
    title: str = ""
    year: int = 0
    labels: list[Label] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    format_names: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    rating: int = 0
    date_added: str = ""
    cover_url: str = ""
    thumb_url: str = ""
    notes: str = ""
    sync_run: str | None = None


@dataclass
class AlbumRecord(ReleaseRecord):
    """What an importer knows about one copy; :func:`save_album` stores it.

    ``artists`` holds ``(artist_id, name)`` pairs (Discogs ids, or ``None`` to
    derive a stable negative id from the name).
    """

    id: int
    source: str
    folder: str = ""
    folder_id: int | None = None
    media_condition: str = ""
    sleeve_condition: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    artists: list[tuple[int | None, str]] = field(default_factory=list)


@dataclass
class WantRecord(ReleaseRecord):
    """What the sync knows about one release on the wantlist (``id`` is the release id); see :func:`save_want`."""

    id: int


@dataclass(frozen=True)
class Want:
    """One release on the wantlist. ``year`` is ``None`` when unknown; ``notes`` is the owner's."""

    id: int
    release_id: int
    master_id: int
    artist: str
    title: str
    year: int | None
    labels: list[Label]
    formats: list[str]
    genres: list[str]
    styles: list[str]
    rating: int
    date_added: str
    cover_url: str
    thumb_url: str
    notes: str

    @property
    def image_url(self) -> str:
        return self.cover_url or self.thumb_url

    @property
    def discogs_url(self) -> str:
        return f"https://www.discogs.com/release/{self.release_id}"


# --------------------------------------------------------------------------
# Normalization helpers shared by the importers
# --------------------------------------------------------------------------


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` used for sort keys and tag keys."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def strip_disambiguation(name: str) -> str:
    """``"Nadja (5)"`` -> ``"Nadja"``: Discogs' numeric suffix for same-named artists."""
    return _DISAMBIGUATION.sub("", name.strip())


def artist_sort_key(artist: str) -> str:
    """Sort key for an artist: no disambiguation suffix, folded, without a leading "The "."""
    return _LEADING_ARTICLE.sub("", fold(strip_disambiguation(artist)))


def title_sort_key(title: str) -> str:
    return fold(title)


def synthetic_artist_id(name: str) -> int:
    """A stable negative id for an artist known only by name (CSV, demo)."""
    digest = fold(strip_disambiguation(name)).encode("utf-8")
    return -(int.from_bytes(hashlib.sha256(digest).digest()[:7], "big") + 1)


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

_ALBUM_COLUMNS = (
    "release_id",
    "artist",
    "artist_sort",
    "title",
    "title_sort",
    "year",
    "labels",
    "formats",
    "genres",
    "styles",
    "folder",
    "folder_id",
    "rating",
    "date_added",
    "cover_url",
    "thumb_url",
    "media_condition",
    "sleeve_condition",
    "notes",
    "custom_fields",
    "is_demo",
    "source",
    "sync_run",
    "updated_at",
    "master_id",
)
_UPSERT_SQL = (
    f"INSERT INTO albums (id, {', '.join(_ALBUM_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in _ALBUM_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _ALBUM_COLUMNS)}"
)


def _record_values(record: AlbumRecord, updated_at: str) -> tuple[Any, ...]:
    return (
        record.id,
        record.release_id,
        record.artist,
        artist_sort_key(record.artist),
        record.title,
        title_sort_key(record.title),
        max(0, record.year),
        json.dumps([{"name": l.name, "catno": l.catno} for l in record.labels], ensure_ascii=False),
        json.dumps(record.formats, ensure_ascii=False),
        json.dumps(record.genres, ensure_ascii=False),
        json.dumps(record.styles, ensure_ascii=False),
        record.folder,
        record.folder_id,
        min(5, max(0, record.rating)),
        record.date_added,
        record.cover_url,
        record.thumb_url,
        record.media_condition,
        record.sleeve_condition,
        record.notes,
        json.dumps(record.custom_fields, ensure_ascii=False),
        int(record.source == "demo"),
        record.source,
        record.sync_run,
        updated_at,
        max(0, record.master_id),
    )


def save_album(conn: sqlite3.Connection, record: AlbumRecord) -> bool:
    """Insert or update one copy with its tags and artists; return True if it was new.

    Call inside the caller's ``BEGIN IMMEDIATE`` transaction. Play count and
    history are kept across updates.
    """
    existed = conn.execute("SELECT 1 FROM albums WHERE id = ?", (record.id,)).fetchone() is not None
    conn.execute(_UPSERT_SQL, _record_values(record, now_iso()))
    _save_tags(conn, "album_tags", "album_id", record)
    _save_artists(conn, record)
    return not existed


_WANT_COLUMNS = (
    "release_id",
    "master_id",
    "artist",
    "artist_sort",
    "title",
    "title_sort",
    "year",
    "labels",
    "formats",
    "genres",
    "styles",
    "rating",
    "date_added",
    "cover_url",
    "thumb_url",
    "notes",
    "sync_run",
    "updated_at",
)
_UPSERT_WANT_SQL = (
    f"INSERT INTO wants (id, {', '.join(_WANT_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in _WANT_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _WANT_COLUMNS)}"
)


def save_want(conn: sqlite3.Connection, record: WantRecord) -> bool:
    """Insert or update one want with its tags; return True if it was new. Call inside a write transaction."""
    existed = conn.execute("SELECT 1 FROM wants WHERE id = ?", (record.id,)).fetchone() is not None
    conn.execute(
        _UPSERT_WANT_SQL,
        (
            record.id,
            record.release_id,
            max(0, record.master_id),
            record.artist,
            artist_sort_key(record.artist),
            record.title,
            title_sort_key(record.title),
            max(0, record.year),
            json.dumps([{"name": l.name, "catno": l.catno} for l in record.labels], ensure_ascii=False),
            json.dumps(record.formats, ensure_ascii=False),
            json.dumps(record.genres, ensure_ascii=False),
            json.dumps(record.styles, ensure_ascii=False),
            min(5, max(0, record.rating)),
            record.date_added,
            record.cover_url,
            record.thumb_url,
            record.notes,
            record.sync_run,
            now_iso(),
        ),
    )
    _save_tags(conn, "want_tags", "want_id", record)
    return not existed


def _save_tags(conn: sqlite3.Connection, table: str, row_id: str, record: AlbumRecord | WantRecord) -> None:
    """Replace a copy's or a want's genre/style/format rows in its tag table (keys folded for matching)."""
    conn.execute(f"DELETE FROM {table} WHERE {row_id} = ?", (record.id,))
    tags = (
        [("genre", g) for g in record.genres]
        + [("style", s) for s in record.styles]
        + [("format", f) for f in record.format_names]
    )
    conn.executemany(
        f"INSERT OR IGNORE INTO {table} (kind, key, {row_id}, value) VALUES (?, ?, ?, ?)",
        [(kind, fold(value), record.id, value.strip()) for kind, value in tags if value.strip()],
    )


def _save_artists(conn: sqlite3.Connection, record: AlbumRecord) -> None:
    conn.execute("DELETE FROM album_artists WHERE album_id = ?", (record.id,))
    for position, (artist_id, name) in enumerate(record.artists):
        artist_id = artist_id if artist_id else synthetic_artist_id(name)
        conn.execute(
            "INSERT INTO artists (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            (artist_id, name),
        )
        conn.execute(
            "INSERT OR IGNORE INTO album_artists (album_id, position, artist_id) VALUES (?, ?, ?)",
            (record.id, position, artist_id),
        )


def delete_albums(conn: sqlite3.Connection, album_ids: Iterable[int]) -> int:
    """Delete copies (tags, artists links and plays follow by cascade); return how many."""
    ids = list(album_ids)
    conn.executemany("DELETE FROM albums WHERE id = ?", [(i,) for i in ids])
    return len(ids)


def save_release_details(conn: sqlite3.Connection, details: ReleaseDetails) -> None:
    """Store (or replace) a release's details; search picks up its track titles."""
    tracklist = [vars(t) for t in details.tracklist]
    track_titles = " ".join(t.title for t in details.tracklist if t.type != "heading")
    conn.execute(
        "INSERT INTO release_details (release_id, country, released, notes, tracklist, images, image_url, "
        "track_titles, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (release_id) DO UPDATE SET country = excluded.country, released = excluded.released, "
        "notes = excluded.notes, tracklist = excluded.tracklist, images = excluded.images, "
        "image_url = excluded.image_url, track_titles = excluded.track_titles, fetched_at = excluded.fetched_at",
        (
            details.release_id,
            details.country,
            details.released,
            details.notes,
            json.dumps(tracklist, ensure_ascii=False),
            json.dumps(details.images, ensure_ascii=False),
            details.image_url,
            track_titles,
            details.fetched_at,
        ),
    )


# --------------------------------------------------------------------------
# Reading one album
# --------------------------------------------------------------------------

_SELECT_ALBUM = (
    "SELECT a.id, a.release_id, a.artist, a.title, a.year, a.labels, a.formats, a.genres, a.styles, "
    "a.folder, a.rating, a.date_added, a.cover_url, a.thumb_url, a.media_condition, a.sleeve_condition, "
    "a.notes, a.custom_fields, a.play_count, a.last_played, a.is_demo, a.source, a.updated_at, a.master_id "
    "FROM albums AS a"
)
_SELECT_WANT = (
    "SELECT a.id, a.release_id, a.master_id, a.artist, a.title, a.year, a.labels, a.formats, a.genres, a.styles, "
    "a.rating, a.date_added, a.cover_url, a.thumb_url, a.notes FROM wants AS a"
)


def _listing_fields(row: sqlite3.Row) -> dict[str, Any]:
    """The columns ``albums`` and ``wants`` share, decoded: what a grid card of either needs."""
    return {
        "id": row["id"],
        "release_id": row["release_id"],
        "master_id": row["master_id"],
        "artist": row["artist"],
        "title": row["title"],
        "year": row["year"] or None,
        "labels": [Label(l.get("name") or "", l.get("catno") or "") for l in json.loads(row["labels"])],
        "formats": json.loads(row["formats"]),
        "genres": json.loads(row["genres"]),
        "styles": json.loads(row["styles"]),
        "rating": row["rating"],
        "date_added": row["date_added"],
        "cover_url": row["cover_url"],
        "thumb_url": row["thumb_url"],
        "notes": row["notes"],
    }


def _album(row: sqlite3.Row) -> Album:
    return Album(
        **_listing_fields(row),
        folder=row["folder"],
        media_condition=row["media_condition"],
        sleeve_condition=row["sleeve_condition"],
        custom_fields=json.loads(row["custom_fields"]),
        play_count=row["play_count"],
        last_played=row["last_played"],
        is_demo=bool(row["is_demo"]),
        source=row["source"],
        updated_at=row["updated_at"],
    )


def _want(row: sqlite3.Row) -> Want:
    return Want(**_listing_fields(row))


def get_album(conn: sqlite3.Connection, album_id: int) -> Album | None:
    """The copy with this id, or ``None``."""
    row = conn.execute(f"{_SELECT_ALBUM} WHERE a.id = ?", (album_id,)).fetchone()
    return _album(row) if row else None


def get_albums(conn: sqlite3.Connection, album_ids: Sequence[int]) -> list[Album]:
    """The copies with these ids, in the order given; unknown ids are skipped."""
    if not album_ids:
        return []
    marks = ", ".join("?" for _ in album_ids)
    by_id = {
        row["id"]: _album(row) for row in conn.execute(f"{_SELECT_ALBUM} WHERE a.id IN ({marks})", tuple(album_ids))
    }
    return [by_id[i] for i in album_ids if i in by_id]


def get_release_details(conn: sqlite3.Connection, release_id: int) -> ReleaseDetails | None:
    """Stored details of a release, or ``None`` if never fetched (see :func:`sync.fetch_release_details`)."""
    row = conn.execute("SELECT * FROM release_details WHERE release_id = ?", (release_id,)).fetchone()
    if row is None:
        return None
    return ReleaseDetails(
        release_id=row["release_id"],
        country=row["country"],
        released=row["released"],
        notes=row["notes"],
        tracklist=[
            Track(t.get("position", ""), t.get("title", ""), t.get("duration", ""), t.get("type", "track"))
            for t in json.loads(row["tracklist"])
        ],
        images=json.loads(row["images"]),
        image_url=row["image_url"],
        fetched_at=row["fetched_at"],
    )


def album_artist_ids(conn: sqlite3.Connection, album_id: int) -> list[tuple[int, str, str]]:
    """``(artist_id, name, image_url)`` of an album's artists, in credit order."""
    return [
        tuple(row)
        for row in conn.execute(
            "SELECT ar.id, ar.name, ar.image_url FROM album_artists AS aa JOIN artists AS ar ON ar.id = aa.artist_id "
            "WHERE aa.album_id = ? ORDER BY aa.position",
            (album_id,),
        )
    ]


# --------------------------------------------------------------------------
# Grid pages
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """A table the grid's query building serves: the collection (``albums``) or the wantlist (``wants``).

    Both name their columns alike and have a tag table and a search index
    shaped alike, so sorting, filters, keyset paging and counting are written once.
    """

    table: str
    tag_table: str
    tag_id: str  # the tag table's column naming the row
    fts: str
    select: str
    make: Callable[[sqlite3.Row], Any]


_ALBUMS = _Source("albums", "album_tags", "album_id", "albums_fts", _SELECT_ALBUM, _album)
_WANTS = _Source("wants", "want_tags", "want_id", "wants_fts", _SELECT_WANT, _want)

#: ``group`` values of the grid: one card per copy (default) or one per master (album).
GROUPS = ("master",)
#: Settings key: the name of the custom collection field holding the shelf position.
SHELF_FIELD_KEY = "shelf_field"
#: Settings key: "1" when the owner lets guests see the wantlist.
WANTS_PUBLIC_KEY = "wants_public"
#: Columns the condition filters match exactly (values as Discogs' grading dropdowns give them).
CONDITION_COLUMNS = {"media": "media_condition", "sleeve": "sleeve_condition"}


@dataclass(frozen=True)
class _Filters:
    genre: str | None = None
    style: str | None = None
    decade: int | None = None
    format: str | None = None
    folder: str | None = None
    q: str | None = None
    media: str | None = None
    sleeve: str | None = None
    shelf: str | None = None
    shelf_field: str | None = None
    duplicates: bool = False
    group: str | None = None

    def only_tags(self) -> bool:
        """True when nothing but genre/style/format filters is set (the tag index can count alone)."""
        return (
            self.decade is None
            and not self.folder
            and not self.q
            and not self.media
            and not self.sleeve
            and not self.shelf
            and not self.duplicates
            and not self.group
        )


def _check_sort(sort: str, order: str | None) -> tuple[str, str]:
    if sort not in SORTS:
        raise InvalidQuery("sort", f"must be one of {', '.join(SORTS)}")
    order = order or DEFAULT_ORDER[sort]
    if order not in ORDERS:
        raise InvalidQuery("order", "must be asc or desc")
    return sort, order


def _check_decade(decade: int | str | None) -> int | None:
    if decade is None or decade == "":
        return None
    try:
        value = int(decade)
    except (TypeError, ValueError):
        raise InvalidQuery("decade", "must be a year ending in 0, such as 1970") from None
    if value % 10 or not 1000 <= value <= 2990:
        raise InvalidQuery("decade", "must be a year ending in 0, such as 1970")
    return value


def _check_text(name: str, value: str | None, limit: int = MAX_QUERY_CHARS) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidQuery(name, f"must be at most {limit} characters")
    return value or None


def _check_flag(name: str, value: bool | str | None) -> bool:
    if value in (None, "", False, "0"):
        return False
    if value in (True, "1"):
        return True
    raise InvalidQuery(name, "must be 1 or left out")


def _check_group(group: str | None) -> str | None:
    if not group:
        return None
    if group not in GROUPS:
        raise InvalidQuery("group", f"must be one of {', '.join(GROUPS)} or left out")
    return group


def _shelf_filter(conn: sqlite3.Connection, shelf: str | None) -> tuple[str | None, str | None]:
    """``(value, field name)`` of the "where is it?" filter; it needs a shelf field chosen by the owner."""
    value = _check_text("shelf", shelf)
    if value is None:
        return None, None
    field_name = get_setting(conn, SHELF_FIELD_KEY, "") or ""
    if not field_name:
        raise InvalidQuery("shelf", "no shelf field is chosen yet (the owner picks it on the sync page)")
    return value, field_name


def _filters(
    conn: sqlite3.Connection,
    genre: str | None,
    style: str | None,
    decade: int | str | None,
    format: str | None,
    folder: str | None,
    q: str | None,
    media: str | None = None,
    sleeve: str | None = None,
    shelf: str | None = None,
    duplicates: bool | str | None = None,
    group: str | None = None,
) -> _Filters:
    """Checked filters; :class:`InvalidQuery` names the first unusable one."""
    shelf_value, shelf_field = _shelf_filter(conn, shelf)
    return _Filters(
        genre=_check_text("genre", genre),
        style=_check_text("style", style),
        decade=_check_decade(decade),
        format=_check_text("format", format),
        folder=_check_text("folder", folder),
        q=_check_text("q", q),
        media=_check_text("media", media),
        sleeve=_check_text("sleeve", sleeve),
        shelf=shelf_value,
        shelf_field=shelf_field,
        duplicates=_check_flag("duplicates", duplicates),
        group=_check_group(group),
    )


def fts_query(q: str) -> str | None:
    """Turn free text into a safe FTS5 query: every word quoted, prefix-matched, all required.

    Quoting each term makes FTS syntax (``AND``, ``NEAR``, ``*``, ``:``,
    ``"``) plain text, so user input can never be a syntax error or reach
    other columns. NUL is dropped: FTS5 would end the quoted term there.
    Returns ``None`` when nothing searchable remains.
    """
    terms = [term.replace('"', "").replace("\x00", "") for term in q.split()]
    quoted = [f'"{term}"*' for term in terms if term.strip()]
    return " ".join(quoted) or None


@dataclass(frozen=True)
class _Tag:
    kind: str
    key: str
    albums: int  # how many albums carry it (from the cached filter options)


def _tags(conn: sqlite3.Connection, filters: _Filters, source: _Source = _ALBUMS) -> list[_Tag]:
    """The genre/style/format filters, rarest first."""
    options = filter_options(conn) if source is _ALBUMS else want_filter_options(conn)
    choices = {"genre": options.genres, "style": options.styles, "format": options.formats}
    tags = []
    for kind, value in (("genre", filters.genre), ("style", filters.style), ("format", filters.format)):
        if value:
            key = fold(value)
            albums = next((o.count for o in choices[kind] if fold(o.value) == key), 0)
            tags.append(_Tag(kind, key, albums))
    return sorted(tags, key=lambda tag: tag.albums)


def _tag_match(tags: list[_Tag], source: _Source = _ALBUMS) -> tuple[str, list[Any]]:
    """A SELECT of the ids of rows (albums or wants) carrying every tag.

    It reads the rarest tag's rows and probes the others by primary key, so
    "Dub + Vinyl" costs the Dub albums, not the thousands on vinyl.
    """
    first, *others = tags
    table, row_id = source.tag_table, source.tag_id
    sql = f"SELECT t0.{row_id} FROM {table} AS t0 WHERE t0.kind = ? AND t0.key = ?"
    params: list[Any] = [first.kind, first.key]
    for n, tag in enumerate(others, 1):
        sql += (
            f" AND EXISTS (SELECT 1 FROM {table} AS t{n} WHERE t{n}.kind = ? AND t{n}.key = ?"
            f" AND t{n}.{row_id} = t0.{row_id})"
        )
        params += [tag.kind, tag.key]
    return sql, params


def _like_prefix(value: str) -> str:
    """``value`` as a LIKE pattern matching text that starts with it (``%`` and ``_`` taken literally)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _copy_filters(filters: _Filters) -> tuple[list[str], list[Any]]:
    """Clauses only copies have: conditions, shelf position, duplicates, one card per master."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, column in CONDITION_COLUMNS.items():
        value = getattr(filters, name)
        if value:
            clauses.append(f"a.{column} = ? COLLATE NOCASE")
            params.append(value)
    if filters.shelf:
        # The position lives in the owner's custom field of that name (custom_fields JSON).
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(a.custom_fields) AS f WHERE f.key = ? AND f.value LIKE ? ESCAPE '\\')"
        )
        params += [filters.shelf_field, _like_prefix(filters.shelf)]
    if filters.duplicates:
        clauses.append(
            "a.release_id IN (SELECT release_id FROM albums WHERE release_id > 0 "
            "GROUP BY release_id HAVING count(*) > 1)"
        )
    if filters.group == "master":
        # The card of a master is its copy with the lowest id; copies without a master stand alone.
        clauses.append(
            "NOT (a.master_id > 0 AND EXISTS (SELECT 1 FROM albums AS g "
            "WHERE g.master_id = a.master_id AND g.id < a.id))"
        )
    return clauses, params


def _where(filters: _Filters, tags: list[_Tag], walk: bool = True, source: _Source = _ALBUMS) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters; ``walk`` picks the query shape for the tags.

    Walking ("+a.id", no index on the membership test): the matching ids are
    collected once and tested while the sort index is walked, so a common
    genre never sorts thousands of rows. Otherwise SQLite fetches the
    matching albums by id and sorts them: cheaper when few match (see
    :func:`_walk_costs_more`).
    """
    clauses, params = _copy_filters(filters)
    if tags:
        match_sql, match_params = _tag_match(tags, source)
        clauses.append(f"{'+' if walk else ''}a.id IN ({match_sql})")
        params += match_params
    if filters.decade is not None:
        clauses.append("a.year BETWEEN ? AND ?")
        params += [filters.decade, filters.decade + 9]
    if filters.folder:
        clauses.append("a.folder = ?")
        params.append(filters.folder)
    if filters.q:
        match = fts_query(filters.q)
        if match is None:
            clauses.append("0")
        else:
            clauses.append(f"a.id IN (SELECT rowid FROM {source.fts} WHERE {source.fts} MATCH ?)")
            params.append(match)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _walk_costs_more(
    conn: sqlite3.Connection, tags: list[_Tag], total: int, rows_needed: int, source: _Source = _ALBUMS
) -> bool:
    """Whether fetching the rarest tag's albums and sorting them beats walking the sort index.

    A walk reads about ``albums * rows_needed / total`` index entries before
    the page is full (every album when few match); fetching reads the rarest
    tag's albums and sorts the matches (counted twice for the sort).
    """
    if not tags:
        return False
    albums = counts(conn)["albums"] if source is _ALBUMS else want_count(conn)
    walked = albums * min(1.0, rows_needed / max(total, 1))
    return 2 * tags[0].albums <= walked


def _count(
    conn: sqlite3.Connection,
    filters: _Filters,
    tags: list[_Tag],
    where: str,
    params: list[Any],
    source: _Source = _ALBUMS,
) -> int:
    """How many albums match; tag-only filters are counted in the tag index alone.

    Counting through ``albums`` costs a lookup per candidate row (about 10 ms
    for a common genre at 10,000 albums); the tag index answers in a fraction.
    """
    if not tags or not filters.only_tags():
        return conn.execute(f"SELECT count(*) FROM {source.table} AS a{where}", params).fetchone()[0]
    match_sql, match_params = _tag_match(tags, source)
    return conn.execute(f"SELECT count(*) FROM ({match_sql})", match_params).fetchone()[0]


def _order_by(sort: str, order: str, reverse: bool = False) -> str:
    first, *ties = SORTS[sort]
    first_dir = "DESC" if (order == "desc") != reverse else "ASC"
    tie_dir = "DESC" if reverse else "ASC"
    return ", ".join([f"a.{first} {first_dir}"] + [f"a.{tie} {tie_dir}" for tie in ties])


def _after(sort: str, order: str, key: Sequence[Any], reverse: bool = False) -> tuple[str, list[Any]]:
    """Rows strictly after ``key`` in the sort: first key in ``order``, ties ascending.

    The leading ``first >= ?`` (or ``<=``) is redundant with the OR but lets
    SQLite start the index walk at the key instead of the beginning.
    """
    first, *ties = SORTS[sort]
    forward = (order == "asc") != reverse
    op, op_eq = (">", ">=") if forward else ("<", "<=")
    tie_op = "<" if reverse else ">"
    ties_sql = ", ".join(f"a.{t}" for t in ties)
    marks = ", ".join("?" for _ in ties)
    sql = f"a.{first} {op_eq} ? AND (a.{first} {op} ? OR (a.{first} = ? AND ({ties_sql}) {tie_op} ({marks})))"
    return sql, [key[0], key[0], key[0], *key[1:]]


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(sort: str, cursor: str) -> list[Any]:
    """The sort key inside a cursor made by :func:`encode_cursor`; :class:`InvalidQuery` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidQuery("after", "is not a cursor from this site") from None
    columns = SORTS[sort]
    if (
        not isinstance(key, list)
        or len(key) != len(columns)
        or not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in key)
    ):
        raise InvalidQuery("after", "does not belong to this sort")
    return key


def _sort_key_sql(sort: str) -> str:
    return ", ".join(f"a.{c}" for c in SORTS[sort])


def list_albums(
    conn: sqlite3.Connection,
    *,
    sort: str = "artist",
    order: str | None = None,
    genre: str | None = None,
    style: str | None = None,
    decade: int | str | None = None,
    format: str | None = None,
    folder: str | None = None,
    q: str | None = None,
    media: str | None = None,
    sleeve: str | None = None,
    shelf: str | None = None,
    duplicates: bool | str | None = None,
    group: str | None = None,
    limit: int = 48,
    after: str | None = None,
    offset: int | None = None,
) -> AlbumPage:
    """One page of the grid.

    ``sort`` is one of :data:`SORTS`; ``order`` defaults to :data:`DEFAULT_ORDER`.
    Filters combine with AND: ``genre``/``style``/``format`` match a tag
    ignoring case and accents, ``decade`` is a year ending in 0 (``1970``
    means 1970-1979), ``folder`` is a folder name, ``q`` is free text matched
    by prefix against artist, title, labels, catalog numbers and track titles,
    ``media``/``sleeve`` a condition (ignoring case), ``shelf`` the start of
    the shelf position (the custom field named by :data:`SHELF_FIELD_KEY`),
    ``duplicates`` (``"1"``) only releases owned more than once, and
    ``group="master"`` one card per master: its first copy (lowest id) among
    all copies, shown when it matches the other filters.
    Page with ``after`` (a cursor) or ``offset``, not both.

    Raises :class:`InvalidQuery` for any unusable parameter.
    """
    filters = _filters(conn, genre, style, decade, format, folder, q, media, sleeve, shelf, duplicates, group)
    return _list_page(conn, _ALBUMS, filters, sort, order, limit, after, offset)


def list_wants(
    conn: sqlite3.Connection,
    *,
    sort: str = "artist",
    order: str | None = None,
    genre: str | None = None,
    style: str | None = None,
    decade: int | str | None = None,
    format: str | None = None,
    q: str | None = None,
    limit: int = 48,
    after: str | None = None,
    offset: int | None = None,
) -> AlbumPage:
    """One page of the wantlist, sorted, filtered and paged exactly like :func:`list_albums`.

    ``q`` matches artist, title, labels and catalog numbers. The page's
    ``albums`` are :class:`Want` objects.
    """
    filters = _filters(conn, genre, style, decade, format, None, q)
    return _list_page(conn, _WANTS, filters, sort, order, limit, after, offset)


def _list_page(
    conn: sqlite3.Connection,
    source: _Source,
    filters: _Filters,
    sort: str,
    order: str | None,
    limit: int,
    after: str | None,
    offset: int | None,
) -> AlbumPage:
    sort, order = _check_sort(sort, order)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
    if after and offset:
        raise InvalidQuery("after", "cannot be combined with offset")
    if offset is not None and (not isinstance(offset, int) or offset < 0):
        raise InvalidQuery("offset", "must be 0 or more")
    tags = _tags(conn, filters, source)
    where, params = _where(filters, tags, source=source)
    total = _count(conn, filters, tags, where, params, source)
    if _walk_costs_more(conn, tags, total, (offset or 0) + limit + 1, source):
        where, params = _where(filters, tags, walk=False, source=source)

    page_where, page_params = where, list(params)
    if after:
        after_sql, after_params = _after(sort, order, decode_cursor(sort, after))
        page_where = f"{where} AND {after_sql}" if where else f" WHERE {after_sql}"
        page_params += after_params
    # The sort key columns come last in each row: the cursor is read from them.
    table_sql = f"FROM {source.table} AS a"
    sql = source.select.replace(table_sql, f", {_sort_key_sql(sort)} {table_sql}")
    sql += f"{page_where} ORDER BY {_order_by(sort, order)} LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*page_params, limit + 1, offset or 0]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(tuple(rows[-1])[-len(SORTS[sort]) :]) if more and rows else None
    next_offset = (offset or 0) + limit if more and not after else None
    return AlbumPage([source.make(row) for row in rows], total, next_cursor, next_offset)


def neighbours(
    conn: sqlite3.Connection,
    album_id: int,
    *,
    sort: str = "artist",
    order: str | None = None,
    genre: str | None = None,
    style: str | None = None,
    decade: int | str | None = None,
    format: str | None = None,
    folder: str | None = None,
    q: str | None = None,
    media: str | None = None,
    sleeve: str | None = None,
    shelf: str | None = None,
    duplicates: bool | str | None = None,
    group: str | None = None,
) -> tuple[int | None, int | None]:
    """``(previous_id, next_id)`` of an album in a grid's sort and filters (``None`` at the ends).

    Takes the same parameters as :func:`list_albums`; an unknown album gives
    ``(None, None)``.
    """
    sort, order = _check_sort(sort, order)
    filters = _filters(conn, genre, style, decade, format, folder, q, media, sleeve, shelf, duplicates, group)
    key = conn.execute(f"SELECT {_sort_key_sql(sort)} FROM albums AS a WHERE a.id = ?", (album_id,)).fetchone()
    if key is None:
        return None, None
    where, params = _where(filters, _tags(conn, filters))
    found: list[int | None] = []
    for reverse in (True, False):
        after_sql, after_params = _after(sort, order, tuple(key), reverse=reverse)
        clause = f"{where} AND {after_sql}" if where else f" WHERE {after_sql}"
        row = conn.execute(
            f"SELECT a.id FROM albums AS a{clause} ORDER BY {_order_by(sort, order, reverse)} LIMIT 1",
            [*params, *after_params],
        ).fetchone()
        found.append(row[0] if row else None)
    return found[0], found[1]


@dataclass(frozen=True)
class SearchResult:
    albums: list[Album]
    total: int


#: Beyond this many matches a search lists its albums in the grid's artist order instead of
#: ranking them: BM25 scores every match before the first page is known, so a word found in
#: a quarter of a 100,000-album collection would cost ten times what it costs at 10,000.
RANKED_MATCHES = 1000


def search(conn: sqlite3.Connection, q: str, limit: int = 48, offset: int = 0) -> SearchResult:
    """Albums matching free text, best first (BM25; artist and title weigh most).

    Every word must match the start of a word in artist, title, label,
    catalog number or track title; case and accents are ignored. Text that
    leaves nothing to search gives an empty result, never an error. When
    more than :data:`RANKED_MATCHES` albums match, the words are too common
    to rank by: the matches come in the grid's artist order (artist, year,
    title, id), a page read from the artist index, its cost bounded by the
    page and not by the number of matches.
    """
    q = _check_text("q", q) or ""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidQuery("offset", "must be 0 or more")
    match = fts_query(q)
    if match is None:
        return SearchResult([], 0)
    total = conn.execute("SELECT count(*) FROM albums_fts WHERE albums_fts MATCH ?", (match,)).fetchone()[0]
    if total > RANKED_MATCHES:
        # INDEXED BY: walking the artist index and stopping after the page beats sorting every match.
        sql = (
            "SELECT a.id FROM albums AS a INDEXED BY albums_by_artist "
            "WHERE a.id IN (SELECT rowid FROM albums_fts WHERE albums_fts MATCH ?) "
            f"ORDER BY {_sort_key_sql('artist')} LIMIT ? OFFSET ?"
        )
    else:
        sql = (
            "SELECT rowid FROM albums_fts WHERE albums_fts MATCH ? "
            "ORDER BY bm25(albums_fts, 10.0, 8.0, 3.0, 3.0, 1.0), rowid LIMIT ? OFFSET ?"
        )
    ids = [row[0] for row in conn.execute(sql, (match, limit, offset))]
    return SearchResult(get_albums(conn, ids), total)


# --------------------------------------------------------------------------
# Filters, statistics
# --------------------------------------------------------------------------

#: Cached results kept per process; beyond this many keys the cache starts over.
MAX_CACHED_RESULTS = 16
_cache_lock = threading.Lock()
_cache: dict[tuple[Any, ...], tuple[tuple[str, int], Any]] = {}


def collection_version(conn: sqlite3.Connection) -> tuple[str, int]:
    """``(epoch, version)``: changes whenever an album or tag is written (migration 0004's triggers).

    ``epoch`` is unique to the database file, ``version`` counts changes; one
    primary-key read.
    """
    epoch, version = conn.execute("SELECT epoch, version FROM collection_version WHERE id = 1").fetchone()
    return epoch, version


def cached(conn: sqlite3.Connection, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``'s result, reused by this process while :func:`collection_version` is unchanged.

    For whole-collection aggregates that cost tens of milliseconds at 10,000
    albums and change only when the collection does. The version is read
    *before* computing: a write committed meanwhile can only make the stored
    result look older than it is (recomputed next time), never newer. Results
    are shared between callers, who must not modify them.
    """
    stamp = collection_version(conn)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    value = compute()
    with _cache_lock:
        if len(_cache) >= MAX_CACHED_RESULTS and key not in _cache:
            _cache.clear()
        _cache[key] = (stamp, value)
    return value


def _tag_options(conn: sqlite3.Connection, kind: str, source: _Source = _ALBUMS) -> list[FilterOption]:
    # min(value) picks one display spelling when copies differ only in case.
    return [
        FilterOption(row[0], row[0], row[1])
        for row in conn.execute(
            f"SELECT min(value), count(*) AS n FROM {source.tag_table} WHERE kind = ? GROUP BY key "
            "ORDER BY n DESC, key",
            (kind,),
        )
    ]


def _decade_options(conn: sqlite3.Connection, source: _Source = _ALBUMS) -> list[FilterOption]:
    return [
        FilterOption(str(row[0]), f"{row[0]}s", row[1])
        for row in conn.execute(
            f"SELECT (year / 10) * 10 AS decade, count(*) FROM {source.table} WHERE year > 0 "
            "GROUP BY decade ORDER BY decade"
        )
    ]


def filter_options(conn: sqlite3.Connection) -> FilterOptions:
    """Every value each filter can take, with how many albums have it (most common first).

    Cached per process until the collection changes (see :func:`cached`).
    """
    return cached(conn, ("filter_options",), lambda: _filter_options(conn))


def _filter_options(conn: sqlite3.Connection) -> FilterOptions:
    folders = [
        FilterOption(row[0], row[0], row[1])
        for row in conn.execute(
            "SELECT folder, count(*) AS n FROM albums WHERE folder != '' GROUP BY folder ORDER BY folder"
        )
    ]
    return FilterOptions(
        genres=_tag_options(conn, "genre"),
        styles=_tag_options(conn, "style"),
        decades=_decade_options(conn),
        formats=_tag_options(conn, "format"),
        folders=folders,
        media=_condition_options(conn, "media_condition"),
        sleeve=_condition_options(conn, "sleeve_condition"),
    )


def _condition_options(conn: sqlite3.Connection, column: str) -> list[FilterOption]:
    return [
        FilterOption(row[0], row[0], row[1])
        for row in conn.execute(
            f"SELECT min({column}), count(*) AS n FROM albums WHERE {column} != '' "
            f"GROUP BY {column} COLLATE NOCASE ORDER BY n DESC, 1"
        )
    ]


def want_filter_options(conn: sqlite3.Connection) -> FilterOptions:
    """The wantlist's genres, styles, decades and formats with their counts (no folders or conditions).

    Cached per process like :func:`filter_options`.
    """
    return cached(conn, ("want_filter_options",), lambda: _want_filter_options(conn))


def _want_filter_options(conn: sqlite3.Connection) -> FilterOptions:
    return FilterOptions(
        genres=_tag_options(conn, "genre", _WANTS),
        styles=_tag_options(conn, "style", _WANTS),
        decades=_decade_options(conn, _WANTS),
        formats=_tag_options(conn, "format", _WANTS),
        folders=[],
    )


@dataclass(frozen=True)
class CollectionStats:
    albums: int
    artists: int
    rated: int
    plays: int
    unknown_year: int
    by_genre: list[FilterOption]
    by_decade: list[FilterOption]
    by_format: list[FilterOption]
    newest: list[Album]


def collection_stats(conn: sqlite3.Connection, newest: int = 10) -> CollectionStats:
    """Totals, counts by genre/decade/format and the ``newest`` latest additions.

    Cached per process until the collection changes (see :func:`cached`).
    """
    return cached(conn, ("collection_stats", newest), lambda: _collection_stats(conn, newest))


def _collection_stats(conn: sqlite3.Connection, newest: int) -> CollectionStats:
    albums, artists, rated, plays, unknown = conn.execute(
        "SELECT count(*), count(DISTINCT artist_sort), count(*) FILTER (WHERE rating > 0), "
        "coalesce(sum(play_count), 0), count(*) FILTER (WHERE year = 0) FROM albums"
    ).fetchone()
    newest_albums = [
        _album(row) for row in conn.execute(f"{_SELECT_ALBUM} ORDER BY a.date_added DESC, a.id DESC LIMIT ?", (newest,))
    ]
    return CollectionStats(
        albums=albums,
        artists=artists,
        rated=rated,
        plays=plays,
        unknown_year=unknown,
        by_genre=_tag_options(conn, "genre"),
        by_decade=_decade_options(conn),
        by_format=_tag_options(conn, "format"),
        newest=newest_albums,
    )


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """``{"albums": n, "discogs": n, "csv": n, "demo": n}``: cheap, for headers and /health.

    Cached per process until the collection changes; the dict is the caller's own.
    """
    return dict(cached(conn, ("counts",), lambda: _counts(conn)))


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    result = {"albums": 0, "discogs": 0, "csv": 0, "demo": 0}
    for source, n in conn.execute("SELECT source, count(*) FROM albums GROUP BY source"):
        result[source] = n
        result["albums"] += n
    return result


def want_count(conn: sqlite3.Connection) -> int:
    """How many releases are on the stored wantlist; cached per process like :func:`counts`."""
    return cached(conn, ("want_count",), lambda: conn.execute("SELECT count(*) FROM wants").fetchone()[0])


def all_cover_urls(conn: sqlite3.Connection) -> list[str]:
    """Every distinct cover source URL (cover, else thumbnail) of copies and wants.

    For the image sync and orphan cleanup: wanted releases' covers live in
    the same cache.
    """
    return [
        row[0]
        for row in conn.execute(
            "SELECT CASE WHEN cover_url != '' THEN cover_url ELSE thumb_url END AS url FROM albums WHERE url != '' "
            "UNION SELECT CASE WHEN cover_url != '' THEN cover_url ELSE thumb_url END AS url FROM wants "
            "WHERE url != '' ORDER BY url"
        )
    ]


# --------------------------------------------------------------------------
# Pressings, duplicates, the wantlist beside a copy
# --------------------------------------------------------------------------


def other_pressings(conn: sqlite3.Connection, album: Album) -> list[Album]:
    """The other copies of the same master (other pressings, and further copies of this release), oldest first."""
    if album.master_id <= 0:
        return []
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM albums WHERE master_id = ? AND id != ? ORDER BY year, id", (album.master_id, album.id)
        )
    ]
    return get_albums(conn, ids)


def wanted_pressings(conn: sqlite3.Connection, album: Album) -> list[Want]:
    """Wantlist releases of this copy's master (or of its release, when it has no master)."""
    return [
        _want(row)
        for row in conn.execute(
            f"{_SELECT_WANT} WHERE (a.master_id = ? AND a.master_id > 0) OR a.release_id = ? ORDER BY a.year, a.id",
            (album.master_id, album.release_id),
        )
    ]


@dataclass(frozen=True)
class Pressings:
    """How many distinct releases (pressings) and copies a master has in the collection."""

    releases: int
    copies: int


def pressings_by_master(conn: sqlite3.Connection, albums: Sequence[Album]) -> dict[int, Pressings]:
    """For a grid page grouped by master: ``{master_id: Pressings}`` of the page's masters, one query."""
    masters = sorted({a.master_id for a in albums if a.master_id > 0})
    if not masters:
        return {}
    marks = ", ".join("?" for _ in masters)
    return {
        row[0]: Pressings(row[1], row[2])
        for row in conn.execute(
            f"SELECT master_id, count(DISTINCT release_id), count(*) FROM albums WHERE master_id IN ({marks}) "
            "GROUP BY master_id",
            masters,
        )
    }


# --------------------------------------------------------------------------
# Collection value over time
# --------------------------------------------------------------------------

VALUE_KEYS = ("minimum", "median", "maximum")
#: Characters that only ever group thousands in a price ("1 234,56", "1'234.56"), never mark decimals.
_GROUPING_ONLY = " \u00a0\u202f'"
_MONEY = re.compile(r"^(?P<before>[^\d\s.,\-]*)\s*(?P<number>\d[\d.,'\u00a0\u202f ]*)\s*(?P<after>[^\d\s.,\-]*)$")


class MoneyFormatError(ValueError):
    """A value string cannot be read as an amount without guessing; the message says why, for the owner."""


@dataclass(frozen=True)
class Money:
    """An amount and its currency exactly as written (``"€"``, ``"CA$"``, ``"SEK"``), before or after it."""

    currency: str
    amount: Decimal


def _decimal_mark(number: str) -> str | None:
    """Which of ``.`` and ``,`` marks decimals in ``number`` (``None``: none); :class:`MoneyFormatError` if unclear.

    Unambiguous: both marks ("1,234.56": the last one is decimal), one mark
    repeated ("1,234,567": thousands), or one mark followed by one or two
    digits ("12,34"). One mark followed by exactly three digits ("1,234",
    "1.234") is a thousands group or three decimals depending on the
    currency's locale, which Discogs does not say: refused.
    """
    marks = [ch for ch in number if ch in ".,"]
    if not marks:
        return None
    last = marks[-1]
    if len(set(marks)) == 2:
        if marks.count(last) != 1:
            raise MoneyFormatError(f"{number!r} uses both separators more than once")
        return last
    tail = number.rsplit(last, 1)[1]
    if len(marks) > 1:
        return None
    if len(tail) in (1, 2):
        return last
    raise MoneyFormatError(f"{number!r} could be thousands or decimals")


def _check_groups(digits_before: str, grouping: str) -> None:
    """Thousands groups must be 1-3 digits, then exactly 3 ("1,234,567"), or the number is not a price."""
    groups = re.split(f"[{re.escape(grouping)}]", digits_before) if grouping else [digits_before]
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise MoneyFormatError(f"{digits_before!r} is not grouped in thousands")


def parse_money(text: str) -> Money:
    """Read a collection value string ("€1,234.56", "$12.00", "1.234,56 €") without guessing.

    The currency is what surrounds the number, kept as written; the decimal
    mark is inferred only when the string leaves one reading (see
    :func:`_decimal_mark`). Raises :class:`MoneyFormatError` otherwise.
    """
    match = _MONEY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise MoneyFormatError(f"{text!r} is not an amount")
    before, number, after = match["before"], match["number"].strip(), match["after"]
    if bool(before) == bool(after):
        raise MoneyFormatError(f"{text!r} has no single currency sign or code")
    mark = _decimal_mark(number)
    whole, _, fraction = number.rpartition(mark) if mark else (number, "", "")
    grouping = "".join(sorted({ch for ch in whole if not ch.isdigit()}))
    if len(grouping) > 1:
        raise MoneyFormatError(f"{text!r} mixes thousands separators")
    _check_groups(whole, grouping)
    digits = "".join(ch for ch in whole if ch.isdigit())
    return Money(before or after, Decimal(f"{digits}.{fraction}" if fraction else digits))


@dataclass(frozen=True)
class ValueSnapshot:
    """One dated collection value as Discogs gave it, and what could be read of it.

    ``currency`` and ``amounts`` (minimum, median, maximum) are ``None`` when
    ``problem`` says why the strings were not read as numbers.
    """

    taken_at: str
    minimum: str
    median: str
    maximum: str
    currency: str | None
    amounts: tuple[Decimal, Decimal, Decimal] | None
    problem: str | None


def save_value_snapshot(conn: sqlite3.Connection, value: Any) -> bool:
    """Keep a ``/collection/value`` answer as a new dated row (never overwritten); False if it is not one.

    The three strings are stored as given. Call inside a write transaction.
    """
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in VALUE_KEYS):
        return False
    conn.execute(
        "INSERT INTO collection_value (taken_at, minimum, median, maximum) VALUES (?, ?, ?, ?)",
        (now_iso(), *(value[k].strip()[:64] for k in VALUE_KEYS)),
    )
    return True


def _read_snapshot(row: sqlite3.Row) -> ValueSnapshot:
    raw = tuple(row[k] for k in VALUE_KEYS)
    try:
        parsed = [parse_money(text) for text in raw]
    except MoneyFormatError as exc:
        return ValueSnapshot(row["taken_at"], *raw, None, None, str(exc))
    if len({m.currency for m in parsed}) != 1:
        return ValueSnapshot(row["taken_at"], *raw, None, None, "the three figures are in different currencies")
    return ValueSnapshot(row["taken_at"], *raw, parsed[0].currency, tuple(m.amount for m in parsed), None)


#: Snapshots shown on /stats: about three years of daily syncs.
MAX_VALUE_SNAPSHOTS = 1000


def value_history(conn: sqlite3.Connection, limit: int = MAX_VALUE_SNAPSHOTS) -> list[ValueSnapshot]:
    """The latest ``limit`` value snapshots, oldest first, each read by :func:`parse_money`."""
    rows = conn.execute(
        "SELECT * FROM (SELECT * FROM collection_value ORDER BY id DESC LIMIT ?) ORDER BY id", (limit,)
    ).fetchall()
    return [_read_snapshot(row) for row in rows]


# --------------------------------------------------------------------------
# Writes from browsing: random pick, plays, settings
# --------------------------------------------------------------------------


class write_transaction:
    """``with write_transaction(conn):`` runs the block in ``BEGIN IMMEDIATE`` ... ``COMMIT``.

    Immediate, because a deferred transaction that reads then writes fails
    with "database is locked" when another process writes meanwhile.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
            self.conn.execute("ROLLBACK")


def _weighted_pick(conn: sqlite3.Connection, excluded: list[int], rng: random.Random) -> int | None:
    """Pick a rating in proportion to (albums with it) x (its weight), then an album with it uniformly.

    Costs two index walks over the rating index, never a read of every album.
    """
    # "id NOT IN (NULL)" would match nothing, so the empty case keeps a valid, always-true list.
    marks = ", ".join("?" for _ in excluded) or "SELECT NULL WHERE 0"
    buckets = conn.execute(
        f"SELECT rating, count(*) FROM albums WHERE id NOT IN ({marks}) GROUP BY rating", excluded
    ).fetchall()
    weights = [RATING_WEIGHTS[rating] * n for rating, n in buckets]
    if not weights:
        return None
    rating, n = rng.choices(buckets, weights=weights)[0]
    row = conn.execute(
        f"SELECT id FROM albums WHERE rating = ? AND id NOT IN ({marks}) ORDER BY rating, artist_sort, "
        "title_sort, id LIMIT 1 OFFSET ?",
        [rating, *excluded, rng.randrange(n)],
    ).fetchone()
    return row[0]


def random_album(conn: sqlite3.Connection, rng: random.Random | None = None) -> Album | None:
    """A random album, weighted by rating, never one of the last picks; ``None`` if the collection is empty.

    Weights are :data:`RATING_WEIGHTS`: an n-star album is n times as likely
    as an unrated or 1-star one (5 stars = 5x). The last
    :data:`RANDOM_HISTORY` picks are excluded (when the collection is that
    small, every album but one). The pick is recorded.
    """
    rng = rng or random.SystemRandom()
    try:
        with write_transaction(conn):
            picked = _pick_outside_history(conn, rng)
            if picked is None:
                return None
            conn.execute("INSERT INTO random_picks (album_id, picked_at) VALUES (?, ?)", (picked, now_iso()))
            conn.execute(
                "DELETE FROM random_picks WHERE id <= (SELECT max(id) FROM random_picks) - ?", (RANDOM_HISTORY,)
            )
    except sqlite3.OperationalError as exc:
        if not is_storage_full(exc):
            raise
        log.warning("the disk is full: this random pick is not remembered (%s)", exc)
        picked = _pick_outside_history(conn, rng)
        if picked is None:
            return None
    return get_album(conn, picked)


def _pick_outside_history(conn: sqlite3.Connection, rng: random.Random) -> int | None:
    total = conn.execute("SELECT count(*) FROM albums").fetchone()[0]
    if total == 0:
        return None
    history = min(RANDOM_HISTORY, total - 1)
    excluded = (
        [row[0] for row in conn.execute("SELECT album_id FROM random_picks ORDER BY id DESC LIMIT ?", (history,))]
        if history
        else []
    )
    picked = _weighted_pick(conn, excluded, rng)
    if picked is None:  # every remaining album was deleted from under the history
        picked = _weighted_pick(conn, [], rng)
    return picked


def recent_random_picks(conn: sqlite3.Connection) -> list[int]:
    """Album ids of the last :data:`RANDOM_HISTORY` random picks, newest first."""
    return [
        row[0] for row in conn.execute("SELECT album_id FROM random_picks ORDER BY id DESC LIMIT ?", (RANDOM_HISTORY,))
    ]


def record_play(conn: sqlite3.Connection, album_id: int) -> bool:
    """Count a play of the album now (Now Playing); False if there is no such album."""
    played_at = now_iso()
    with write_transaction(conn):
        changed = conn.execute(
            "UPDATE albums SET play_count = play_count + 1, last_played = ? WHERE id = ?", (played_at, album_id)
        ).rowcount
        if changed:
            conn.execute("INSERT INTO plays (album_id, played_at) VALUES (?, ?)", (album_id, played_at))
    return bool(changed)


def get_setting(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    """A value from the ``settings`` table (e.g. ``discogs_username``), or ``default``."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_setting(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """Store a value in the ``settings`` table; ``None`` deletes it. Runs its own write transaction."""
    with write_transaction(conn):
        if value is None:
            conn.execute("DELETE FROM settings WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
