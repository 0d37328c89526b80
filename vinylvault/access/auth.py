"""The owner's account: password, sessions, CSRF, API tokens, rate limits.

VinylVault has one user, the owner. A browser authenticates with a signed
session cookie (set by :func:`login_owner`) naming a server-side session: the
cookie is accepted only while its row exists in ``owner_sessions``, so logging
out, "log out everywhere" and a password change take effect at once in every
worker (each owner request reads its row; nothing is cached per process, so
there is nothing to go stale, and nothing is written per request). A script
authenticates with ``Authorization: Bearer vv_...`` (a token from
:func:`create_api_token`, stored as its sha256 only). Views that change things
use :func:`owner_required`; every mutating request authenticated by the
session cookie must carry the session's CSRF token (form field ``csrf_token``
or header ``X-CSRF-Token``), which a before-request hook enforces app-wide.
Only requests with a *valid* bearer token are exempt (a browser never
attaches that header on its own, so there is nothing to forge); any other
``Authorization`` header is no credential at all.

Rate limits (:func:`rate_limit`) are counted in the collection database, so a
limit holds across every gunicorn worker instead of being multiplied by their
number; the counter is a sliding-window estimate over two one-minute windows.
"""

from __future__ import annotations

import datetime
import enum
import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import sqlite3
import time
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import Forbidden, TooManyRequests, Unauthorized
from werkzeug.security import check_password_hash, generate_password_hash

from cache_engine.files import is_storage_full
from cache_engine.sqlite import write_transaction
from vinylvault import db
from vinylvault.web import errors

log = logging.getLogger("vinylvault.access.auth")

bp = Blueprint("auth", __name__, cli_group=None)

F = TypeVar("F", bound=Callable[..., Any])

MIN_PASSWORD_LENGTH = 8
#: Hashing cost grows with length; nobody types more than this.
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "vv_"
#: last_used_at is rewritten at most this often, so token use is not a write per request.
TOKEN_LAST_USED_RESOLUTION_SECONDS = 3600
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RATE_WINDOW_SECONDS = 60
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: The session cookie's key naming the server-side session.
SESSION_ID_FIELD = "sid"

# Checked against when no owner exists, so a login attempt costs the same time
# whether or not an account is configured.
_DUMMY_HASH = generate_password_hash("vinylvault-no-owner-yet")


class WeakPassword(ValueError):
    """The password is shorter than :data:`MIN_PASSWORD_LENGTH` (or absurdly long)."""


class RateLimited(TooManyRequests):
    """A client went over its per-minute budget; carries the seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests; try again in a minute.")
        self.retry_after_seconds = retry_after


class Auth(enum.Enum):
    """How the current request authenticated."""

    NONE = "none"  # no credentials at all
    INVALID = "invalid"  # a bearer token was sent but is unknown
    SESSION = "session"  # the owner's session cookie
    TOKEN = "token"  # a valid API token


# --- Owner account --------------------------------------------------------


def is_configured(conn: sqlite3.Connection) -> bool:
    """Whether the owner's password has been set."""
    return conn.execute("SELECT 1 FROM owner WHERE id = 1").fetchone() is not None


def set_password(conn: sqlite3.Connection, password: str) -> None:
    """Create the owner or change their password; either logs out every session."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must not exceed {MAX_PASSWORD_LENGTH} characters")
    now = time.time()
    password_hash = generate_password_hash(password)
    with write_transaction(conn):
        conn.execute(
            "INSERT INTO owner (id, password_hash, created_at, updated_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,"
            " updated_at = excluded.updated_at",
            (password_hash, now, now),
        )
        conn.execute("DELETE FROM owner_sessions")


def check_password(conn: sqlite3.Connection, password: str) -> bool:
    """Whether ``password`` is the owner's; False when no owner exists yet."""
    row = conn.execute("SELECT password_hash FROM owner WHERE id = 1").fetchone()
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    # check_password_hash compares digests with hmac.compare_digest.
    return check_password_hash(row["password_hash"], password)


# --- Server-side sessions ---------------------------------------------------


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def _session_lifetime() -> float:
    return current_app.permanent_session_lifetime.total_seconds()


def start_session(conn: sqlite3.Connection, lifetime: float) -> str:
    """Record a new owner session; return its id (for the cookie only).

    Sessions older than ``lifetime`` (their cookies have expired) are removed
    on the way, so the table holds at most the sessions of the last month.
    """
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    with write_transaction(conn):
        conn.execute("DELETE FROM owner_sessions WHERE created_at < ?", (now - lifetime,))
        conn.execute("INSERT INTO owner_sessions (id_hash, created_at) VALUES (?, ?)", (_session_hash(session_id), now))
    return session_id


def session_is_live(conn: sqlite3.Connection, session_id: str, lifetime: float) -> bool:
    """Whether ``session_id`` names a session not logged out and younger than ``lifetime``."""
    row = conn.execute(
        "SELECT created_at FROM owner_sessions WHERE id_hash = ?", (_session_hash(session_id),)
    ).fetchone()
    return row is not None and row["created_at"] >= time.time() - lifetime


def end_session(conn: sqlite3.Connection, session_id: str) -> bool:
    """Log one session out; False when it was not live."""
    return conn.execute("DELETE FROM owner_sessions WHERE id_hash = ?", (_session_hash(session_id),)).rowcount > 0


def end_all_sessions(conn: sqlite3.Connection) -> int:
    """Log every session out ("log out everywhere"); return how many there were."""
    return conn.execute("DELETE FROM owner_sessions").rowcount


def login_owner() -> None:
    """Start a fresh owner session (after a password check or at set-up).

    The old session is cleared first so nothing chosen before login (a
    planted CSRF token, say) survives into the authenticated session.
    """
    conn = db.get_db()
    if not is_configured(conn):
        raise RuntimeError("login_owner() called before the owner's password was set")
    session.clear()
    session.permanent = True
    session[SESSION_ID_FIELD] = start_session(conn, _session_lifetime())
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g.pop("vv_auth", None)


def logout_owner() -> None:
    """End this session for good (its cookie, even replayed, no longer opens anything).

    A new anonymous session, with a new CSRF token, starts on demand.
    """
    session_id = session.get(SESSION_ID_FIELD)
    if isinstance(session_id, str):
        end_session(db.get_db(), session_id)
    session.clear()
    g.pop("vv_auth", None)


# --- API tokens -----------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_token(conn: sqlite3.Connection, name: str = "api") -> str:
    """Create a token named ``name``; return its plaintext, which is never stored."""
    name = (name or "api").strip()[:100] or "api"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (name, token_hash, hint, created_at) VALUES (?, ?, ?, ?)",
        (name, _token_hash(token), token[:7], time.time()),
    )
    return token


def list_api_tokens(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every token's id, name, hint (first characters), created_at and last_used_at."""
    rows = conn.execute("SELECT id, name, hint, created_at, last_used_at FROM api_tokens ORDER BY id").fetchall()
    return [dict(row) for row in rows]


def revoke_api_token(conn: sqlite3.Connection, token_id: int) -> bool:
    """Delete a token; False when no token has that id."""
    return conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount > 0


def format_time(timestamp: float | None) -> str:
    """A stored timestamp as local ``YYYY-MM-DD HH:MM``; "never" for None (a Jinja filter too)."""
    if timestamp is None:
        return "never"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def verify_api_token(conn: sqlite3.Connection, token: str) -> bool:
    """Whether ``token`` is a live API token; records its use (at most hourly)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return False
    row = conn.execute("SELECT id, last_used_at FROM api_tokens WHERE token_hash = ?", (_token_hash(token),)).fetchone()
    if row is None:
        return False
    now = time.time()
    if row["last_used_at"] is None or now - row["last_used_at"] >= TOKEN_LAST_USED_RESOLUTION_SECONDS:
        try:
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, row["id"]))
        except sqlite3.OperationalError as exc:  # a full disk must not turn a valid token away
            if not is_storage_full(exc):
                raise
            log.warning("API token %s: its last use could not be recorded: %s", row["id"], exc)
    return True


# --- Who is asking --------------------------------------------------------


def _bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, '' when malformed, None when absent."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authentication() -> Auth:
    """How this request authenticated (computed once per request).

    An ``Authorization`` header, when present, is the only credential looked
    at: a request cannot fall back on the cookie after a bad token.
    """
    if "vv_auth" not in g:
        g.vv_auth = _authenticate()
    return g.vv_auth


def _authenticate() -> Auth:
    token = _bearer_token()
    if token is not None:
        return Auth.TOKEN if token and verify_api_token(db.get_db(), token) else Auth.INVALID
    session_id = session.get(SESSION_ID_FIELD)
    if isinstance(session_id, str) and session_is_live(db.get_db(), session_id, _session_lifetime()):
        return Auth.SESSION
    return Auth.NONE


def current_user_is_owner() -> bool:
    """Whether the request comes from the owner (session cookie or API token)."""
    return authentication() in (Auth.SESSION, Auth.TOKEN)


def page_is_for_owner() -> bool:
    """:func:`current_user_is_owner` for what a page shows, False when that cannot be known.

    An error page can render before the database is usable: it is then a guest
    page, since the header and the response's headers must never turn it into a 500.
    """
    try:
        return current_user_is_owner()
    except Exception:  # noqa: BLE001 - any failure here means "not known to be the owner"
        return False


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def owner_required(view: F) -> F:
    """Let only the owner through.

    Without credentials: 401 under ``/api/``, a redirect to the login page
    elsewhere. With a bad token: 403.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        auth = authentication()
        if auth is Auth.INVALID:
            raise Forbidden("The API token is not valid.")
        if auth is Auth.NONE:
            if _is_api_request():
                raise Unauthorized("Log in or send 'Authorization: Bearer <api token>'.")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- CSRF -------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token, created on first use (a Jinja global too)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def session_csrf_token() -> str | None:
    """The CSRF token for scripts on a page the owner's session is viewing, else None.

    Bearer clients need none, and paths under :data:`SESSIONLESS_PREFIXES`
    (an error page for a /cache/ URL, say) have no session to keep it in.
    """
    if authentication() is not Auth.SESSION:
        return None
    return csrf_token()


def check_csrf() -> None:
    """Raise 403 unless the request carries the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        raise Forbidden("The CSRF token is missing or wrong; reload the page and try again.")


def csrf_protect(view: F) -> F:
    """Require the CSRF token on a mutating request even without a session (login, set-up forms).

    Only a valid API token exempts a request: an ``Authorization`` header
    anyone can invent (``Bearer nothing``) is no reason to skip the check.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method in MUTATING_METHODS and authentication() is not Auth.TOKEN:
            check_csrf()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.before_app_request
def _enforce_csrf() -> None:
    # Only session-authenticated requests can be forged cross-site (a request
    # with an Authorization header never counts as the session); anonymous
    # ones are refused by owner_required (401) or protected by csrf_protect.
    if request.method in MUTATING_METHODS and authentication() is Auth.SESSION:
        check_csrf()


# --- Client address and rate limits ------------------------------------------


#: ``app.extensions`` key of ``TRUSTED_PROXIES`` parsed into networks (once, by :func:`init_app`).
_TRUSTED_PROXIES = "vv_trusted_proxies"


def _trusted_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return current_app.extensions[_TRUSTED_PROXIES]


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks())


def client_ip() -> str:
    """The client's address.

    ``X-Forwarded-For`` is believed only when the peer is a trusted proxy;
    then the client is the right-most hop that is not itself trusted (hops to
    its left were written by the client and can be anything).
    """
    address = request.remote_addr or ""
    if not _is_trusted(address):
        return address
    hops = [
        hop.strip() for value in request.headers.getlist("X-Forwarded-For") for hop in value.split(",") if hop.strip()
    ]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a proxy would not write garbage: stop at the last hop we trust
        address = hop
        if not _is_trusted(hop):
            break
    return address


def is_this_machine() -> bool:
    """Whether the visitor is a browser on this machine itself (the kiosk screen): a loopback client,
    connected directly, or through a trusted proxy that names a loopback client.

    A request through an untrusted proxy comes from 127.0.0.1 too, but
    carries ``X-Forwarded-For``: it never counts (nginx in front without
    ``TRUSTED_PROXIES`` must not make every visitor "this machine").
    """
    if not _is_trusted(request.remote_addr or "") and "X-Forwarded-For" in request.headers:
        return False
    try:
        return ipaddress.ip_address(client_ip()).is_loopback
    except ValueError:
        return False


def is_secure_request() -> bool:
    """Whether the visitor reached the site over HTTPS: directly, or through a trusted proxy that says so."""
    if request.is_secure:
        return True
    return _is_trusted(request.remote_addr or "") and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def hit_rate_limit(conn: sqlite3.Connection, bucket: str, per_minute: int, now: float | None = None) -> int:
    """Count one request in ``bucket``; return 0 if allowed, else seconds to wait.

    The estimate weights the previous minute's count by the part of it still
    inside the sliding window, so a burst at a minute boundary cannot double
    the limit. Rows older than two minutes are removed as we go.
    """
    now = time.time() if now is None else now
    window = int(now // RATE_WINDOW_SECONDS) * RATE_WINDOW_SECONDS
    try:
        with write_transaction(conn):
            current = conn.execute(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)"
                " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + 1 RETURNING hits",
                (bucket, window),
            ).fetchone()[0]
            row = conn.execute(
                "SELECT hits FROM rate_limits WHERE bucket = ? AND window_start = ?",
                (bucket, window - RATE_WINDOW_SECONDS),
            ).fetchone()
            conn.execute("DELETE FROM rate_limits WHERE window_start < ?", (window - RATE_WINDOW_SECONDS,))
    except (sqlite3.Error, OSError) as exc:
        if is_storage_full(exc):
            # Failing open: a full disk must not lock the owner out of the clear that frees it.
            log.warning("request not counted against the %s rate limit: %s", bucket.partition(":")[0], exc)
            return 0
        raise
    previous = row[0] if row else 0
    elapsed = (now - window) / RATE_WINDOW_SECONDS
    if current + previous * (1.0 - elapsed) <= per_minute:
        return 0
    return max(1, math.ceil(window + RATE_WINDOW_SECONDS - now))


def rate_limit(
    per_minute: int | None = None, *, scope: str = "api", setting: str = "RATE_LIMIT_PER_MINUTE"
) -> Callable[[F], F]:
    """Limit a view to ``per_minute`` requests per client (default: the ``setting``).

    Views sharing a ``scope`` share one budget per client. Over the limit the
    answer is 429 with ``Retry-After``.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limit = per_minute or current_app.config[setting]
            wait = hit_rate_limit(db.get_db(), f"{scope}:{client_ip()}", limit)
            if wait:
                raise RateLimited(wait)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


@bp.app_errorhandler(RateLimited)
def _rate_limited(exc: RateLimited):
    response = make_response(errors.handle_http_exception(exc))
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


# --- Sessions ---------------------------------------------------------------

#: Paths that never use the session: cover images and static files are most
#: requests a page causes, and unsigning the cookie for each is wasted work.
SESSIONLESS_PREFIXES = ("/cache/", "/static/")


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose ``Secure`` flag follows the request's scheme.

    The Pi usually serves plain HTTP on the LAN, where a Secure cookie would
    never come back; behind a TLS proxy the cookie must be Secure. Requests
    under :data:`SESSIONLESS_PREFIXES` get a null session (writing to it raises).
    """

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return is_secure_request()


def init_app(app: Flask) -> None:
    """Sessions, their cookie flags, the trusted proxies, and the templates' auth helpers."""
    app.session_interface = SessionInterface()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["session_csrf_token"] = session_csrf_token
    app.jinja_env.filters["format_time"] = format_time
    app.extensions[_TRUSTED_PROXIES] = [
        ipaddress.ip_network(entry, strict=False) for entry in app.config["TRUSTED_PROXIES"]
    ]


# --- Views ------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything pointing elsewhere becomes '/'."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _render_login(error: str | None = None, status: int = 200):
    # The site layout links to the pages blueprint; without it, stand alone.
    has_base = "pages.index" in current_app.view_functions
    body = render_template(
        "login.html",
        error=error,
        has_base=has_base,
        configured=is_configured(db.get_db()),
        next=safe_next(request.values.get("next")),
    )
    return body, status


@bp.get("/login")
def login():
    if current_user_is_owner():
        return redirect(safe_next(request.args.get("next")))
    return _render_login()


@bp.post("/login")
@csrf_protect
@rate_limit(scope="login", setting="LOGIN_ATTEMPTS_PER_MINUTE")
def login_post():
    conn = db.get_db()
    if not check_password(conn, request.form.get("password", "")):
        current_app.logger.info("login refused for %s: wrong password", client_ip())
        return _render_login("Wrong password.", 401)
    login_owner()
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    logout_owner()
    return redirect("/")


@bp.post("/logout/everywhere")
@owner_required
def logout_everywhere():
    """End every owner session, this one included: a lost phone's cookie stops working now."""
    ended = end_all_sessions(db.get_db())
    current_app.logger.info("owner logged out everywhere (%d sessions) from %s", ended, client_ip())
    session.clear()
    g.pop("vv_auth", None)
    flash("You are logged out on every device.", "ok")
    return redirect(url_for("auth.login"), 303)


@bp.post("/admin/api-tokens/<int:token_id>/revoke")
@owner_required
def revoke_api_token_form(token_id: int):
    """Revoke one API token from the admin page; the scripts using it get 403 from now on."""
    if not revoke_api_token(db.get_db(), token_id):
        abort(404, "There is no API token with this number.")
    flash("API token revoked.", "ok")
    return redirect(url_for("pages.admin") + "#api-tokens-h", 303)


# --- CLI --------------------------------------------------------------------


@bp.cli.command("set-password")
def set_password_command() -> None:
    """Set the owner's password (asked twice, not echoed)."""
    password = click.prompt("New owner password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(db.get_db(), password)
    except WeakPassword as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Password set; existing sessions are logged out.")


@bp.cli.command("create-api-token")
@click.option("--name", default="api", show_default=True, help="A label to recognise the token by.")
def create_api_token_command(name: str) -> None:
    """Create an API token and print it (shown this once only)."""
    click.echo(create_api_token(db.get_db(), name))


@bp.cli.command("list-api-tokens")
def list_api_tokens_command() -> None:
    """List the API tokens: number, name, first characters, created, last used."""
    tokens = list_api_tokens(db.get_db())
    if not tokens:
        click.echo("No API tokens.")
    for token in tokens:
        click.echo(
            f"{token['id']}\t{token['name']}\t{token['hint']}...\tcreated {format_time(token['created_at'])}"
            f"\tlast used {format_time(token['last_used_at'])}"
        )


@bp.cli.command("revoke-api-token")
@click.argument("token_id", type=int)
def revoke_api_token_command(token_id: int) -> None:
    """Revoke the API token numbered TOKEN_ID (see list-api-tokens)."""
    if not revoke_api_token(db.get_db(), token_id):
        raise click.ClickException(f"there is no API token number {token_id} (see list-api-tokens)")
    click.echo(f"API token {token_id} revoked.")
