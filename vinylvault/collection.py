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
from typing import Any, Callable, Iterable, Sequence, TypeVar

from cache_engine.files import is_storage_full

log = logging.getLogger("vinylvault.collection")

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
    value: str   # what to pass back as the filter (display spelling; matching ignores case)
    label: str
    count: int


@dataclass(frozen=True)
class FilterOptions:
    genres: list[FilterOption]
    styles: list[FilterOption]
    decades: list[FilterOption]   # value "1970", label "1970s"; unknown years are left out
    formats: list[FilterOption]
    folders: list[FilterOption]


@dataclass
class AlbumRecord:
    """What an importer knows about one copy; :func:`save_album` stores it.

    ``artists`` holds ``(artist_id, name)`` pairs (Discogs ids, or ``None`` to
    derive a stable negative id from the name).
    """

    id: int
    source: str
    release_id: int = 0
    artist: str = ""
    title: str = ""
    year: int = 0
    labels: list[Label] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    format_names: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    folder: str = ""
    folder_id: int | None = None
    rating: int = 0
    date_added: str = ""
    cover_url: str = ""
    thumb_url: str = ""
    media_condition: str = ""
    sleeve_condition: str = ""
    notes: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    artists: list[tuple[int | None, str]] = field(default_factory=list)
    sync_run: str | None = None


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
    "release_id", "artist", "artist_sort", "title", "title_sort", "year", "labels", "formats",
    "genres", "styles", "folder", "folder_id", "rating", "date_added", "cover_url", "thumb_url",
    "media_condition", "sleeve_condition", "notes", "custom_fields", "is_demo", "source",
    "sync_run", "updated_at",
)
_UPSERT_SQL = (
    f"INSERT INTO albums (id, {', '.join(_ALBUM_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in _ALBUM_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _ALBUM_COLUMNS)}"
)


def _record_values(record: AlbumRecord, updated_at: str) -> tuple[Any, ...]:
    return (
        record.id, record.release_id, record.artist, artist_sort_key(record.artist),
        record.title, title_sort_key(record.title), max(0, record.year),
        json.dumps([{"name": l.name, "catno": l.catno} for l in record.labels], ensure_ascii=False),
        json.dumps(record.formats, ensure_ascii=False), json.dumps(record.genres, ensure_ascii=False),
        json.dumps(record.styles, ensure_ascii=False), record.folder, record.folder_id,
        min(5, max(0, record.rating)), record.date_added, record.cover_url, record.thumb_url,
        record.media_condition, record.sleeve_condition, record.notes,
        json.dumps(record.custom_fields, ensure_ascii=False), int(record.source == "demo"),
        record.source, record.sync_run, updated_at,
    )


def save_album(conn: sqlite3.Connection, record: AlbumRecord) -> bool:
    """Insert or update one copy with its tags and artists; return True if it was new.

    Call inside the caller's ``BEGIN IMMEDIATE`` transaction. Play count and
    history are kept across updates.
    """
    existed = conn.execute("SELECT 1 FROM albums WHERE id = ?", (record.id,)).fetchone() is not None
    conn.execute(_UPSERT_SQL, _record_values(record, now_iso()))
    conn.execute("DELETE FROM album_tags WHERE album_id = ?", (record.id,))
    tags = [("genre", g) for g in record.genres] + [("style", s) for s in record.styles] \
        + [("format", f) for f in record.format_names]
    conn.executemany(
        "INSERT OR IGNORE INTO album_tags (kind, key, album_id, value) VALUES (?, ?, ?, ?)",
        [(kind, fold(value), record.id, value.strip()) for kind, value in tags if value.strip()])
    _save_artists(conn, record)
    return not existed


def _save_artists(conn: sqlite3.Connection, record: AlbumRecord) -> None:
    conn.execute("DELETE FROM album_artists WHERE album_id = ?", (record.id,))
    for position, (artist_id, name) in enumerate(record.artists):
        artist_id = artist_id if artist_id else synthetic_artist_id(name)
        conn.execute(
            "INSERT INTO artists (id, name) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name", (artist_id, name))
        conn.execute("INSERT OR IGNORE INTO album_artists (album_id, position, artist_id) VALUES (?, ?, ?)",
                     (record.id, position, artist_id))


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
        (details.release_id, details.country, details.released, details.notes,
         json.dumps(tracklist, ensure_ascii=False), json.dumps(details.images, ensure_ascii=False),
         details.image_url, track_titles, details.fetched_at))


# --------------------------------------------------------------------------
# Reading one album
# --------------------------------------------------------------------------

_SELECT_ALBUM = (
    "SELECT a.id, a.release_id, a.artist, a.title, a.year, a.labels, a.formats, a.genres, a.styles, "
    "a.folder, a.rating, a.date_added, a.cover_url, a.thumb_url, a.media_condition, a.sleeve_condition, "
    "a.notes, a.custom_fields, a.play_count, a.last_played, a.is_demo, a.source, a.updated_at FROM albums AS a"
)


def _album(row: sqlite3.Row) -> Album:
    return Album(
        id=row["id"], release_id=row["release_id"], artist=row["artist"], title=row["title"],
        year=row["year"] or None,
        labels=[Label(l.get("name") or "", l.get("catno") or "") for l in json.loads(row["labels"])],
        formats=json.loads(row["formats"]), genres=json.loads(row["genres"]), styles=json.loads(row["styles"]),
        folder=row["folder"], rating=row["rating"], date_added=row["date_added"], cover_url=row["cover_url"],
        thumb_url=row["thumb_url"], media_condition=row["media_condition"],
        sleeve_condition=row["sleeve_condition"], notes=row["notes"],
        custom_fields=json.loads(row["custom_fields"]), play_count=row["play_count"],
        last_played=row["last_played"], is_demo=bool(row["is_demo"]), source=row["source"],
        updated_at=row["updated_at"],
    )


def get_album(conn: sqlite3.Connection, album_id: int) -> Album | None:
    """The copy with this id, or ``None``."""
    row = conn.execute(f"{_SELECT_ALBUM} WHERE a.id = ?", (album_id,)).fetchone()
    return _album(row) if row else None


def get_albums(conn: sqlite3.Connection, album_ids: Sequence[int]) -> list[Album]:
    """The copies with these ids, in the order given; unknown ids are skipped."""
    if not album_ids:
        return []
    marks = ", ".join("?" for _ in album_ids)
    by_id = {row["id"]: _album(row) for row in conn.execute(
        f"{_SELECT_ALBUM} WHERE a.id IN ({marks})", tuple(album_ids))}
    return [by_id[i] for i in album_ids if i in by_id]


def get_release_details(conn: sqlite3.Connection, release_id: int) -> ReleaseDetails | None:
    """Stored details of a release, or ``None`` if never fetched (see :func:`sync.fetch_release_details`)."""
    row = conn.execute("SELECT * FROM release_details WHERE release_id = ?", (release_id,)).fetchone()
    if row is None:
        return None
    return ReleaseDetails(
        release_id=row["release_id"], country=row["country"], released=row["released"], notes=row["notes"],
        tracklist=[Track(t.get("position", ""), t.get("title", ""), t.get("duration", ""), t.get("type", "track"))
                   for t in json.loads(row["tracklist"])],
        images=json.loads(row["images"]), image_url=row["image_url"], fetched_at=row["fetched_at"])


def album_artist_ids(conn: sqlite3.Connection, album_id: int) -> list[tuple[int, str, str]]:
    """``(artist_id, name, image_url)`` of an album's artists, in credit order."""
    return [tuple(row) for row in conn.execute(
        "SELECT ar.id, ar.name, ar.image_url FROM album_artists AS aa JOIN artists AS ar ON ar.id = aa.artist_id "
        "WHERE aa.album_id = ? ORDER BY aa.position", (album_id,))]


# --------------------------------------------------------------------------
# Grid pages
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Filters:
    genre: str | None = None
    style: str | None = None
    decade: int | None = None
    format: str | None = None
    folder: str | None = None
    q: str | None = None


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


def _filters(genre: str | None, style: str | None, decade: int | str | None, format: str | None,
             folder: str | None, q: str | None) -> _Filters:
    """Checked filters; :class:`InvalidQuery` names the first unusable one."""
    return _Filters(genre=_check_text("genre", genre), style=_check_text("style", style),
                    decade=_check_decade(decade), format=_check_text("format", format),
                    folder=_check_text("folder", folder), q=_check_text("q", q))


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


def _tags(conn: sqlite3.Connection, filters: _Filters) -> list[_Tag]:
    """The genre/style/format filters, rarest first."""
    options = filter_options(conn)
    choices = {"genre": options.genres, "style": options.styles, "format": options.formats}
    tags = []
    for kind, value in (("genre", filters.genre), ("style", filters.style), ("format", filters.format)):
        if value:
            key = fold(value)
            albums = next((o.count for o in choices[kind] if fold(o.value) == key), 0)
            tags.append(_Tag(kind, key, albums))
    return sorted(tags, key=lambda tag: tag.albums)


def _tag_match(tags: list[_Tag]) -> tuple[str, list[Any]]:
    """A SELECT of the ids of albums carrying every tag.

    It reads the rarest tag's rows and probes the others by primary key, so
    "Dub + Vinyl" costs the Dub albums, not the thousands on vinyl.
    """
    first, *others = tags
    sql = "SELECT t0.album_id FROM album_tags AS t0 WHERE t0.kind = ? AND t0.key = ?"
    params: list[Any] = [first.kind, first.key]
    for n, tag in enumerate(others, 1):
        sql += (f" AND EXISTS (SELECT 1 FROM album_tags AS t{n} WHERE t{n}.kind = ? AND t{n}.key = ?"
                f" AND t{n}.album_id = t0.album_id)")
        params += [tag.kind, tag.key]
    return sql, params


def _where(filters: _Filters, tags: list[_Tag], walk: bool = True) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters; ``walk`` picks the query shape for the tags.

    Walking ("+a.id", no index on the membership test): the matching ids are
    collected once and tested while the sort index is walked, so a common
    genre never sorts thousands of rows. Otherwise SQLite fetches the
    matching albums by id and sorts them: cheaper when few match (see
    :func:`_walk_costs_more`).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if tags:
        match_sql, match_params = _tag_match(tags)
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
            clauses.append("a.id IN (SELECT rowid FROM albums_fts WHERE albums_fts MATCH ?)")
            params.append(match)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _walk_costs_more(conn: sqlite3.Connection, tags: list[_Tag], total: int, rows_needed: int) -> bool:
    """Whether fetching the rarest tag's albums and sorting them beats walking the sort index.

    A walk reads about ``albums * rows_needed / total`` index entries before
    the page is full (every album when few match); fetching reads the rarest
    tag's albums and sorts the matches (counted twice for the sort).
    """
    if not tags:
        return False
    albums = counts(conn)["albums"]
    walked = albums * min(1.0, rows_needed / max(total, 1))
    return 2 * tags[0].albums <= walked


def _count(conn: sqlite3.Connection, filters: _Filters, tags: list[_Tag], where: str, params: list[Any]) -> int:
    """How many albums match; tag-only filters are counted in the tag index alone.

    Counting through ``albums`` costs a lookup per candidate row (about 10 ms
    for a common genre at 10,000 albums); the tag index answers in a fraction.
    """
    if not tags or filters.decade is not None or filters.folder or filters.q:
        return conn.execute(f"SELECT count(*) FROM albums AS a{where}", params).fetchone()[0]
    match_sql, match_params = _tag_match(tags)
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
    sql = (f"a.{first} {op_eq} ? AND (a.{first} {op} ? OR (a.{first} = ? AND ({ties_sql}) {tie_op} ({marks})))")
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
    if (not isinstance(key, list) or len(key) != len(columns)
            or not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in key)):
        raise InvalidQuery("after", "does not belong to this sort")
    return key


def _sort_key_sql(sort: str) -> str:
    return ", ".join(f"a.{c}" for c in SORTS[sort])


def list_albums(conn: sqlite3.Connection, *, sort: str = "artist", order: str | None = None,
                genre: str | None = None, style: str | None = None, decade: int | str | None = None,
                format: str | None = None, folder: str | None = None, q: str | None = None,
                limit: int = 48, after: str | None = None, offset: int | None = None) -> AlbumPage:
    """One page of the grid.

    ``sort`` is one of :data:`SORTS`; ``order`` defaults to :data:`DEFAULT_ORDER`.
    Filters combine with AND: ``genre``/``style``/``format`` match a tag
    ignoring case and accents, ``decade`` is a year ending in 0 (``1970``
    means 1970-1979), ``folder`` is a folder name, ``q`` is free text matched
    by prefix against artist, title, labels, catalog numbers and track titles.
    Page with ``after`` (a cursor) or ``offset``, not both.

    Raises :class:`InvalidQuery` for any unusable parameter.
    """
    sort, order = _check_sort(sort, order)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
    if after and offset:
        raise InvalidQuery("after", "cannot be combined with offset")
    if offset is not None and (not isinstance(offset, int) or offset < 0):
        raise InvalidQuery("offset", "must be 0 or more")
    filters = _filters(genre, style, decade, format, folder, q)
    tags = _tags(conn, filters)
    where, params = _where(filters, tags)
    total = _count(conn, filters, tags, where, params)
    if _walk_costs_more(conn, tags, total, (offset or 0) + limit + 1):
        where, params = _where(filters, tags, walk=False)

    page_where, page_params = where, list(params)
    if after:
        after_sql, after_params = _after(sort, order, decode_cursor(sort, after))
        page_where = f"{where} AND {after_sql}" if where else f" WHERE {after_sql}"
        page_params += after_params
    # The sort key columns come last in each row: the cursor is read from them.
    sql = _SELECT_ALBUM.replace("FROM albums AS a", f", {_sort_key_sql(sort)} FROM albums AS a")
    sql += f"{page_where} ORDER BY {_order_by(sort, order)} LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*page_params, limit + 1, offset or 0]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(tuple(rows[-1])[-len(SORTS[sort]):]) if more and rows else None
    next_offset = (offset or 0) + limit if more and not after else None
    return AlbumPage([_album(row) for row in rows], total, next_cursor, next_offset)


def neighbours(conn: sqlite3.Connection, album_id: int, *, sort: str = "artist", order: str | None = None,
               genre: str | None = None, style: str | None = None, decade: int | str | None = None,
               format: str | None = None, folder: str | None = None,
               q: str | None = None) -> tuple[int | None, int | None]:
    """``(previous_id, next_id)`` of an album in a grid's sort and filters (``None`` at the ends).

    Takes the same parameters as :func:`list_albums`; an unknown album gives
    ``(None, None)``.
    """
    sort, order = _check_sort(sort, order)
    filters = _filters(genre, style, decade, format, folder, q)
    key = conn.execute(f"SELECT {_sort_key_sql(sort)} FROM albums AS a WHERE a.id = ?", (album_id,)).fetchone()
    if key is None:
        return None, None
    where, params = _where(filters, _tags(conn, filters))
    found: list[int | None] = []
    for reverse in (True, False):
        after_sql, after_params = _after(sort, order, tuple(key), reverse=reverse)
        clause = f"{where} AND {after_sql}" if where else f" WHERE {after_sql}"
        row = conn.execute(f"SELECT a.id FROM albums AS a{clause} ORDER BY {_order_by(sort, order, reverse)} "
                           "LIMIT 1", [*params, *after_params]).fetchone()
        found.append(row[0] if row else None)
    return found[0], found[1]


@dataclass(frozen=True)
class SearchResult:
    albums: list[Album]
    total: int


def search(conn: sqlite3.Connection, q: str, limit: int = 48, offset: int = 0) -> SearchResult:
    """Albums matching free text, best first (BM25; artist and title weigh most).

    Every word must match the start of a word in artist, title, label,
    catalog number or track title; case and accents are ignored. Text that
    leaves nothing to search gives an empty result, never an error.
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
    ids = [row[0] for row in conn.execute(
        "SELECT rowid FROM albums_fts WHERE albums_fts MATCH ? "
        "ORDER BY bm25(albums_fts, 10.0, 8.0, 3.0, 3.0, 1.0), rowid LIMIT ? OFFSET ?", (match, limit, offset))]
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


def _tag_options(conn: sqlite3.Connection, kind: str) -> list[FilterOption]:
    # min(value) picks one display spelling when copies differ only in case.
    return [FilterOption(row[0], row[0], row[1]) for row in conn.execute(
        "SELECT min(value), count(*) AS n FROM album_tags WHERE kind = ? GROUP BY key ORDER BY n DESC, key",
        (kind,))]


def _decade_options(conn: sqlite3.Connection) -> list[FilterOption]:
    return [FilterOption(str(row[0]), f"{row[0]}s", row[1]) for row in conn.execute(
        "SELECT (year / 10) * 10 AS decade, count(*) FROM albums WHERE year > 0 GROUP BY decade ORDER BY decade")]


def filter_options(conn: sqlite3.Connection) -> FilterOptions:
    """Every value each filter can take, with how many albums have it (most common first).

    Cached per process until the collection changes (see :func:`cached`).
    """
    return cached(conn, ("filter_options",), lambda: _filter_options(conn))


def _filter_options(conn: sqlite3.Connection) -> FilterOptions:
    folders = [FilterOption(row[0], row[0], row[1]) for row in conn.execute(
        "SELECT folder, count(*) AS n FROM albums WHERE folder != '' GROUP BY folder ORDER BY folder")]
    return FilterOptions(genres=_tag_options(conn, "genre"), styles=_tag_options(conn, "style"),
                         decades=_decade_options(conn), formats=_tag_options(conn, "format"), folders=folders)


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
        "coalesce(sum(play_count), 0), count(*) FILTER (WHERE year = 0) FROM albums").fetchone()
    newest_albums = [_album(row) for row in conn.execute(
        f"{_SELECT_ALBUM} ORDER BY a.date_added DESC, a.id DESC LIMIT ?", (newest,))]
    return CollectionStats(albums=albums, artists=artists, rated=rated, plays=plays, unknown_year=unknown,
                           by_genre=_tag_options(conn, "genre"), by_decade=_decade_options(conn),
                           by_format=_tag_options(conn, "format"), newest=newest_albums)


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


def all_cover_urls(conn: sqlite3.Connection) -> list[str]:
    """Every distinct cover source URL (cover, else thumbnail), for the image sync and orphan cleanup."""
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT CASE WHEN cover_url != '' THEN cover_url ELSE thumb_url END AS url FROM albums "
        "WHERE url != '' ORDER BY url")]


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
        f"SELECT rating, count(*) FROM albums WHERE id NOT IN ({marks}) GROUP BY rating", excluded).fetchall()
    weights = [RATING_WEIGHTS[rating] * n for rating, n in buckets]
    if not weights:
        return None
    rating, n = rng.choices(buckets, weights=weights)[0]
    row = conn.execute(
        f"SELECT id FROM albums WHERE rating = ? AND id NOT IN ({marks}) ORDER BY rating, artist_sort, "
        "title_sort, id LIMIT 1 OFFSET ?", [rating, *excluded, rng.randrange(n)]).fetchone()
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
            conn.execute("DELETE FROM random_picks WHERE id <= (SELECT max(id) FROM random_picks) - ?",
                         (RANDOM_HISTORY,))
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
    excluded = [row[0] for row in conn.execute(
        "SELECT album_id FROM random_picks ORDER BY id DESC LIMIT ?", (history,))] if history else []
    picked = _weighted_pick(conn, excluded, rng)
    if picked is None:  # every remaining album was deleted from under the history
        picked = _weighted_pick(conn, [], rng)
    return picked


def recent_random_picks(conn: sqlite3.Connection) -> list[int]:
    """Album ids of the last :data:`RANDOM_HISTORY` random picks, newest first."""
    return [row[0] for row in conn.execute(
        "SELECT album_id FROM random_picks ORDER BY id DESC LIMIT ?", (RANDOM_HISTORY,))]


def record_play(conn: sqlite3.Connection, album_id: int) -> bool:
    """Count a play of the album now (Now Playing); False if there is no such album."""
    played_at = now_iso()
    with write_transaction(conn):
        changed = conn.execute("UPDATE albums SET play_count = play_count + 1, last_played = ? WHERE id = ?",
                               (played_at, album_id)).rowcount
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
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
