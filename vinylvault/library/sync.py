"""Discogs collection sync: resumable, incremental, one run at a time, in the background.

A run reads folder 0 ("All") page by page (100 items a page, sorted by date
added so new copies land at the end), following ``pagination.pages`` rather
than trusting ``per_page``. Each page is stored in one transaction together
with the run's progress (``sync_state.page``), so an interrupted run resumes
at the next page under the same run id instead of starting over. Every copy
seen is stamped with the run id; copies not stamped are removed only when the
run completes, and only if Discogs' item count stayed the same throughout and
the run saw that many copies: a deletion on Discogs mid-run shifts later items
onto pages already read, and their copies would otherwise be removed here
although they still exist. (An addition and a deletion between two pages keep
the count; a copy missed that way is removed and returns with the next run.)

After the collection, the same run reads the wantlist (``/users/{u}/wants``)
the same way: pages stored with their progress (``sync_state.wants_page``),
wants stamped with the run id, stale ones removed only after a full pass
whose count held. Then it keeps one dated snapshot of the collection's value
(``/collection/value``, never overwritten). A wantlist or value Discogs
refuses (401/403) is skipped, not a failed sync.

Requests per run: 1 folder list + 1 custom-field list + one per collection
page (``ceil(items / 100)``) + one per wantlist page (``ceil(wants / 100)``,
at least 1 to learn the count) + 1 value. A resumed run repeats the two
lists only if collection pages remain.

Covers: a copy without any (CSV imports carry none; some Discogs items have
only spacer.gif) gets its release's primary image, else the first, when the
release is fetched: when the album is first opened, or by a background cover
pass after each sync and on the scheduler's ticks, at most
``COVERS_PER_PASS`` releases a pass, each fetched once (see
:func:`fill_missing_covers`).

One run at a time, across processes: a lease in ``sync_state`` (owner and
expiry, renewed after every page), held by cover passes too. Failures are recorded in ``sync_state``;
the site keeps working from the database.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin

from flask import Flask

import config
import image_cache
from cache_engine.background import Ticker, WorkQueue
from cache_engine.sqlite import write_transaction
from vinylvault import db, lifecycle
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, Label, ReleaseDetails, Track, WantRecord
from vinylvault.library.discogs import DiscogsAuthError, DiscogsClient, DiscogsError, DiscogsNotFound

log = logging.getLogger("vinylvault.library.sync")

PER_PAGE = 100
LEASE_SECONDS = 600.0
#: Discogs' default custom fields; used when /collection/fields cannot be read.
DEFAULT_FIELDS = {1: "Media", 2: "Sleeve", 3: "Notes"}
SPACER_GIF = "spacer.gif"
USERNAME_KEY = "discogs_username"
TOKEN_KEY = "discogs_token"

Progress = Callable[[dict[str, Any]], None]


class SyncBusy(RuntimeError):
    """Another thread or process holds the sync lease."""


class SyncNotConfigured(RuntimeError):
    """No Discogs username (or token) is configured."""


# --------------------------------------------------------------------------
# Mapping Discogs JSON to albums
# --------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _image(url: Any) -> str:
    """An image URL, or '' for absent values and Discogs' spacer.gif "no image" placeholder."""
    url = _text(url)
    return "" if not url or url.rsplit("/", 1)[-1] == SPACER_GIF else url


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _format_strings(formats: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Display strings ("2 x Vinyl, LP, Album, 180 g") and plain names ("Vinyl") for filtering."""
    display, names = [], []
    for fmt in formats:
        if not isinstance(fmt, dict):
            continue
        name = _text(fmt.get("name"))
        qty = _int(fmt.get("qty"), 1)  # a string in the API: "2"
        parts = [f"{qty} x {name}" if qty > 1 else name]
        parts += [_text(d) for d in fmt.get("descriptions") or [] if _text(d)]
        if _text(fmt.get("text")):
            parts.append(_text(fmt["text"]))
        display.append(", ".join(p for p in parts if p))
        if name:
            names.append(name)
    return display, names


def _artist_credit(artists: list[dict[str, Any]]) -> tuple[str, list[tuple[int | None, str]]]:
    """The display credit ("A & B", "A, B", "A Feat. B") and ``(id, name)`` pairs.

    Each artist's ``join`` says how it connects to the next one.
    """
    named = [a for a in artists if isinstance(a, dict) and _text(a.get("name"))]
    credit = ""
    for position, artist in enumerate(named):
        credit += _text(artist["name"])
        if position < len(named) - 1:
            join = _text(artist.get("join"))
            credit += ", " if join in ("", ",") else f" {join} "
    pairs = [(_int(a.get("id")) or None, _text(a["name"])) for a in named]
    return credit or "Unknown Artist", pairs


def _notes(notes: Any, fields: dict[int, str]) -> tuple[str, str, str, dict[str, str]]:
    """(media condition, sleeve condition, notes, other fields) from ``notes[{field_id, value}]``."""
    values: dict[str, str] = {}
    for note in notes if isinstance(notes, list) else []:
        if isinstance(note, dict) and _text(note.get("value")):
            field_id = _int(note.get("field_id"))
            values[fields.get(field_id, f"Field {field_id}")] = _text(note["value"])
    media = values.pop(fields.get(1, "Media"), "")
    sleeve = values.pop(fields.get(2, "Sleeve"), "")
    text = values.pop(fields.get(3, "Notes"), "")
    return media, sleeve, text, values


def _release_fields(item: dict[str, Any], basic: dict[str, Any]) -> dict[str, Any]:
    """What a collection item and a want share: the release as ``basic_information`` describes it."""
    artist, artist_pairs = _artist_credit(basic.get("artists") or [])
    formats, format_names = _format_strings(basic.get("formats") or [])
    return dict(
        release_id=_int(item.get("id") or basic.get("id")),
        master_id=max(0, _int(basic.get("master_id"))),
        artist=artist,
        title=_text(basic.get("title")) or "Untitled",
        year=max(0, _int(basic.get("year"))),
        labels=[
            Label(_text(l.get("name")), _text(l.get("catno"))) for l in basic.get("labels") or [] if isinstance(l, dict)
        ],
        formats=formats,
        format_names=format_names,
        genres=[_text(g) for g in basic.get("genres") or [] if _text(g)],
        styles=[_text(s) for s in basic.get("styles") or [] if _text(s)],
        rating=min(5, max(0, _int(item.get("rating")))),
        date_added=_text(item.get("date_added")),
        cover_url=_image(basic.get("cover_image")),
        thumb_url=_image(basic.get("thumb")),
        artists=artist_pairs,
    )


def _basic(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("basic_information") if isinstance(item.get("basic_information"), dict) else {}


def map_collection_item(
    item: dict[str, Any],
    *,
    fields: dict[int, str] | None = None,
    folders: dict[int, str] | None = None,
    run_id: str | None = None,
) -> AlbumRecord | None:
    """One ``releases[]`` item as an :class:`AlbumRecord`; ``None`` if it has no ``instance_id``.

    Every key is optional: missing cover, spacer.gif thumb, year 0, no
    date_added, no genres/styles/notes/folder_id/master_id all map to "unknown".
    """
    instance_id = _int(item.get("instance_id"))
    if instance_id <= 0:
        return None
    media, sleeve, notes, custom = _notes(item.get("notes"), fields or DEFAULT_FIELDS)
    folder_id = item.get("folder_id")
    folder_id = _int(folder_id) if folder_id is not None else None
    return AlbumRecord(
        id=instance_id,
        source="discogs",
        **_release_fields(item, _basic(item)),
        folder=(folders or {}).get(folder_id, "") if folder_id is not None else "",
        folder_id=folder_id,
        media_condition=media,
        sleeve_condition=sleeve,
        notes=notes,
        custom_fields=custom,
        sync_run=run_id,
    )


def map_want(item: dict[str, Any], run_id: str | None = None) -> WantRecord | None:
    """One ``wants[]`` item as a :class:`WantRecord`; ``None`` without a release id.

    A want's ``notes`` is one string (the owner's), not the collection's
    custom-field list.
    """
    fields = _release_fields(item, _basic(item))
    if fields["release_id"] <= 0:
        return None
    fields.pop("artists")
    return WantRecord(id=fields["release_id"], notes=_text(item.get("notes")), sync_run=run_id, **fields)


def map_release(release: dict[str, Any], base_url: str) -> ReleaseDetails:
    """A ``/releases/{id}`` answer as :class:`ReleaseDetails`; relative image URIs become absolute."""
    images = [
        {
            "type": _text(img.get("type")),
            "uri": urljoin(base_url + "/", _text(img.get("uri"))),
            "uri150": urljoin(base_url + "/", _text(img.get("uri150"))) if _text(img.get("uri150")) else "",
            "width": _int(img.get("width")),
            "height": _int(img.get("height")),
        }
        for img in release.get("images") or []
        if isinstance(img, dict) and _text(img.get("uri"))
    ]
    primary = next((img for img in images if img["type"] == "primary"), images[0] if images else None)
    tracklist = [
        Track(
            _text(t.get("position")), _text(t.get("title")), _text(t.get("duration")), _text(t.get("type_")) or "track"
        )
        for t in release.get("tracklist") or []
        if isinstance(t, dict)
    ]
    return ReleaseDetails(
        release_id=_int(release.get("id")),
        country=_text(release.get("country")),
        released=_text(release.get("released")),
        notes=_text(release.get("notes")),
        tracklist=tracklist,
        images=images,
        image_url=primary["uri"] if primary else "",
        fetched_at=collection.now_iso(),
    )


# --------------------------------------------------------------------------
# State and lease
# --------------------------------------------------------------------------


def sync_status(conn: sqlite3.Connection) -> dict[str, Any]:
    """The sync's progress for /sync and its JSON status (no credentials, no lease owner).

    Keys: state ('idle', 'running', 'interrupted', 'failed', 'done'), page,
    pages, items_done, total, added, updated, removed, started_at,
    finished_at, error, last_success, running (a live lease exists); the
    wantlist's wants_page, wants_pages and wants_total; ``phase``
    ('collection', then 'wantlist' once every collection page is stored) and
    ``percent`` over the pages of both.
    """
    row = dict(conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone())
    running = row["state"] == "running" and row["lease_until"] > time.time()
    status = {
        key: row[key]
        for key in (
            "state",
            "page",
            "pages",
            "items_done",
            "total",
            "added",
            "updated",
            "removed",
            "started_at",
            "finished_at",
            "error",
            "last_success",
            "wants_page",
            "wants_total",
        )
    }
    if row["state"] == "running" and not running:
        status["state"] = "interrupted"  # its process died without recording why
    status["running"] = running
    # Until its first page answers, the wantlist counts as the one page it takes at least.
    wants_pages = max(1, -(-row["wants_total"] // PER_PAGE), row["wants_page"])
    status["wants_pages"] = wants_pages
    collection_done = row["pages"] > 0 and row["page"] >= row["pages"]
    status["phase"] = "wantlist" if collection_done else "collection"
    if row["state"] == "done":
        status["percent"] = 100.0
    elif row["pages"]:
        status["percent"] = round(100.0 * (row["page"] + row["wants_page"]) / (row["pages"] + wants_pages), 1)
    else:
        status["percent"] = 0.0
    return status


def _acquire_lease(conn: sqlite3.Connection, owner: str) -> sqlite3.Row:
    with write_transaction(conn):
        row = conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone()
        if row["lease_owner"] and row["lease_owner"] != owner and row["lease_until"] > time.time():
            raise SyncBusy("a sync is already running")
        conn.execute(
            "UPDATE sync_state SET lease_owner = ?, lease_until = ? WHERE id = 1", (owner, time.time() + LEASE_SECONDS)
        )
    return row


def _update_state(conn: sqlite3.Connection, owner: str, **values: Any) -> None:
    """Write state columns and renew the lease (call inside a write transaction)."""
    values["lease_until"] = time.time() + LEASE_SECONDS
    assignments = ", ".join(f"{key} = ?" for key in values)
    conn.execute(f"UPDATE sync_state SET {assignments} WHERE id = 1 AND lease_owner = ?", (*values.values(), owner))


def _release_lease(conn: sqlite3.Connection, owner: str) -> None:
    with write_transaction(conn):
        conn.execute(
            "UPDATE sync_state SET lease_owner = NULL, lease_until = 0 WHERE id = 1 AND lease_owner = ?", (owner,)
        )


# --------------------------------------------------------------------------
# A run
# --------------------------------------------------------------------------


def _lookup_names(fetch: Callable[[], list[dict[str, Any]]], what: str) -> dict[int, str]:
    """``{id: name}`` from the folders or fields list; {} if Discogs will not say (the sync goes on)."""
    try:
        return {_int(entry.get("id")): _text(entry.get("name")) for entry in fetch() if isinstance(entry, dict)}
    except DiscogsAuthError:
        raise
    except DiscogsError as exc:
        log.warning("discogs %s unavailable, using defaults: %s", what, exc)
        return {}


def _start_or_resume(conn: sqlite3.Connection, owner: str, username: str, state: sqlite3.Row) -> tuple[str, int]:
    """The run id and the first page to fetch: the interrupted run's next page, or a new run."""
    resumable = (
        state["state"] in ("running", "interrupted", "failed")
        and state["run_id"]
        and state["username"] == username
        and state["page"] > 0
    )
    if resumable:
        with write_transaction(conn):
            _update_state(conn, owner, state="running", error=None)
        log.info("resuming sync run %s after page %d", state["run_id"], state["page"])
        return state["run_id"], state["page"] + 1
    run_id = uuid.uuid4().hex
    with write_transaction(conn):
        _update_state(
            conn,
            owner,
            state="running",
            run_id=run_id,
            username=username,
            page=0,
            pages=0,
            items_done=0,
            total=0,
            added=0,
            updated=0,
            removed=0,
            changed=0,
            started_at=collection.now_iso(),
            finished_at=None,
            error=None,
            wants_page=0,
            wants_total=0,
            wants_changed=0,
        )
    return run_id, 1


def _store_page(
    conn: sqlite3.Connection,
    owner: str,
    run_id: str,
    page: int,
    data: dict[str, Any],
    fields: dict[int, str],
    folders: dict[int, str],
) -> list[str]:
    """Store one page's copies and the progress atomically; return the cover URLs of new copies."""
    pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
    new_covers = []
    with write_transaction(conn):
        added = updated = 0
        for item in data.get("releases") or []:
            record = (
                map_collection_item(item, fields=fields, folders=folders, run_id=run_id)
                if isinstance(item, dict)
                else None
            )
            if record is None:
                log.warning("sync page %d: item without instance_id skipped", page)
                continue
            if collection.save_album(conn, record):
                added += 1
                if record.cover_url or record.thumb_url:
                    new_covers.append(record.cover_url or record.thumb_url)
            else:
                updated += 1
        done = conn.execute(
            "SELECT count(*) FROM albums WHERE source = 'discogs' AND sync_run = ?", (run_id,)
        ).fetchone()[0]
        total = _int(pagination.get("items"))
        conn.execute(
            "UPDATE sync_state SET added = added + ?, updated = updated + ?, "
            "changed = changed OR (page > 0 AND total != ?) WHERE id = 1",
            (added, updated, total),
        )
        _update_state(
            conn, owner, page=page, pages=max(_int(pagination.get("pages"), 1), page), total=total, items_done=done
        )
    return new_covers


def _finish(conn: sqlite3.Connection, owner: str, run_id: str) -> int:
    """Complete the run: remove copies it did not see, unless the collection changed meanwhile."""
    with write_transaction(conn):
        state = conn.execute("SELECT total, items_done, changed FROM sync_state WHERE id = 1").fetchone()
        removed, note = 0, None
        if not state["changed"] and state["items_done"] >= state["total"]:
            stale = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM albums WHERE source = 'discogs' AND (sync_run IS NULL OR sync_run != ?)", (run_id,)
                )
            ]
            removed = collection.delete_albums(conn, stale)
        else:
            note = "the collection changed during the sync; removals wait for the next run"
        now = collection.now_iso()
        _update_state(conn, owner, state="done", removed=removed, finished_at=now, last_success=now, error=note)
    return removed


def _sync_collection(
    conn: sqlite3.Connection,
    client: DiscogsClient,
    owner: str,
    run_id: str,
    username: str,
    page: int,
    on_progress: Progress | None,
    queue_covers: Callable[[list[str]], None] | None,
) -> None:
    """The collection pages from ``page`` to the last; nothing when a resumed run already stored them all."""
    row = conn.execute("SELECT page, pages FROM sync_state WHERE id = 1").fetchone()
    if row["pages"] and row["page"] >= row["pages"]:
        return
    folders = _lookup_names(lambda: client.folders(username), "folders")
    fields = _lookup_names(lambda: client.collection_fields(username), "fields") or DEFAULT_FIELDS
    while True:
        data = client.collection_page(username, 0, page, PER_PAGE)
        covers = _store_page(conn, owner, run_id, page, data, fields, folders)
        if queue_covers and covers:
            queue_covers(covers)
        status = sync_status(conn)
        if on_progress:
            on_progress(status)
        if page >= status["pages"]:
            return
        page += 1


def _store_wants_page(
    conn: sqlite3.Connection, owner: str, run_id: str, page: int, data: dict[str, Any]
) -> tuple[list[str], int]:
    """Store one wantlist page and the progress atomically; ``(cover URLs of new wants, pages)``."""
    pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
    new_covers = []
    with write_transaction(conn):
        for item in data.get("wants") or []:
            record = map_want(item, run_id) if isinstance(item, dict) else None
            if record is None:
                log.warning("wantlist page %d: want without a release id skipped", page)
                continue
            if collection.save_want(conn, record) and (record.cover_url or record.thumb_url):
                new_covers.append(record.cover_url or record.thumb_url)
        total = _int(pagination.get("items"))
        conn.execute(
            "UPDATE sync_state SET wants_changed = wants_changed OR (wants_page > 0 AND wants_total != ?) WHERE id = 1",
            (total,),
        )
        _update_state(conn, owner, wants_page=page, wants_total=total)
    return new_covers, max(_int(pagination.get("pages"), 1), page)


def _sync_wants(
    conn: sqlite3.Connection,
    client: DiscogsClient,
    owner: str,
    run_id: str,
    username: str,
    queue_covers: Callable[[list[str]], None] | None,
) -> None:
    """The wantlist, page by page, resumable like the collection; stale wants removed after a full pass.

    A wantlist Discogs will not show (private, other auth: 401/403) leaves
    the stored wants alone and the sync goes on; other failures interrupt
    the run like a collection page would.
    """
    page = conn.execute("SELECT wants_page FROM sync_state WHERE id = 1").fetchone()[0] + 1
    while True:
        try:
            data = client.wants_page(username, page, PER_PAGE)
        except DiscogsAuthError as exc:
            log.info("wantlist not synced: %s", exc)
            return
        except DiscogsNotFound:
            # The wantlist shrank below this page since the run began: keep what is stored, and let
            # removals wait for a run that sees the whole list.
            log.info("wantlist page %d no longer exists; removals wait for the next run", page)
            with write_transaction(conn):
                _update_state(conn, owner, wants_changed=1)
            break
        covers, pages = _store_wants_page(conn, owner, run_id, page, data)
        if queue_covers and covers:
            queue_covers(covers)
        if page >= pages:
            break
        page += 1
    with write_transaction(conn):
        state = conn.execute("SELECT wants_total, wants_changed FROM sync_state WHERE id = 1").fetchone()
        seen = conn.execute("SELECT count(*) FROM wants WHERE sync_run = ?", (run_id,)).fetchone()[0]
        if not state["wants_changed"] and seen >= state["wants_total"]:
            conn.execute("DELETE FROM wants WHERE sync_run IS NULL OR sync_run != ?", (run_id,))


def _snapshot_value(conn: sqlite3.Connection, client: DiscogsClient, username: str) -> None:
    """Keep today's collection value as a new dated snapshot; a refusal or failure only skips it.

    The value is a nicety: Discogs answering 403 (other auth methods) or
    failing after every retry must not fail the sync of the collection.
    """
    try:
        value = client.collection_value(username)
    except DiscogsError as exc:
        log.info("collection value not available: %s", exc)
        return
    with write_transaction(conn):
        if not collection.save_value_snapshot(conn, value):
            log.info("collection value answer has no minimum/median/maximum strings; not kept")


def run_sync(
    conn: sqlite3.Connection,
    client: DiscogsClient,
    username: str,
    *,
    on_progress: Progress | None = None,
    queue_covers: Callable[[list[str]], None] | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Sync ``username``'s collection, then wantlist and value, into the database; return :func:`sync_status`.

    Resumes an interrupted run of the same user (at the collection or the
    wantlist page after the last stored). Raises :class:`SyncBusy` if
    another run holds the lease; a Discogs failure is recorded in the state
    (the run stays resumable) and re-raised.
    """
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
    state = _acquire_lease(conn, owner)
    try:
        run_id, page = _start_or_resume(conn, owner, username, state)
        _sync_collection(conn, client, owner, run_id, username, page, on_progress, queue_covers)
        _sync_wants(conn, client, owner, run_id, username, queue_covers)
        _snapshot_value(conn, client, username)
        _finish(conn, owner, run_id)
    except (DiscogsError, sqlite3.Error, OSError) as exc:
        failed = isinstance(exc, (DiscogsAuthError, DiscogsNotFound))
        with write_transaction(conn):
            _update_state(
                conn,
                owner,
                state="failed" if failed else "interrupted",
                error=str(exc)[:500],
                finished_at=collection.now_iso(),
            )
        log.warning("sync %s: %s", "failed" if failed else "interrupted", exc)
        raise
    finally:
        _release_lease(conn, owner)
    return sync_status(conn)


# --------------------------------------------------------------------------
# Credentials, clients, release details
# --------------------------------------------------------------------------


def discogs_credentials(conn: sqlite3.Connection, settings: config.Settings) -> tuple[str, str]:
    """``(username, token)``: the configured values when set, else those saved at /setup ('' if none)."""
    username = settings.DISCOGS_USERNAME or collection.get_setting(conn, USERNAME_KEY, "") or ""
    token = settings.DISCOGS_TOKEN or collection.get_setting(conn, TOKEN_KEY, "") or ""
    return username, token


def make_client(settings: config.Settings, token: str) -> DiscogsClient:
    """A client paced across every process of this installation (one per-IP budget)."""
    from cache_engine.coordination import HostPacer

    pacer = HostPacer(Path(settings.DATA_DIR) / "locks")
    return DiscogsClient(
        settings.DISCOGS_API_URL,
        token,
        settings.USER_AGENT,
        pacer=pacer,
        min_interval=settings.DISCOGS_MIN_INTERVAL_SECONDS,
        timeout=(settings.CONNECT_TIMEOUT_SECONDS, settings.READ_TIMEOUT_SECONDS),
    )


def release_cover(details: ReleaseDetails) -> tuple[str, str]:
    """``(cover_url, thumb_url)`` of a release: its primary image, else the first; ``("", "")`` if none."""
    image = next((img for img in details.images if img.get("uri") == details.image_url), None)
    if image is None:
        return details.image_url, ""
    return image["uri"], image.get("uri150") or ""


def apply_release_cover(conn: sqlite3.Connection, details: ReleaseDetails) -> list[str]:
    """Give the release's cover to its copies that have none (CSV imports); return the URLs set.

    Call inside a write transaction. A copy with any cover keeps it: Discogs
    sync already gives the collection's own choice.
    """
    cover, thumb = release_cover(details)
    if not cover:
        return []
    changed = conn.execute(
        "UPDATE albums SET cover_url = ?, thumb_url = ?, updated_at = ? "
        "WHERE release_id = ? AND cover_url = '' AND thumb_url = ''",
        (cover, thumb, collection.now_iso(), details.release_id),
    ).rowcount
    return [cover] if changed else []


def fetch_release_details(conn: sqlite3.Connection, client: DiscogsClient, release_id: int) -> ReleaseDetails:
    """Fetch a release (tracklist, images...) from Discogs and store it; raises :class:`DiscogsError`.

    Copies of the release without a cover get the release's (queued for the image cache).
    """
    details = map_release(client.release(release_id), client.base_url)
    if details.release_id != release_id:
        details = ReleaseDetails(**{**vars(details), "release_id": release_id})
    with write_transaction(conn):
        collection.save_release_details(conn, details)
        covers = apply_release_cover(conn, details)
    if covers:
        _queue_covers(covers)
    return details


@dataclass(frozen=True)
class CoverPass:
    """What one :func:`fill_missing_covers` pass did.

    ``from_stored``: copies given a cover from details already stored (no
    request); ``fetched``: releases asked of Discogs; ``remaining``: releases
    of copies without a cover still never asked (the next pass starts there).
    """

    from_stored: int
    fetched: int
    remaining: int


_RELEASES_NOT_FETCHED = (
    "FROM albums AS a WHERE a.cover_url = '' AND a.thumb_url = '' AND a.release_id > 0 "
    "AND NOT EXISTS (SELECT 1 FROM release_details AS r WHERE r.release_id = a.release_id)"
)


def _covers_from_stored_details(conn: sqlite3.Connection) -> int:
    """Copies without a cover whose release's details are stored (another copy was opened): no request."""
    release_ids = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT a.release_id FROM albums AS a JOIN release_details AS r ON r.release_id = a.release_id "
            "WHERE a.cover_url = '' AND a.thumb_url = '' AND r.image_url != ''"
        )
    ]
    urls = []
    with write_transaction(conn):
        for release_id in release_ids:
            urls += apply_release_cover(conn, collection.get_release_details(conn, release_id))
    if urls:
        _queue_covers(urls)
    return len(urls)


def fill_missing_covers(conn: sqlite3.Connection, client: DiscogsClient, limit: int) -> CoverPass:
    """Give covers to copies that have none (CSV imports), asking Discogs for at most ``limit`` releases.

    Each release is fetched once, paced like every request of ``client``, and
    stored with its details (:func:`fetch_release_details`), so the pass is
    resumable: the next one starts with the releases never fetched. A release
    Discogs does not know is stored with empty details and not asked again.
    Any other Discogs failure ends the pass early (logged); the rest waits for
    the next one.
    """
    from_stored = _covers_from_stored_details(conn)
    release_ids = [
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT a.release_id {_RELEASES_NOT_FETCHED} ORDER BY a.release_id LIMIT ?", (limit,)
        )
    ]
    fetched = 0
    for release_id in release_ids:
        try:
            fetch_release_details(conn, client, release_id)
        except DiscogsNotFound:
            with write_transaction(conn):
                collection.save_release_details(
                    conn, ReleaseDetails(release_id, "", "", "", [], [], "", fetched_at=collection.now_iso())
                )
        except DiscogsError as exc:
            log.info("cover pass stopped after %d releases: %s", fetched, exc)
            break
        fetched += 1
    remaining = conn.execute(f"SELECT count(DISTINCT a.release_id) {_RELEASES_NOT_FETCHED}").fetchone()[0]
    return CoverPass(from_stored, fetched, remaining)


def missing_covers(conn: sqlite3.Connection) -> bool:
    """True when some copy has no cover and its release was never fetched (a pass has work)."""
    return conn.execute(f"SELECT EXISTS (SELECT 1 {_RELEASES_NOT_FETCHED})").fetchone()[0] == 1


def cover_pass_once(settings: config.Settings) -> CoverPass | None:
    """One :func:`fill_missing_covers` pass of ``COVERS_PER_PASS`` releases with its own connection and client.

    ``None`` without a token or with ``COVERS_PER_PASS`` 0. Holds the sync
    lease meanwhile, so processes never run two passes (or a pass and a
    sync) against the one per-IP budget; raises :class:`SyncBusy` if held.
    """
    conn = db.connect(settings.DATABASE_PATH)
    try:
        _username, token = discogs_credentials(conn, settings)
        if not token or settings.COVERS_PER_PASS <= 0:
            return None
        owner = f"covers:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
        _acquire_lease(conn, owner)
        client = make_client(settings, token)
        try:
            result = fill_missing_covers(conn, client, settings.COVERS_PER_PASS)
        finally:
            client.close()
            _release_lease(conn, owner)
        log.info(
            "cover pass: %d from stored details, %d releases fetched, %d left",
            result.from_stored,
            result.fetched,
            result.remaining,
        )
        return result
    finally:
        conn.close()


def ensure_release_details(
    conn: sqlite3.Connection, settings: config.Settings, release_id: int
) -> ReleaseDetails | None:
    """Stored details, else fetched now when Discogs is configured; ``None`` when unavailable.

    For the album page: a failure (offline, 404) is logged and the page shows
    what the collection already knows.
    """
    details = collection.get_release_details(conn, release_id)
    if details is not None or release_id <= 0:
        return details
    username, token = discogs_credentials(conn, settings)
    if not token:
        return None
    client = make_client(settings, token)
    try:
        return fetch_release_details(conn, client, release_id)
    except DiscogsError as exc:
        log.info("release %d details not fetched: %s", release_id, exc)
        return None
    finally:
        client.close()


# --------------------------------------------------------------------------
# Background runs
# --------------------------------------------------------------------------


def _queue_covers(urls: list[str]) -> None:
    """Hand new cover URLs to the image cache's background queue, if the cache is running."""
    cache = image_cache.get_image_cache()
    if cache is not None:
        cache.queue(urls)


def sync_once(settings: config.Settings, on_progress: Progress | None = None) -> dict[str, Any]:
    """One complete (or resumed) sync with its own connection and client; see :func:`run_sync`.

    Raises :class:`SyncNotConfigured` without a username and token.
    """
    conn = db.connect(settings.DATABASE_PATH)
    try:
        username, token = discogs_credentials(conn, settings)
        if not username or not token:
            raise SyncNotConfigured("set a Discogs username and token at /setup first")
        client = make_client(settings, token)
        try:
            return run_sync(conn, client, username, on_progress=on_progress, queue_covers=_queue_covers)
        finally:
            client.close()
    finally:
        conn.close()


def _sync_in_background(settings: config.Settings) -> None:
    """A sync, then a pass over the covers still missing (new CSV copies, releases without art)."""
    try:
        sync_once(settings)
    except (SyncBusy, SyncNotConfigured) as exc:
        log.info("sync not started: %s", exc)
        return
    except (DiscogsError, sqlite3.Error, OSError):
        return  # recorded in sync_state by run_sync
    except Exception:  # a bug must not kill the scheduler silently
        log.exception("sync crashed")
        return
    _covers_in_background(settings)


def _covers_in_background(settings: config.Settings) -> None:
    try:
        cover_pass_once(settings)
    except SyncBusy as exc:
        log.info("cover pass not started: %s", exc)
    except (sqlite3.Error, OSError) as exc:
        log.warning("cover pass failed: %s", exc)
    except Exception:  # a bug must not kill the scheduler silently
        log.exception("cover pass crashed")


#: ``app.extensions`` key of the app's one Discogs thread: a sync, else a cover pass, one at a time.
DISCOGS = "vv_discogs"
#: Submission numbers: each call gets its own key, so a busy thread refuses a second call instead of merging it.
_submissions = itertools.count()


def _start_on_discogs_thread(app: Flask, name: str, work: Callable[[config.Settings], None]) -> bool:
    """Run ``work(settings)`` on the app's one Discogs thread; False if that thread is busy."""
    settings = app.config["SETTINGS"]
    return app.extensions[DISCOGS].submit((name, next(_submissions)), lambda: work(settings))


def start_sync(app: Flask) -> bool:
    """Start a sync (then a cover pass) on the Discogs thread; False if it is already busy here.

    Another process's run is detected through the lease: the thread then
    logs and stops.
    """
    return _start_on_discogs_thread(app, "sync", _sync_in_background)


def start_cover_pass(app: Flask) -> bool:
    """Start a :func:`cover_pass_once` on the Discogs thread; False if that thread is busy."""
    return _start_on_discogs_thread(app, "covers", _covers_in_background)


def sync_due(conn: sqlite3.Connection, interval_hours: float, now: float | None = None) -> bool:
    """True when the last finished run is older than ``interval_hours`` (or there never was one)."""
    if interval_hours <= 0:
        return False
    row = conn.execute("SELECT finished_at FROM sync_state WHERE id = 1").fetchone()
    if not row["finished_at"]:
        return True
    finished = datetime.fromisoformat(row["finished_at"]).timestamp()
    return (now or time.time()) - finished >= interval_hours * 3600


_SCHEDULER_TICK_SECONDS = 300.0


def _schedule(app: Flask) -> None:
    """One scheduler pass: a sync when one is due, else a cover pass while covers are missing."""
    settings = app.config["SETTINGS"]
    conn = db.connect(settings.DATABASE_PATH)
    try:
        username, token = discogs_credentials(conn, settings)
        due = bool(username and token) and sync_due(conn, settings.SYNC_INTERVAL_HOURS)
        covers = bool(token) and settings.COVERS_PER_PASS > 0 and missing_covers(conn)
    finally:
        conn.close()
    if due:
        start_sync(app)
    elif covers:
        start_cover_pass(app)


def init_app(app: Flask) -> None:
    """Give the app its Discogs thread; start the periodic sync on the first request of each serving process.

    The lease keeps workers from running two syncs; ``sync_due`` keeps them
    from running one each. Shutdown does not wait for a run in progress: one
    Discogs request can take longer than gunicorn's ``graceful_timeout``
    leaves, and a run cut short resumes from its last stored page.
    """
    discogs = app.extensions[DISCOGS] = WorkQueue("vinylvault-discogs", threads=1, limit=1)
    lifecycle.on_shutdown(app, "Discogs thread", lambda: discogs.stop(timeout=0))
    if app.config["SETTINGS"].SYNC_INTERVAL_HOURS <= 0:
        return
    scheduler = Ticker("vinylvault-sync-scheduler", lambda: _schedule(app), _SCHEDULER_TICK_SECONDS)
    lifecycle.on_shutdown(app, "sync scheduler", scheduler.stop)
    lifecycle.start_on_first_request(app, scheduler.start)
