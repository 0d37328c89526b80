"""The HTML site: grid, album, random, search, stats, now playing, sync, set-up, admin.

Every page is rendered on the server and works without JavaScript;
``static/pages.js`` only upgrades links and forms that already work (infinite
scroll over the "Load more" link, arrow keys over the previous/next links).

Query parameters are validated by :mod:`vinylvault.library.collection`; its
:class:`~vinylvault.library.collection.InvalidQuery` becomes a 400 page here, never a
500. Writes are POST forms carrying the CSRF token and answer with a redirect
(post/redirect/get), so reloading a page never repeats an action.

Until the owner's password exists every page redirects to ``/setup``.
"""

from __future__ import annotations

import calendar
import logging
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Mapping

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import BadRequest

import config
from cache_engine.background import WorkQueue
from cache_engine.units import human_when, plural
from vinylvault import db, lifecycle
from vinylvault.access import auth, guest_links
from vinylvault.covers import extension
from vinylvault.library import collection, csv_import, demo, discogs, sync
from vinylvault.listening import scrobble, spins
from vinylvault.site import pwa
from vinylvault.site.charts import bar_chart, column_chart, line_chart
from vinylvault.web import errors

log = logging.getLogger("vinylvault.site.pages")

bp = Blueprint("pages", __name__)

THEMES = ("dark", "light")
THEME_COOKIE = "vv_theme"
#: Grid parameters carried from the grid to album pages (previous/next follow them).
GRID_PARAMS = (
    "sort",
    "order",
    "genre",
    "style",
    "decade",
    "format",
    "folder",
    "q",
    "media",
    "sleeve",
    "shelf",
    "duplicates",
    "group",
)
FILTER_PARAMS = ("genre", "style", "decade", "format", "folder", "media", "sleeve", "shelf", "duplicates")
#: How the active-filter chips name the filters that are not one word.
FILTER_LABELS = {"media": "Record condition", "sleeve": "Sleeve condition", "shelf": "Where is it"}
#: The wantlist's filters and parameters (it has no folders, conditions or shelves).
WANT_FILTERS = ("genre", "style", "decade", "format")
WANT_PARAMS = ("sort", "order", *WANT_FILTERS, "q")
SORT_LABELS = {"artist": "Artist", "title": "Title", "year": "Year", "added": "Date added", "rating": "Rating"}
#: Covers loaded eagerly on a first page: the Pi's first screen, three rows of the widest grid
#: (6 columns; at 800x480 the third row's top shows under the toolbar and two rows); the first
#: row at high priority.
EAGER_COVERS = 18
MAX_PAGE = 100_000
#: (connect, read) seconds for the token check at /setup: the owner is waiting.
SETUP_CHECK_TIMEOUT = (3.0, 8.0)
#: Paths that stay reachable before the owner exists (set-up itself, assets, JSON).
_OPEN_PREFIXES = ("/setup", "/static/", "/cache/", "/api/", "/health", "/theme/")


# --- Request plumbing --------------------------------------------------------


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    """Values base.html needs on every page, including error pages and login.html."""
    theme = request.cookies.get(THEME_COOKIE)
    app_js = Path(current_app.static_folder or "", "app.js")
    return {
        "theme": theme if theme in THEMES else "dark",
        "is_owner": auth.page_is_for_owner(),
        "login_url": url_for("auth.login") if "auth.login" in current_app.view_functions else None,
        "asset_version": pwa.asset_version(),
        "app_js": url_for("static", filename="app.js", v=pwa.asset_version()) if app_js.is_file() else None,
    }


@bp.app_template_filter("human_when")
def _human_when(timestamp: float | None) -> str:
    """A Unix time as people read it: ``2026-12-03 06:15 (3 hours ago)``."""
    return human_when(timestamp)


@bp.before_app_request
def _require_setup() -> Response | None:
    """Send every page to /setup until the owner's password is set."""
    if request.path.startswith(_OPEN_PREFIXES) or auth.is_configured(db.get_db()):
        return None
    return redirect(url_for("pages.setup"))


@bp.errorhandler(collection.InvalidQuery)
def _invalid_query(exc: collection.InvalidQuery):
    return errors.handle_http_exception(BadRequest(str(exc)))


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole-number query parameter within bounds, else :class:`InvalidQuery` (a 400)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise collection.InvalidQuery(name, "must be a whole number") from None
    if not minimum <= value <= maximum:
        raise collection.InvalidQuery(name, f"must be between {minimum} and {maximum}")
    return value


def grid_params() -> dict[str, str]:
    """The grid's sort and filters from the query string, empty ones left out."""
    return {name: request.args[name] for name in GRID_PARAMS if request.args.get(name)}


# --- Grid --------------------------------------------------------------------


@bp.get("/")
def index():
    """The grid of covers: sort, filters, search box, "Load more" (keyset) pagination."""
    conn = db.get_db()
    params = grid_params()
    limit = _int_arg("limit", current_app.config["PAGE_SIZE"], 1, collection.MAX_LIMIT)
    page_number = _int_arg("page", 1, 1, MAX_PAGE)
    after = request.args.get("after") or None
    page = collection.list_albums(
        conn, **params, limit=limit, after=after, offset=(page_number - 1) * limit if page_number > 1 else None
    )
    next_url = None
    if page.next_cursor:
        next_url = url_for("pages.index", **params, **_limit_param(limit), after=page.next_cursor)
    first_page = not after and page_number == 1
    context = {
        "albums": page.albums,
        "total": page.total,
        "next_url": next_url,
        "params": params,
        "eager": EAGER_COVERS if first_page else 0,
        "pressings": collection.pressings_by_master(conn, page.albums) if params.get("group") else None,
    }
    if request.args.get("fragment"):
        return render_template("_grid_page.html", **context)
    return render_template(
        "index.html",
        **context,
        options=collection.filter_options(conn),
        sorts=SORT_LABELS,
        counts=collection.counts(conn),
        filtered=any(params.get(name) for name in (*FILTER_PARAMS, "q")),
        active_filters=[(name, params[name]) for name in FILTER_PARAMS if name in params],
        shelf_field=collection.get_setting(conn, collection.SHELF_FIELD_KEY, ""),
        wants=collection.want_count(conn) if _wants_visible(conn) else 0,
        filter_labels=FILTER_LABELS,
    )


def _limit_param(limit: int) -> dict[str, int]:
    return {"limit": limit} if limit != current_app.config["PAGE_SIZE"] else {}


@bp.post("/demo/remove")
@auth.owner_required
def remove_demo():
    """Delete the demo albums (the owner's own collection is untouched)."""
    removed = demo.remove_demo(
        db.get_db(), current_app.config["DATA_DIR"], current_app.extensions.get(extension.COVERS)
    )
    flash(
        f"Removed the demo collection: {removed.albums} albums and their {removed.cached_images} cached cover images.",
        "ok",
    )
    return redirect(url_for("pages.index"), 303)


# --- Album and now playing ------------------------------------------------------


@bp.get("/album/<album_id:album_id>")
def album(album_id: int):
    """One album: cover, facts, tracklist, rating, notes; previous/next in the grid's sort."""
    conn = db.get_db()
    record = collection.get_album(conn, album_id)
    if record is None:
        abort(404, "There is no album with this number in the collection.")
    params = grid_params()
    previous_id, next_id = collection.neighbours(conn, album_id, **params)
    details, details_pending = _release_details(record)
    return render_template(
        "album.html",
        album=record,
        details=details,
        details_pending=details_pending,
        params=params,
        **_pressings_context(conn, record),
        sides=_owner_sides(conn, record),
        previous_id=previous_id,
        next_id=next_id,
        via_random=request.args.get("via") == "random",
    )


def _pressings_context(conn: sqlite3.Connection, record: collection.Album) -> dict[str, Any]:
    """The album page's other pressings owned, pressings wanted (when the visitor may see the wantlist), shelf."""
    shelf_field = collection.get_setting(conn, collection.SHELF_FIELD_KEY, "") or ""
    return {
        "other_pressings": collection.other_pressings(conn, record),
        "wanted_pressings": collection.wanted_pressings(conn, record) if _wants_visible(conn) else [],
        "shelf_field": shelf_field,
        "shelf": record.custom_fields.get(shelf_field, "") if shelf_field else "",
    }


def _release_details(record: collection.Album) -> tuple[collection.ReleaseDetails | None, bool]:
    """``(details, pending)``: the stored tracklist and details, else a background fetch is asked for.

    The page never waits for Discogs (pacing alone can take seconds): it
    shows what the collection knows, and ``pending`` tells it to say so.
    """
    if record.release_id <= 0:
        return None, False
    conn = db.get_db()
    details = collection.get_release_details(conn, record.release_id)
    if details is not None:
        return details, False
    _, token = sync.discogs_credentials(conn, current_app.config["SETTINGS"])
    return None, bool(token) and _fetch_details_later(current_app.config["SETTINGS"], record.release_id)


#: ``app.extensions`` key of the queue fetching release details off the request path.
DETAILS = "vv_release_details"
#: Releases waiting for their details in this process; beyond this, pages just don't ask.
MAX_PENDING_DETAILS = 32


def init_app(app: Flask) -> None:
    """The album page's details queue: one thread (Discogs is paced anyway), started by its first release.

    Shutdown does not wait for a fetch in flight (one Discogs request can
    outlast gunicorn's ``graceful_timeout``); the next visit asks again.
    """
    details = app.extensions[DETAILS] = WorkQueue("vinylvault-details", threads=1, limit=MAX_PENDING_DETAILS)
    lifecycle.on_shutdown(app, "release details queue", lambda: details.stop(timeout=0))


def _fetch_details_later(settings: config.Settings, release_id: int) -> bool:
    """Queue one background fetch per release; False when :data:`MAX_PENDING_DETAILS` already wait."""
    return current_app.extensions[DETAILS].submit(release_id, lambda: _fetch_details(settings, release_id))


def _fetch_details(settings: config.Settings, release_id: int) -> None:
    conn = db.connect(settings.DATABASE_PATH)
    try:
        sync.ensure_release_details(conn, settings, release_id)
    finally:
        conn.close()


@bp.get("/now-playing/<album_id:album_id>")
def now_playing(album_id: int):
    """The cover filling the screen. Viewing records nothing: the POST below does."""
    conn = db.get_db()
    record = collection.get_album(conn, album_id)
    if record is None:
        abort(404, "There is no album with this number in the collection.")
    return render_template("now_playing.html", album=record, sides=_owner_sides(conn, record))


@bp.post("/now-playing/<album_id:album_id>")
@auth.csrf_protect
@auth.rate_limit(scope="plays")
def record_play(album_id: int):
    """Count a play (anyone at the turntable may; CSRF-checked, rate limited), then show the record."""
    if not collection.record_play(db.get_db(), album_id):
        abort(404, "There is no album with this number in the collection.")
    return redirect(url_for("pages.now_playing", album_id=album_id), 303)


# --- Spinning a record ------------------------------------------------------------


def _spin_settings() -> tuple[int, float]:
    settings = current_app.config["SETTINGS"]
    return settings.SPIN_UNKNOWN_TRACK_SECONDS, settings.SPIN_FORGOTTEN_MINUTES * 60


def _owner_sides(conn: sqlite3.Connection, record: collection.Album) -> list[spins.Side]:
    """The sides the owner may put on the turntable from this page; none for guests (spinning is the owner's)."""
    return spins.album_sides(conn, record, _spin_settings()[0]) if auth.page_is_for_owner() else []


def spinning_view(conn: sqlite3.Connection, now: float) -> dict[str, Any]:
    """What the now-spinning screen shows: the spin, its album, the side, the needle and the next side."""
    unknown, grace = _spin_settings()
    spins.close_forgotten(conn, now, unknown, grace)
    spin = spins.current(conn)
    album = collection.get_album(conn, spin.album_id) if spin else None
    if spin is None or album is None:
        return {"spin": None}
    sides = spins.album_sides(conn, album, unknown)
    side = sides[min(spin.side_index, len(sides) - 1)]
    return {
        "spin": spin,
        "album": album,
        "side": side,
        "needle": spins.needle(side, spin.started_at, now),
        "starts": spins.track_starts(side, spin.started_at),
        "next_side": sides[spin.side_index + 1] if spin.side_index + 1 < len(sides) else None,
    }


@bp.get("/spinning")
def spinning():
    """The record on the turntable: cover, the side's tracks, the one playing, time left, flip."""
    return render_template("spinning.html", **spinning_view(db.get_db(), time.time()))


@bp.get("/spinning/state")
def spinning_state():
    """Which side is on the turntable (JSON), polled by spinning.js so every screen follows a flip."""
    spin = spins.current(db.get_db())
    return jsonify(
        {
            "spin": spin.id if spin else None,
            "album_id": spin.album_id if spin else None,
            "side": spin.side if spin else None,
            "started_at": spin.started_at if spin else None,
        }
    )


@bp.post("/spinning/start/<album_id:album_id>")
@auth.owner_required
@auth.csrf_protect
def spin_start(album_id: int):
    """Put a side of the album on the turntable (form field ``side``: its number, 0 for the first)."""
    side = request.form.get("side", "0")
    if not (side.isascii() and side.isdigit()) or len(side) > 3:
        log.info("spin refused: side %r is not a side number", side[:10])
        abort(400, "Choose a side of the record.")
    try:
        spins.start(db.get_db(), album_id, int(side), time.time(), _spin_settings()[0])
    except spins.SpinError as exc:
        log.info("spin refused: %s", exc)
        abort(404 if collection.get_album(db.get_db(), album_id) is None else 400, str(exc))
    return redirect(url_for("pages.spinning"), 303)


@bp.post("/spinning/flip")
@auth.owner_required
@auth.csrf_protect
def spin_flip():
    """Turn the record over: the next side starts now; after the last side the record is done."""
    try:
        following = spins.flip(db.get_db(), time.time(), _spin_settings()[0])
    except spins.SpinError as exc:
        log.info("flip refused: %s", exc)
        abort(409, str(exc))
    if following is None:
        flash("That was the last side: the record is done.", "ok")
    return redirect(url_for("pages.spinning"), 303)


@bp.post("/spinning/stop")
@auth.owner_required
@auth.csrf_protect
def spin_stop():
    """Lift the needle: the side is kept in the history as played through or stopped early."""
    if spins.stop(db.get_db(), time.time(), _spin_settings()[0]) is None:
        flash("Nothing was on the turntable.", "ok")
    return redirect(url_for("pages.spinning"), 303)


@bp.get("/history")
@auth.owner_required
def history():
    """Every side played, newest first, with its cover; filters: album, artist, month."""
    conn = db.get_db()
    album_arg = request.args.get("album") or ""
    album_id = None
    if album_arg:
        album_id = _int_arg("album", 0, -(2**62), 2**62)
    artist = (request.args.get("artist") or "").strip()
    month = (request.args.get("month") or "").strip()
    page_number = _int_arg("page", 1, 1, MAX_PAGE)
    limit = spins.MAX_HISTORY_PAGE // 2
    rows, total = spins.history(
        conn, album_id=album_id, artist=artist, month=month, limit=limit, offset=(page_number - 1) * limit
    )
    params = {k: v for k, v in (("album", album_arg), ("artist", artist), ("month", month)) if v}
    next_url = url_for("pages.history", **params, page=page_number + 1) if total > page_number * limit else None
    return render_template(
        "history.html",
        rows=rows,
        total=total,
        params=params,
        next_url=next_url,
        album_filter=collection.get_album(conn, album_id) if album_id is not None else None,
    )


# --- Wantlist -------------------------------------------------------------------


def _wants_visible(conn: sqlite3.Connection) -> bool:
    """The owner always sees the wantlist; a guest only once the owner made it public."""
    return auth.page_is_for_owner() or collection.get_setting(conn, collection.WANTS_PUBLIC_KEY, "") == "1"


@bp.get("/wants")
def wants():
    """The Discogs wantlist as a grid: the same sort, filters, search and paging as the collection."""
    conn = db.get_db()
    if not _wants_visible(conn):
        # Like private photos: a private wantlist is not there for a guest.
        abort(404, "The owner keeps the wantlist private.")
    params = {name: request.args[name] for name in WANT_PARAMS if request.args.get(name)}
    limit = current_app.config["PAGE_SIZE"]
    after = request.args.get("after") or None
    page = collection.list_wants(conn, **params, limit=limit, after=after)
    next_url = url_for("pages.wants", **params, after=page.next_cursor) if page.next_cursor else None
    context = {
        "wants": page.albums,
        "total": page.total,
        "next_url": next_url,
        "params": params,
        "eager": 0 if after else EAGER_COVERS,
        "show_notes": auth.page_is_for_owner(),
    }
    if request.args.get("fragment"):
        return render_template("_wants_page.html", **context)
    filters = [name for name in WANT_FILTERS if name in params]
    return render_template(
        "wants.html",
        **context,
        options=collection.want_filter_options(conn),
        sorts=SORT_LABELS,
        filtered=bool(filters or params.get("q")),
        active_filters=[(name, params[name]) for name in filters],
    )


@bp.post("/sync/collector-settings")
@auth.owner_required
def collector_settings():
    """The owner's choices for the wantlist's visibility and the shelf field (CSRF-checked form)."""
    conn = db.get_db()
    shelf_field = request.form.get("shelf_field", "").strip()
    if len(shelf_field) > 100:
        log.info("collector settings refused: shelf field name longer than 100 characters")
        abort(400, "The shelf field's name can be at most 100 characters.")
    collection.set_setting(conn, collection.SHELF_FIELD_KEY, shelf_field or None)
    collection.set_setting(conn, collection.WANTS_PUBLIC_KEY, "1" if request.form.get("wants_public") else None)
    flash("Saved.", "ok")
    return redirect(url_for("pages.sync_page"), 303)


# --- Random, search, stats -------------------------------------------------------


@bp.get("/spin")
def spin():
    """ "Spin the crates": the record button that leads to /random."""
    return render_template("random.html", total=collection.counts(db.get_db())["albums"])


@bp.get("/random")
def random_pick():
    """Redirect (302) to a random album, weighted by rating (``?favour=unplayed``: by how long since it was
    last played); the spin page when there is none."""
    if request.args.get("favour") == "unplayed":
        record = spins.unplayed_pick(db.get_db(), time.time())
    else:
        record = collection.random_album(db.get_db())
    if record is None:
        return redirect(url_for("pages.spin"))
    return redirect(url_for("pages.album", album_id=record.id, via="random"))


@bp.get("/search")
def search():
    """Search over artist, title, label, catalog number and track titles."""
    q = (request.args.get("q") or "").strip()
    limit = current_app.config["PAGE_SIZE"]
    page_number = _int_arg("page", 1, 1, MAX_PAGE)
    result = collection.search(db.get_db(), q, limit=limit, offset=(page_number - 1) * limit) if q else None
    next_url = None
    if result and result.total > page_number * limit:
        next_url = url_for("pages.search", q=q, page=page_number + 1)
    if result and request.args.get("fragment"):
        return render_template("_grid_page.html", albums=result.albums, next_url=next_url, params={"q": q}, eager=0)
    return render_template(
        "search.html", q=q, result=result, next_url=next_url, eager=EAGER_COVERS if page_number == 1 else 0
    )


#: A /stats chart with nothing to count (a CSV export may carry no genres, say).
STATS_EMPTY = "No {what} known for these albums yet: Discogs fills them in when the collection syncs."


@bp.get("/stats")
def stats():
    """Totals, charts by genre, decade and format, newest additions, and the cache's numbers."""
    numbers = collection.collection_stats(db.get_db())
    charts = {
        "genre": bar_chart(
            [(o.label, o.count) for o in numbers.by_genre[:10]],
            chart_id="chart-genre",
            title="Albums by genre (top 10)",
            empty=STATS_EMPTY.format(what="genres"),
        ),
        "decade": column_chart(
            [(o.label, o.count) for o in numbers.by_decade],
            chart_id="chart-decade",
            title="Albums by decade",
            empty=STATS_EMPTY.format(what="release years"),
        ),
        "format": bar_chart(
            [(o.label, o.count) for o in numbers.by_format[:10]],
            chart_id="chart-format",
            title="Albums by format (top 10)",
            empty=STATS_EMPTY.format(what="formats"),
        ),
    }
    value = _value_context(db.get_db()) if auth.page_is_for_owner() else None
    return render_template(
        "stats.html",
        stats=numbers,
        charts=charts,
        cache=_cache_stats(),
        value=value,
        spinning=_spinning_stats(db.get_db()) if auth.page_is_for_owner() else None,
    )


def _spinning_stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """The owner's listening on /stats: sides per month (chart), most played, dust collectors, share this year."""
    numbers = spins.spin_stats(conn, time.time())
    chart = (
        column_chart(
            [(calendar.month_abbr[int(month[5:])], count) for month, count in numbers.per_month],
            chart_id="chart-spins",
            title="Sides played per month",
            unit="sides",
            empty="Nothing played yet.",
        )
        if any(c for _, c in numbers.per_month)
        else None
    )
    share = round(100 * numbers.played_this_year / numbers.owned) if numbers.owned else 0
    return {"numbers": numbers, "chart": chart, "share": share}


def _value_context(conn: sqlite3.Connection) -> dict[str, Any]:
    """The collection value over time for the owner: the chart of medians and every snapshot as given.

    Only snapshots read unambiguously (:func:`collection.parse_money`) and in
    the latest readable currency are charted; each other one says why not.
    """
    history = collection.value_history(conn)
    readable = [s for s in history if s.amounts is not None]
    currency = readable[-1].currency if readable else None
    rows = []
    for snapshot in history:
        problem = snapshot.problem
        if problem is None and snapshot.currency != currency:
            problem = f"in {snapshot.currency}, not {currency}"
        rows.append((snapshot, problem))
    charted = [s for s, problem in rows if problem is None]
    chart = (
        line_chart(
            [(s.taken_at[:10], float(s.amounts[1])) for s in charted],
            chart_id="chart-value",
            title=f"Median value of the collection ({currency})",
            unit=currency or "",
            value_labels=[s.median for s in charted],
        )
        if charted
        else None
    )
    return {"rows": rows, "chart": chart, "currency": currency}


def _cache_stats() -> dict[str, Any] | None:
    cache = current_app.extensions.get(extension.COVERS)
    return cache.get_cache_stats() if cache is not None else None


# --- Sync, set-up, admin ------------------------------------------------------------

SYNC_MESSAGES = {
    "idle": "Not synced yet.",
    "running": "Syncing: page {page} of {pages}, {items_done} of {total} items.",
    "running wantlist": "Syncing the wantlist: page {wants_page} of {wants_pages} (the collection's {total} items are in).",
    "interrupted": "Interrupted; the next sync resumes where it stopped.",
    "failed": "The last sync failed.",
    "done": "Up to date.",
}


def sync_view() -> dict[str, Any]:
    """:func:`sync.sync_status` plus a sentence for people (``message``)."""
    status = sync.sync_status(db.get_db())
    state = "running wantlist" if status["state"] == "running" and status["phase"] == "wantlist" else status["state"]
    status["message"] = SYNC_MESSAGES.get(state, status["state"]).format(**status)
    return status


@bp.get("/sync")
def sync_page():
    """Last sync, its state and progress; the owner can start one.

    Without a Discogs account there is nothing to sync: the page says how
    to connect one instead of offering a sync that cannot run.
    """
    conn = db.get_db()
    settings = current_app.config["SETTINGS"]
    username, token = sync.discogs_credentials(conn, settings)
    return render_template(
        "sync.html",
        status=sync_view(),
        connected=bool(username and token),
        covers_note=_covers_note(conn, token, "on the set-up page (the button below)"),
        period=sync_period(settings.SYNC_INTERVAL_HOURS),
        shelf_field=collection.get_setting(conn, collection.SHELF_FIELD_KEY, ""),
        wants_public=collection.get_setting(conn, collection.WANTS_PUBLIC_KEY, "") == "1",
        wants_count=collection.want_count(conn),
    )


def sync_period(hours: float) -> str | None:
    """``'every day'``, ``'every 6 hours'``; ``None`` when automatic syncing is off."""
    if hours <= 0:
        return None
    if hours % 24 == 0:
        return "every day" if hours == 24 else f"every {hours / 24:g} days"
    return f"every {hours:g} hours"


def _covers_note(conn: sqlite3.Connection, token: str, where: str) -> str | None:
    """The CSV albums' placeholder note (:func:`csv_import.placeholder_note`) when a token would bring covers."""
    waiting = 0 if token else csv_import.albums_waiting_for_covers(conn)
    return csv_import.placeholder_note(waiting, where) if waiting else None


@bp.get("/sync/status")
def sync_status():
    """The same as JSON, polled by pages.js while a sync runs (no credentials in it)."""
    return jsonify(sync_view())


@bp.post("/sync")
@auth.owner_required
def start_sync():
    if not all(sync.discogs_credentials(db.get_db(), current_app.config["SETTINGS"])):
        flash("Connect a Discogs username and token first.", "error")
        return redirect(url_for("pages.setup"), 303)
    if not sync.start_sync(current_app._get_current_object()):
        flash("A sync is already running.", "ok")
    return redirect(url_for("pages.sync_page"), 303)


@bp.route("/setup", methods=["GET", "POST"])
@auth.csrf_protect
def setup():
    """First run: the owner's password and, optionally, a Discogs account.

    Once the owner exists, only they reach this page, to change the Discogs
    account. The token is checked against the API, stored, and never sent
    back: the form shows only whether one is stored.
    """
    conn = db.get_db()
    first_run = not auth.is_configured(conn)
    if not first_run and not auth.current_user_is_owner():
        return redirect(url_for("auth.login", next=url_for("pages.setup")))
    username = collection.get_setting(conn, sync.USERNAME_KEY, "") or ""
    problems: list[str] = []
    if request.method == "POST":
        username = request.form.get("discogs_username", "").strip()
        problems = _save_setup(conn, first_run, request.form, username)
        if not problems:
            if first_run:
                auth.login_owner()
            flash(_setup_saved_message(conn, first_run), "ok")
            return redirect(url_for("pages.index" if first_run else "pages.admin"), 303)
    token = sync.discogs_credentials(conn, current_app.config["SETTINGS"])[1]
    return render_template(
        "setup.html",
        first_run=first_run,
        errors=problems,
        discogs_username=username,
        has_token=bool(collection.get_setting(conn, sync.TOKEN_KEY)),
        covers_note=_covers_note(conn, token, "below"),
        scrobbling=None if first_run else _scrobbling_accounts(conn),
    ), 400 if problems else 200


def _setup_saved_message(conn: sqlite3.Connection, first_run: bool) -> str:
    """The flash after saving: what happens next to CSV albums still showing placeholders."""
    saved = "Set-up saved." if first_run else "Discogs account saved."
    waiting = csv_import.albums_waiting_for_covers(conn)
    if not waiting:
        return saved
    if sync.discogs_credentials(conn, current_app.config["SETTINGS"])[1]:
        return (
            f"{saved} Covers for your {plural(waiting, 'album')} from the CSV file now arrive by themselves, "
            "in the background."
        )
    return f"{saved} {csv_import.placeholder_note(waiting)}"


def _save_setup(conn: sqlite3.Connection, first_run: bool, form: Mapping[str, str], username: str) -> list[str]:
    """Validate the set-up form and store it; return what is wrong (nothing stored then)."""
    password = form.get("password", "")
    token = form.get("discogs_token", "").strip()
    problems = []
    if first_run and password != form.get("password_confirm", ""):
        problems.append("The two passwords differ.")
    if first_run and len(password) < auth.MIN_PASSWORD_LENGTH:
        problems.append(f"The password needs at least {auth.MIN_PASSWORD_LENGTH} characters.")
    if not problems and token:
        username, problems = _check_discogs_token(username, token)
    if problems:
        log.info("set-up refused: %s", " ".join(problems))
        return problems
    if first_run:
        try:
            auth.set_password(conn, password)
        except auth.WeakPassword as exc:
            return [f"{str(exc).capitalize()}."]
    collection.set_setting(conn, sync.USERNAME_KEY, username or None)
    if token:
        collection.set_setting(conn, sync.TOKEN_KEY, token)
    elif form.get("forget_token"):
        collection.set_setting(conn, sync.TOKEN_KEY, None)
    return []


def _check_discogs_token(username: str, token: str) -> tuple[str, list[str]]:
    """``(username, problems)``: ask Discogs whom the token belongs to, quickly and once.

    An empty ``username`` is filled in from the answer. The token never
    reaches a log line or a message (DiscogsError messages leave it out).
    """
    client = discogs.DiscogsClient(
        current_app.config["DISCOGS_API_URL"],
        token,
        current_app.config["USER_AGENT"],
        min_interval=0,
        timeout=SETUP_CHECK_TIMEOUT,
        max_retries=1,
    )
    try:
        owner = client.check_token()
    except discogs.DiscogsAuthError:
        return username, ["Discogs did not accept this token; copy it again from discogs.com → Settings → Developers."]
    except discogs.DiscogsError as exc:
        log.info("set-up: Discogs token not checked: %s", exc)
        return username, ["Discogs could not be reached to check the token; try again, or leave it empty for now."]
    finally:
        client.close()
    if username and username.casefold() != owner.casefold():
        return username, [f"This token belongs to the Discogs user {owner}, not {username}."]
    return owner, []


LASTFM_STATE = "lastfm_state"


def _scrobbling_accounts(conn: sqlite3.Connection) -> dict[str, Any]:
    """What the set-up page says of the scrobbling accounts (whether each is stored; never the values)."""
    stored = scrobble.accounts(conn)
    return {
        "listenbrainz": bool(stored.listenbrainz_token),
        "lastfm_key": bool(stored.lastfm_key),
        "lastfm_secret": bool(stored.lastfm_secret),
        "lastfm_session": bool(stored.lastfm_session),
        "lastfm_user": collection.get_setting(conn, scrobble.LASTFM_USER_KEY, "") or "",
    }


@bp.post("/setup/scrobbling")
@auth.owner_required
@auth.csrf_protect
def save_scrobbling():
    """Store the ListenBrainz token (once ListenBrainz knows it) and the Last.fm API key and secret
    (empty fields keep what is stored)."""
    form = request.form.to_dict()
    token = form.get("listenbrainz_token", "").strip()
    if token and not form.get("forget_listenbrainz"):
        try:
            user = scrobble.check_listenbrainz_token(current_app.config["SETTINGS"], token)
        except scrobble.ListenBrainzTokenRefused as exc:
            log.info("set-up: ListenBrainz token refused")
            flash(f"{exc} Nothing was saved.", "error")
            return redirect(url_for("pages.setup"), 303)
        except scrobble.ListenBrainzUnreachable as exc:
            log.info("set-up: ListenBrainz token not checked: %s", exc)
            flash(
                f"{exc} The token is saved unchecked: plays wait in the queue until ListenBrainz takes them.", "error"
            )
        else:
            flash(
                f"ListenBrainz knows this token: plays are sent as {user}."
                if user
                else "ListenBrainz knows this token.",
                "ok",
            )
    scrobble.save_accounts(db.get_db(), form)
    flash("Scrobbling accounts saved.", "ok")
    return redirect(url_for("pages.setup"), 303)


@bp.post("/setup/lastfm/connect")
@auth.owner_required
@auth.csrf_protect
def lastfm_connect():
    """Send the owner to Last.fm to allow VinylVault; Last.fm sends them back to the callback below."""
    stored = scrobble.accounts(db.get_db())
    if not (stored.lastfm_key and stored.lastfm_secret):
        flash("Save the Last.fm API key and secret first.", "error")
        return redirect(url_for("pages.setup"), 303)
    state = session[LASTFM_STATE] = secrets.token_urlsafe(16)
    callback = url_for("pages.lastfm_callback", state=state, _external=True)
    return redirect(scrobble.lastfm_auth_url(current_app.config["SETTINGS"], stored.lastfm_key, callback), 303)


@bp.get("/setup/lastfm/callback")
@auth.owner_required
def lastfm_callback():
    """Last.fm's answer: exchange its token for the owner's session (once; kept until forgotten)."""
    expected = session.pop(LASTFM_STATE, None)
    token = request.args.get("token", "")
    if not expected or request.args.get("state") != expected or not token or len(token) > 100:
        log.info("Last.fm callback refused: unknown state or no token")
        abort(400, "This Last.fm answer does not belong to a connection started here; start again.")
    conn = db.get_db()
    stored = scrobble.accounts(conn)
    try:
        username, key = scrobble.lastfm_get_session(
            current_app.config["SETTINGS"], stored.lastfm_key, stored.lastfm_secret, token
        )
    except scrobble.LastFMAuthError as exc:
        log.info("Last.fm session not made: %s", exc)
        flash(str(exc), "error")
        return redirect(url_for("pages.setup"), 303)
    collection.set_setting(conn, scrobble.LASTFM_SESSION_KEY, key)
    collection.set_setting(conn, scrobble.LASTFM_USER_KEY, username or None)
    flash(f"Last.fm connected{f' as {username}' if username else ''}: plays are scrobbled from now on.", "ok")
    return redirect(url_for("pages.setup"), 303)


@bp.post("/admin/scrobbles/retry")
@auth.owner_required
@auth.csrf_protect
def retry_scrobbles():
    """Queue the failed listens again (after the owner fixed a token or the Last.fm connection)."""
    count = scrobble.retry_failed(db.get_db(), time.time())
    flash(f"{plural(count, 'listen')} queued again.", "ok")
    return redirect(url_for("pages.admin"), 303)


@bp.get("/admin")
@auth.owner_required
def admin():
    """Cache statistics with memory scopes, clear-cache and preload controls, Discogs account."""
    conn = db.get_db()
    return render_template(
        "admin.html",
        cache=_cache_stats(),
        counts=collection.counts(conn),
        discogs_user=collection.get_setting(conn, sync.USERNAME_KEY, ""),
        has_token=bool(collection.get_setting(conn, sync.TOKEN_KEY)),
        api_tokens=auth.list_api_tokens(conn),
        scrobbles={
            "summary": scrobble.queue_summary(conn),
            "problems": scrobble.problem_rows(conn),
            "enabled": scrobble.accounts(conn).enabled(),
            "names": scrobble.SERVICE_NAMES,
        },
        # First: the kiosk's guest link is made on demand, and then listed below the code.
        guest_address=guest_links.entry_url(),
        guest_links=guest_links.list_links(conn),
    )


@bp.post("/admin/clear-cache")
@auth.owner_required
def clear_cache():
    cache = current_app.extensions.get(extension.COVERS)
    if cache is None or not cache.clear_cache():
        flash("The cover cache could not be cleared; see the server log.", "error")
    else:
        flash("Cover cache cleared; covers are converted again as they are viewed.", "ok")
    return redirect(url_for("pages.admin"), 303)


@bp.post("/admin/memory/<scope>/clear")
@auth.owner_required
def clear_memory_scope(scope: str):
    """Drop one page's images from this worker's memory tier (files on disk stay)."""
    cache = current_app.extensions.get(extension.COVERS)
    if cache is None or cache.memory is None:
        flash("The memory tier is off: there is nothing to clear.", "error")
    elif scope not in cache.memory.stats()["scopes"]:
        abort(404, "No such page scope in this worker's memory.")
    else:
        freed = cache.memory.clear_scope(scope)
        flash(f"Cleared the {scope} scope ({freed} bytes) in this worker.", "ok")
    return redirect(url_for("pages.admin"), 303)


# --- Theme --------------------------------------------------------------------------


@bp.get("/theme/<name>")
def set_theme(name: str):
    """Without JavaScript, the theme button lands here: store the choice in a cookie and go back."""
    if name not in THEMES:
        abort(404)
    response = redirect(auth.safe_next(request.args.get("next")))
    response.set_cookie(THEME_COOKIE, name, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return response
