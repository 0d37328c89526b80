"""The HTML site: grid, album, random, search, stats, now playing, sync, set-up, admin.

Every page is rendered on the server and works without JavaScript;
``static/pages.js`` only upgrades links and forms that already work (infinite
scroll over the "Load more" link, arrow keys over the previous/next links).

Query parameters are validated by :mod:`vinylvault.collection`; its
:class:`~vinylvault.collection.InvalidQuery` becomes a 400 page here, never a
500. Writes are POST forms carrying the CSRF token and answer with a redirect
(post/redirect/get), so reloading a page never repeats an action.

Until the owner's password exists every page redirects to ``/setup``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)
from werkzeug.exceptions import BadRequest

import config
from cache_engine.units import human_when, plural

from . import auth, collection, csv_import, db, demo, discogs, errors, sync
from .svg_charts import bar_chart, column_chart, line_chart

log = logging.getLogger("vinylvault.pages")

bp = Blueprint("pages", __name__)

THEMES = ("dark", "light")
THEME_COOKIE = "vv_theme"
#: Grid parameters carried from the grid to album pages (previous/next follow them).
GRID_PARAMS = ("sort", "order", "genre", "style", "decade", "format", "folder", "q",
               "media", "sleeve", "shelf", "duplicates", "group")
FILTER_PARAMS = ("genre", "style", "decade", "format", "folder", "media", "sleeve", "shelf", "duplicates")
#: How the active-filter chips name the filters that are not one word.
FILTER_LABELS = {"media": "Record condition", "sleeve": "Sleeve condition", "shelf": "Where is it"}
#: The wantlist's filters and parameters (it has no folders, conditions or shelves).
WANT_FILTERS = ("genre", "style", "decade", "format")
WANT_PARAMS = ("sort", "order", *WANT_FILTERS, "q")
SORT_LABELS = {"artist": "Artist", "title": "Title", "year": "Year", "added": "Date added", "rating": "Rating"}
#: Covers loaded eagerly on a first page: the Pi's first screen, two rows of the widest grid
#: (6 columns); the first row at high priority.
EAGER_COVERS = 12
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
        "is_owner": _is_owner(),
        "login_url": url_for("auth.login") if "auth.login" in current_app.view_functions else None,
        "asset_version": config.VERSION,
        "app_js": url_for("static", filename="app.js", v=config.VERSION) if app_js.is_file() else None,
    }


def _is_owner() -> bool:
    # An error page can render before the database is usable; it then shows the guest view.
    try:
        return auth.current_user_is_owner()
    except Exception:  # noqa: BLE001 - never let the header break an error page
        return False


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
    page = collection.list_albums(conn, **params, limit=limit, after=after,
                                  offset=(page_number - 1) * limit if page_number > 1 else None)
    next_url = None
    if page.next_cursor:
        next_url = url_for("pages.index", **params, **_limit_param(limit), after=page.next_cursor)
    first_page = not after and page_number == 1
    context = {"albums": page.albums, "total": page.total, "next_url": next_url, "params": params,
               "eager": EAGER_COVERS if first_page else 0,
               "pressings": collection.pressings_by_master(conn, page.albums) if params.get("group") else None}
    if request.args.get("fragment"):
        return render_template("_grid_page.html", **context)
    return render_template(
        "index.html", **context, options=collection.filter_options(conn), sorts=SORT_LABELS,
        counts=collection.counts(conn), filtered=any(params.get(name) for name in (*FILTER_PARAMS, "q")),
        active_filters=[(name, params[name]) for name in FILTER_PARAMS if name in params],
        shelf_field=collection.get_setting(conn, collection.SHELF_FIELD_KEY, ""),
        wants=collection.want_count(conn) if _wants_visible(conn) else 0, filter_labels=FILTER_LABELS)


def _limit_param(limit: int) -> dict[str, int]:
    return {"limit": limit} if limit != current_app.config["PAGE_SIZE"] else {}


@bp.post("/demo/remove")
@auth.owner_required
def remove_demo():
    """Delete the demo albums (the owner's own collection is untouched)."""
    removed = demo.remove_demo(db.get_db(), current_app.config["DATA_DIR"],
                               current_app.extensions.get("image_cache"))
    flash(f"Removed the demo collection: {removed.albums} albums and their {removed.cached_images} "
          "cached cover images.", "ok")
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
    return render_template("album.html", album=record, details=details, details_pending=details_pending,
                           params=params, **_pressings_context(conn, record),
                           previous_id=previous_id, next_id=next_id,
                           via_random=request.args.get("via") == "random")


def _pressings_context(conn: sqlite3.Connection, record: collection.Album) -> dict[str, Any]:
    """The album page's other pressings owned, pressings wanted (when the visitor may see the wantlist), shelf."""
    shelf_field = collection.get_setting(conn, collection.SHELF_FIELD_KEY, "") or ""
    return {"other_pressings": collection.other_pressings(conn, record),
            "wanted_pressings": collection.wanted_pressings(conn, record) if _wants_visible(conn) else [],
            "shelf_field": shelf_field, "shelf": record.custom_fields.get(shelf_field, "") if shelf_field else ""}


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


_details_lock = threading.Lock()
_details_pending: set[int] = set()
_details_pool: ThreadPoolExecutor | None = None
#: Releases waiting for their details in this process; beyond this, pages just don't ask.
MAX_PENDING_DETAILS = 32


def _fetch_details_later(settings: config.Settings, release_id: int) -> bool:
    """Queue one background fetch per release (one worker: Discogs is paced anyway)."""
    global _details_pool
    with _details_lock:
        if release_id in _details_pending:
            return True
        if len(_details_pending) >= MAX_PENDING_DETAILS:
            return False
        if _details_pool is None:
            _details_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vinylvault-details")
        _details_pending.add(release_id)
        _details_pool.submit(_fetch_details, settings, release_id)
        return True


def _fetch_details(settings: config.Settings, release_id: int) -> None:
    conn = db.connect(settings.DATABASE_PATH)
    try:
        sync.ensure_release_details(conn, settings, release_id)
    except Exception:  # noqa: BLE001 - a background thread has nobody else to tell
        log.exception("release %d details: fetch failed", release_id)
    finally:
        conn.close()
        with _details_lock:
            _details_pending.discard(release_id)


@bp.get("/now-playing/<album_id:album_id>")
def now_playing(album_id: int):
    """The cover filling the screen. Viewing records nothing: the POST below does."""
    record = collection.get_album(db.get_db(), album_id)
    if record is None:
        abort(404, "There is no album with this number in the collection.")
    return render_template("now_playing.html", album=record)


@bp.post("/now-playing/<album_id:album_id>")
@auth.csrf_protect
@auth.rate_limit(scope="plays")
def record_play(album_id: int):
    """Count a play (anyone at the turntable may; CSRF-checked, rate limited), then show the record."""
    if not collection.record_play(db.get_db(), album_id):
        abort(404, "There is no album with this number in the collection.")
    return redirect(url_for("pages.now_playing", album_id=album_id), 303)


# --- Wantlist -------------------------------------------------------------------

def _wants_visible(conn: sqlite3.Connection) -> bool:
    """The owner always sees the wantlist; a guest only once the owner made it public."""
    return _is_owner() or collection.get_setting(conn, collection.WANTS_PUBLIC_KEY, "") == "1"


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
    context = {"wants": page.albums, "total": page.total, "next_url": next_url, "params": params,
               "eager": 0 if after else EAGER_COVERS, "show_notes": _is_owner()}
    if request.args.get("fragment"):
        return render_template("_wants_page.html", **context)
    filters = [name for name in WANT_FILTERS if name in params]
    return render_template("wants.html", **context, options=collection.want_filter_options(conn),
                           sorts=SORT_LABELS, filtered=bool(filters or params.get("q")),
                           active_filters=[(name, params[name]) for name in filters])


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
    """"Spin the crates": the record button that leads to /random."""
    return render_template("random.html", total=collection.counts(db.get_db())["albums"])


@bp.get("/random")
def random_pick():
    """Redirect (302) to a random album, weighted by rating; the spin page when there is none."""
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
        return render_template("_grid_page.html", albums=result.albums, next_url=next_url,
                               params={"q": q}, eager=0)
    return render_template("search.html", q=q, result=result, next_url=next_url,
                           eager=EAGER_COVERS if page_number == 1 else 0)


#: A /stats chart with nothing to count (a CSV export may carry no genres, say).
STATS_EMPTY = "No {what} known for these albums yet: Discogs fills them in when the collection syncs."


@bp.get("/stats")
def stats():
    """Totals, charts by genre, decade and format, newest additions, and the cache's numbers."""
    numbers = collection.collection_stats(db.get_db())
    charts = {
        "genre": bar_chart([(o.label, o.count) for o in numbers.by_genre[:10]],
                           chart_id="chart-genre", title="Albums by genre (top 10)",
                           empty=STATS_EMPTY.format(what="genres")),
        "decade": column_chart([(o.label, o.count) for o in numbers.by_decade],
                               chart_id="chart-decade", title="Albums by decade",
                               empty=STATS_EMPTY.format(what="release years")),
        "format": bar_chart([(o.label, o.count) for o in numbers.by_format[:10]],
                            chart_id="chart-format", title="Albums by format (top 10)",
                            empty=STATS_EMPTY.format(what="formats")),
    }
    value = _value_context(db.get_db()) if _is_owner() else None
    return render_template("stats.html", stats=numbers, charts=charts, cache=_cache_stats(), value=value)


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
    chart = line_chart([(s.taken_at[:10], float(s.amounts[1])) for s in charted], chart_id="chart-value",
                       title=f"Median value of the collection ({currency})", unit=currency or "",
                       value_labels=[s.median for s in charted]) if charted else None
    return {"rows": rows, "chart": chart, "currency": currency}


def _cache_stats() -> dict[str, Any] | None:
    cache = current_app.extensions.get("image_cache")
    return cache.get_cache_stats() if cache is not None else None


# --- Sync, set-up, admin ------------------------------------------------------------

SYNC_MESSAGES = {
    "idle": "Not synced yet.",
    "running": "Syncing: page {page} of {pages}, {items_done} of {total} items.",
    "interrupted": "Interrupted; the next sync resumes where it stopped.",
    "failed": "The last sync failed.",
    "done": "Up to date.",
}


def sync_view() -> dict[str, Any]:
    """:func:`sync.sync_status` plus a sentence for people (``message``)."""
    status = sync.sync_status(db.get_db())
    status["message"] = SYNC_MESSAGES.get(status["state"], status["state"]).format(**status)
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
    return render_template("sync.html", status=sync_view(), connected=bool(username and token),
                           covers_note=_covers_note(conn, token, "on the set-up page (the button below)"),
                           period=sync_period(settings.SYNC_INTERVAL_HOURS),
                           shelf_field=collection.get_setting(conn, collection.SHELF_FIELD_KEY, ""),
                           wants_public=collection.get_setting(conn, collection.WANTS_PUBLIC_KEY, "") == "1",
                           wants_count=collection.want_count(conn))


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
    return render_template("setup.html", first_run=first_run, errors=problems, discogs_username=username,
                           has_token=bool(collection.get_setting(conn, sync.TOKEN_KEY)),
                           covers_note=_covers_note(conn, token, "below")), \
        400 if problems else 200


def _setup_saved_message(conn: sqlite3.Connection, first_run: bool) -> str:
    """The flash after saving: what happens next to CSV albums still showing placeholders."""
    saved = "Set-up saved." if first_run else "Discogs account saved."
    waiting = csv_import.albums_waiting_for_covers(conn)
    if not waiting:
        return saved
    if sync.discogs_credentials(conn, current_app.config["SETTINGS"])[1]:
        return (f"{saved} Covers for your {plural(waiting, 'album')} from the CSV file now arrive by themselves, "
                "in the background.")
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
    client = discogs.DiscogsClient(current_app.config["DISCOGS_API_URL"], token, current_app.config["USER_AGENT"],
                                   min_interval=0, timeout=SETUP_CHECK_TIMEOUT, max_retries=1)
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


@bp.get("/admin")
@auth.owner_required
def admin():
    """Cache statistics with memory scopes, clear-cache and preload controls, Discogs account."""
    conn = db.get_db()
    return render_template("admin.html", cache=_cache_stats(), counts=collection.counts(conn),
                           discogs_user=collection.get_setting(conn, sync.USERNAME_KEY, ""),
                           has_token=bool(collection.get_setting(conn, sync.TOKEN_KEY)),
                           api_tokens=auth.list_api_tokens(conn))


@bp.post("/admin/clear-cache")
@auth.owner_required
def clear_cache():
    cache = current_app.extensions.get("image_cache")
    if cache is None or not cache.clear_cache():
        flash("The cover cache could not be cleared; see the server log.", "error")
    else:
        flash("Cover cache cleared; covers are converted again as they are viewed.", "ok")
    return redirect(url_for("pages.admin"), 303)


@bp.post("/admin/memory/<scope>/clear")
@auth.owner_required
def clear_memory_scope(scope: str):
    """Drop one page's images from this worker's memory tier (files on disk stay)."""
    cache = current_app.extensions.get("image_cache")
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
