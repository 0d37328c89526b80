"""The Pi's touchscreen as a kiosk: the kiosk view, attract mode, and the guests' QR code.

A browser is in kiosk view when ``KIOSK_MODE`` is on, or once it has opened
``/?kiosk=1`` (kept in a cookie; ``/?kiosk=0`` ends it). The view itself is
CSS and ``static/kiosk.js``: big touch targets, no selection or zoom, and
after ``KIOSK_IDLE_MINUTES`` without a touch the attract screen fetched from
``/kiosk/attract`` is laid over the page (a touch takes it away again, so the
page's address and scroll position never change).

The attract screen shows the record playing now (:func:`current_spin`), else
a slowly moving wall of cached covers, and a QR code of the site's address
(:func:`guest_url`) so a guest opens the collection on their phone in one scan.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Response, current_app, render_template, request, url_for
from markupsafe import Markup

import config
from vinylvault import db
from vinylvault.access import auth
from vinylvault.covers import extension
from vinylvault.library import collection
from vinylvault.listening import spins
from vinylvault.web import lan

bp = Blueprint("kiosk", __name__)

KIOSK_COOKIE = "vv_kiosk"
#: A play this recent is "on the turntable now": an LP played through, both sides, takes about 40 minutes.
SPIN_WINDOW = timedelta(minutes=45)
#: Covers on the attract wall: enough for two screens of the widest wall, few enough to load quickly on a Pi.
WALL_COVERS = 48


# --- Kiosk view -----------------------------------------------------------------


def kiosk_requested() -> bool:
    """Whether this request is shown as the kiosk: ``?kiosk=1``, else the cookie, else ``KIOSK_MODE``."""
    asked = request.args.get("kiosk")
    if asked in ("0", "1"):
        return asked == "1"
    cookie = request.cookies.get(KIOSK_COOKIE)
    if cookie in ("0", "1"):
        return cookie == "1"
    return bool(current_app.config["KIOSK_MODE"])


@bp.after_app_request
def _remember_kiosk(response: Response) -> Response:
    """Keep ``?kiosk=1`` / ``?kiosk=0`` for the browser's later pages (a cookie, no server state)."""
    asked = request.args.get("kiosk")
    if asked in ("0", "1") and response.status_code < 400:
        response.set_cookie(KIOSK_COOKIE, asked, max_age=10 * 365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.app_context_processor
def _kiosk_context() -> dict[str, Any]:
    """``kiosk``: ``None`` outside the kiosk view, else what base.html hands to kiosk.js."""
    if not kiosk_requested():
        return {"kiosk": None}
    settings = current_app.config["SETTINGS"]
    return {
        "kiosk": {
            "idle_ms": int(settings.KIOSK_IDLE_MINUTES * 60_000),
            "dim_from": settings.KIOSK_DIM_FROM_HOUR,
            "dim_until": settings.KIOSK_DIM_UNTIL_HOUR,
        }
    }


# --- What is playing, the wall of covers ------------------------------------------


def current_spin(conn: sqlite3.Connection, now: datetime | None = None) -> collection.Album | None:
    """The album on the turntable: the side spinning now (:func:`spins.current`), else the last
    play counted on the now-playing page within :data:`SPIN_WINDOW`, else ``None``.

    The one place the attract screen asks.
    """
    spin = spins.current(conn)
    if spin is not None:
        return collection.get_album(conn, spin.album_id)
    row = conn.execute("SELECT album_id, played_at FROM plays ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    cutoff = (now or datetime.now(timezone.utc)) - SPIN_WINDOW
    try:
        played_at = datetime.fromisoformat(row["played_at"])
    except ValueError:  # not written by record_play: no claim that it is playing
        return None
    if played_at.tzinfo is None:
        played_at = played_at.replace(tzinfo=timezone.utc)
    return collection.get_album(conn, row["album_id"]) if played_at >= cutoff else None


def wall_covers(conn: sqlite3.Connection, limit: int = WALL_COVERS) -> list[tuple[collection.Album, str]]:
    """Up to ``limit`` albums whose thumbnail is in the cover cache, each with its cache URL, in random order.

    Only cached covers: the wall never shows a placeholder and never makes
    the Pi download or convert anything while nobody is looking.
    """
    cache = extension.get_cache()
    # Twice the need: a few covers may not be cached yet. No touch(): random covers must not look recently used.
    rows = conn.execute(
        "SELECT id FROM albums WHERE cover_url != '' OR thumb_url != '' ORDER BY random() LIMIT ?", (limit * 2,)
    ).fetchall()
    wall: list[tuple[collection.Album, str]] = []
    for album in collection.get_albums(conn, [row["id"] for row in rows]):
        entry = cache.lookup(album.image_url, "thumbnails")
        if entry is not None:
            wall.append((album, url_for("cache_routes.cached_image", size_type="thumbnails", key=entry.key)))
        if len(wall) == limit:
            break
    return wall


# --- The guests' address and its QR code --------------------------------------------


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine only (``localhost``, ``127.0.0.1:8080``, ``[::1]``)."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # a malformed header: not an address to hand a guest either
        return True
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secure_url() -> str | None:
    """The site's HTTPS address (nginx on ``HTTPS_PORT``) for a phone, or ``None`` when there is no HTTPS.

    The host name the page was opened at, which the LAN certificate names;
    on the Pi's own screen (``localhost``) its LAN address instead.
    """
    port = current_app.config["SETTINGS"].HTTPS_PORT
    if not port:
        return None
    if is_loopback_host(request.host):
        return lan.guest_url(lan.ANY_HOST[0], port, "https")
    return lan.origin("https", urlsplit(f"//{request.host}").hostname or "", port)


def guest_url() -> str:
    """The address a guest's phone should open: ``GUEST_URL``, else the HTTPS address when there is one,
    else how this page was reached, else the LAN.

    The kiosk itself opens ``localhost``, which means nothing to a phone:
    then the machine's network address and ``BIND``'s port stand in.
    """
    settings = current_app.config["SETTINGS"]
    if settings.GUEST_URL:
        return settings.GUEST_URL.rstrip("/")
    secure = secure_url()
    if secure:
        return secure
    if not is_loopback_host(request.host):
        return f"{'https' if auth.is_secure_request() else 'http'}://{request.host}"
    bind = config.parse_bind(settings.BIND)
    if bind.port and not is_loopback_host(lan.host_port(bind.host, bind.port)):
        return lan.guest_url(bind.host, bind.port)
    # A loopback address or a Unix socket: nginx is in front (deploy/vinylvault.conf), on port 80.
    return lan.guest_url(lan.ANY_HOST[0], 80)


def qr_svg(url: str, title: str) -> Markup:
    """``url`` as an inline SVG QR code (black on white, quiet zone included, sized by CSS).

    segno writes presentation attributes only (``fill``, ``stroke``), never
    ``style=``, so the page keeps to the Content-Security-Policy.
    """
    code = segno.make(url, error="m")
    return Markup(
        code.svg_inline(
            scale=1, omitsize=True, border=4, svgclass="qr", lineclass=None, dark="#000", light="#fff", title=title
        )
    )


@bp.app_template_global("guest_qr")
def guest_qr(url: str) -> Markup:
    """The QR code of a guest's address, for templates (attract screen, admin page)."""
    return qr_svg(url, f"QR code: {url}")


# --- The attract screen --------------------------------------------------------------


@bp.get("/kiosk/attract")
def attract():
    """What the kiosk shows while nobody touches it; ``?fragment=1`` is the overlay kiosk.js lays over a page."""
    conn = db.get_db()
    spin = current_spin(conn)
    context = {"spin": spin, "wall": [] if spin else wall_covers(conn)}
    template = "_attract.html" if request.args.get("fragment") == "1" else "attract.html"
    return render_template(template, **context)
