"""Guest links: read-only invitations to the collection, made and revoked by the owner.

A guest link is ``/guest/<token>``. Opening it stores the sha256 of the token
in the visitor's session cookie and sends them to the collection; from then on
they browse as any guest does (public photos only, none of the owner's tools:
:mod:`vinylvault.access.auth` and the photo access rules are unchanged).

On a LAN the site is open to guests anyway, so a link only matters with
``GUESTS_NEED_LINK`` on: then every page but login, set-up, the app shell
(:data:`OPEN_PREFIXES`) and the covers asks for a live link, the owner, or the
kiosk on the machine's own screen (:func:`is_kiosk_screen`). Each
guarded request looks the link's row up again (one indexed read), so a revoked
or expired link locks its guests out at once, in every worker. Only token
hashes are stored; ``last_used_at`` is rewritten at most hourly.

The kiosk's QR code needs a link it can draw again and again: :func:`kiosk_link`,
made on first need, never expiring, revoked like any other (the next code
carries a new one). Its token is derived from the secret key and a stored
nonce, so it too is stored only as a hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from typing import Any

import click
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from werkzeug.exceptions import Forbidden

from cache_engine.files import DiskFullNotice, is_storage_full
from cache_engine.sqlite import write_transaction
from vinylvault import db
from vinylvault.access import auth
from vinylvault.site import kiosk

log = logging.getLogger("vinylvault.access.guest_links")
#: The kiosk's link is made on the first attract screen that needs it: on a full disk it cannot be.
_KIOSK_LINK_NOTICE = DiskFullNotice(
    "the kiosk's QR code shows the bare address (guests need a link of their own)", "the kiosk's guest link is made"
)

bp = Blueprint("guest_links", __name__, cli_group=None)

TOKEN_PREFIX = "vg_"
#: The session key holding the sha256 of the guest link a visitor opened.
SESSION_FIELD = "guest_link"
#: The lifetimes the admin page offers, in seconds (None: until revoked).
EXPIRY_CHOICES: dict[str, float | None] = {"day": 86400.0, "week": 7 * 86400.0, "never": None}
LAST_USED_RESOLUTION_SECONDS = 3600
MAX_LABEL_LENGTH = 100
KIOSK_LABEL = "Kiosk screen"
#: Reachable without a link when GUESTS_NEED_LINK is on: logging in, set-up,
#: the link itself, assets and the phone app shell (with the way to HTTPS). Covers are named by the
#: hash of their source and nginx serves them without asking the app anyway.
OPEN_PREFIXES = (
    "/login",
    "/logout",
    "/setup",
    "/guest/",
    "/static/",
    "/cache/",
    "/theme/",
    "/health",
    "/manifest.webmanifest",
    "/sw.js",
    "/offline",
    "/secure",
)

NEED_LINK_DETAIL = (
    "This record collection is open to guests with a link from its owner. "
    "Ask them for one, or scan the code on the record player's screen."
)


class UnknownExpiry(ValueError):
    """An expiry that is not one of :data:`EXPIRY_CHOICES`."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_link(conn: sqlite3.Connection, expires: str = "week", label: str = "", now: float | None = None) -> str:
    """Make a guest link lasting ``expires`` (a key of :data:`EXPIRY_CHOICES`); its token, never stored."""
    if expires not in EXPIRY_CHOICES:
        raise UnknownExpiry(f"expiry must be one of {', '.join(EXPIRY_CHOICES)}")
    now = time.time() if now is None else now
    lifetime = EXPIRY_CHOICES[expires]
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    conn.execute(
        "INSERT INTO guest_links (label, token_hash, hint, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (
            label.strip()[:MAX_LABEL_LENGTH] or "Guests",
            _hash(token),
            token[:7],
            now,
            None if lifetime is None else now + lifetime,
        ),
    )
    return token


def _kiosk_token(secret: str | bytes, nonce: str) -> str:
    key = secret if isinstance(secret, bytes) else secret.encode("utf-8")
    digest = hmac.new(key, f"vinylvault kiosk guest link\0{nonce}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def _current_kiosk_token(conn: sqlite3.Connection, secret: str | bytes) -> str | None:
    """The kiosk link's token, or ``None`` when there is none or it was made under another secret key."""
    row = conn.execute("SELECT token_hash, kiosk_nonce FROM guest_links WHERE kiosk_nonce IS NOT NULL").fetchone()
    if row is None:
        return None
    token = _kiosk_token(secret, row["kiosk_nonce"])
    return token if hmac.compare_digest(_hash(token), row["token_hash"]) else None


def kiosk_link(conn: sqlite3.Connection, secret: str | bytes, now: float | None = None) -> str:
    """The token of the kiosk screen's guest link, made now if there is none (it never expires).

    One read when it exists. A link left from an earlier secret key cannot
    be drawn any more: it is replaced, which locks out its guests as a
    revocation would.
    """
    token = _current_kiosk_token(conn, secret)
    if token is not None:
        return token
    with write_transaction(conn):
        token = _current_kiosk_token(conn, secret)  # another worker may just have made it
        if token is None:
            conn.execute("DELETE FROM guest_links WHERE kiosk_nonce IS NOT NULL")
            nonce = secrets.token_hex(16)
            token = _kiosk_token(secret, nonce)
            conn.execute(
                "INSERT INTO guest_links (label, token_hash, hint, created_at, kiosk_nonce) VALUES (?, ?, ?, ?, ?)",
                (KIOSK_LABEL, _hash(token), token[:7], time.time() if now is None else now, nonce),
            )
    return token


def list_links(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every link's id, label, hint, created_at, expires_at, last_used_at, ``kiosk`` and ``expired`` flags."""
    now = time.time()
    rows = conn.execute(
        "SELECT id, label, hint, created_at, expires_at, last_used_at, kiosk_nonce IS NOT NULL AS kiosk"
        " FROM guest_links ORDER BY id"
    ).fetchall()
    return [{**dict(row), "expired": row["expires_at"] is not None and row["expires_at"] <= now} for row in rows]


def revoke_link(conn: sqlite3.Connection, link_id: int) -> bool:
    """Delete a link; its guests lose access on their next request. False when there is no such link."""
    return conn.execute("DELETE FROM guest_links WHERE id = ?", (link_id,)).rowcount > 0


def live_link(conn: sqlite3.Connection, token_hash: str, now: float | None = None) -> int | None:
    """The id of the unexpired link whose token hashes to ``token_hash``; records its use (hourly)."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT id, expires_at, last_used_at FROM guest_links WHERE token_hash = ?", (token_hash,)
    ).fetchone()
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    if row["last_used_at"] is None or now - row["last_used_at"] >= LAST_USED_RESOLUTION_SECONDS:
        try:
            conn.execute("UPDATE guest_links SET last_used_at = ? WHERE id = ?", (now, row["id"]))
        except sqlite3.OperationalError as exc:  # a full disk must not turn a guest away
            if not is_storage_full(exc):
                raise
            log.warning("guest link %s: its use could not be recorded: %s", row["id"], exc)
    return row["id"]


def is_kiosk_screen() -> bool:
    """Whether this is the kiosk on the machine's own screen: the kiosk view, from this machine."""
    return kiosk.kiosk_requested() and auth.is_this_machine()


@bp.app_template_global("guest_entry_url")
def entry_url() -> str:
    """What the guests' QR code opens: :func:`kiosk.guest_url`, and with GUESTS_NEED_LINK the kiosk's
    guest link (:func:`kiosk_link`) on it, or a guest who scans it would be refused.

    Only the owner and the kiosk screen are given the link: a guest whose own link
    lasts a day must not find a never-ending one on the attract screen.
    """
    address = kiosk.guest_url()
    if not current_app.config["GUESTS_NEED_LINK"] or not (auth.current_user_is_owner() or is_kiosk_screen()):
        return address
    try:
        token = kiosk_link(db.get_db(), current_app.secret_key)
    except sqlite3.OperationalError as exc:  # the screen must keep working, as every reading page does
        if not is_storage_full(exc):
            raise
        _KIOSK_LINK_NOTICE.failed(exc)
        return address
    _KIOSK_LINK_NOTICE.recovered()
    return address + url_for("guest_links.open_link", token=token)


def has_live_guest_session() -> bool:
    """Whether this visitor's session names a guest link that is still live."""
    token_hash = session.get(SESSION_FIELD)
    return isinstance(token_hash, str) and live_link(db.get_db(), token_hash) is not None


# --- The gate -------------------------------------------------------------------


@bp.before_app_request
def _require_link() -> None:
    """With GUESTS_NEED_LINK, refuse (403) a visitor who is neither the owner, nor the machine's own
    screen, nor holding a live link."""
    if not current_app.config["GUESTS_NEED_LINK"] or request.path.startswith(OPEN_PREFIXES):
        return
    if auth.current_user_is_owner() or is_kiosk_screen() or has_live_guest_session():
        return
    if SESSION_FIELD in session:
        session.pop(SESSION_FIELD)  # revoked or expired: forget it
    raise Forbidden(NEED_LINK_DETAIL)


# --- Views ----------------------------------------------------------------------


@bp.get("/guest/<token>")
@auth.rate_limit(scope="guest", setting="LOGIN_ATTEMPTS_PER_MINUTE")
def open_link(token: str):
    """Start a guest session from a link and go to the collection; 404 for a dead link."""
    token_hash = _hash(token)
    if live_link(db.get_db(), token_hash) is None:
        current_app.logger.info("guest link refused for %s: unknown, revoked or expired", auth.client_ip())
        abort(404, "This guest link has expired or was withdrawn. Ask the owner for a new one.")
    if not auth.current_user_is_owner():
        session.permanent = True
        session[SESSION_FIELD] = token_hash
    return redirect("/", 303)


def _admin_anchor() -> str:
    return url_for("pages.admin") + "#guest-links-h"


@bp.post("/admin/guest-links")
@auth.owner_required
def create_link_form():
    """Make a guest link from the admin page and show it to the owner once."""
    try:
        token = create_link(db.get_db(), request.form.get("expires", "week"), request.form.get("label", ""))
    except UnknownExpiry as exc:
        abort(400, str(exc))
    # At the address guests open (the QR code's): the owner may be at the Pi's own screen, on localhost.
    flash(f"New guest link (shown this once): {kiosk.guest_url()}{url_for('guest_links.open_link', token=token)}", "ok")
    return redirect(_admin_anchor(), 303)


@bp.post("/admin/guest-links/<int:link_id>/revoke")
@auth.owner_required
def revoke_link_form(link_id: int):
    """Revoke one guest link; whoever opened it loses access at once."""
    if not revoke_link(db.get_db(), link_id):
        abort(404, "There is no guest link with this number.")
    flash("Guest link revoked.", "ok")
    return redirect(_admin_anchor(), 303)


# --- CLI ------------------------------------------------------------------------


@bp.cli.command("create-guest-link")
@click.option("--expires", type=click.Choice(list(EXPIRY_CHOICES)), default="week", show_default=True)
@click.option("--label", default="Guests", show_default=True, help="A label to recognise the link by.")
@click.option(
    "--base-url", default="http://vinylvault.local", show_default=True, help="The address guests open the site at."
)
def create_link_command(expires: str, label: str, base_url: str) -> None:
    """Make a read-only guest link and print it (shown this once only)."""
    click.echo(f"{base_url.rstrip('/')}/guest/{create_link(db.get_db(), expires, label)}")


@bp.cli.command("list-guest-links")
def list_links_command() -> None:
    """List the guest links: number, label, first characters, created, expires, last used."""
    links = list_links(db.get_db())
    if not links:
        click.echo("No guest links.")
    for link in links:
        click.echo(
            f"{link['id']}\t{link['label']}\t{link['hint']}...\tcreated {auth.format_time(link['created_at'])}"
            f"\texpires {auth.format_time(link['expires_at'])}\tlast used {auth.format_time(link['last_used_at'])}"
        )


@bp.cli.command("revoke-guest-link")
@click.argument("link_id", type=int)
def revoke_link_command(link_id: int) -> None:
    """Revoke the guest link numbered LINK_ID (see list-guest-links)."""
    if not revoke_link(db.get_db(), link_id):
        raise click.ClickException(f"there is no guest link number {link_id} (see list-guest-links)")
    click.echo(f"Guest link {link_id} revoked.")
