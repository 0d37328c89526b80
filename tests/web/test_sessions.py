"""Server-side sessions: logging out ends a session at once, in every worker; API tokens managed by the owner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.support.owner import PASSWORD, bearer, create_token, csrf_in, log_in, session_csrf, set_owner_password
from tests.support.servers import GunicornServer, flask_cli
from vinylvault import db
from vinylvault.access import auth

#: Requests made with one cookie: with two workers taking turns at the socket, both see it.
REPLAYS = 20


def _browser_login(base_url: str) -> requests.Session:
    """Log in through the real form; the session keeps the cookie, as a browser would."""
    browser = requests.Session()
    html = browser.get(f"{base_url}/login", timeout=30).text
    response = browser.post(
        f"{base_url}/login", data={"password": PASSWORD, "csrf_token": csrf_in(html)}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 302
    return browser


def _admin_statuses(base_url: str, cookie: str) -> set[int]:
    """Statuses of /admin opened with a copied session cookie, in fresh connections."""
    return {
        requests.get(f"{base_url}/admin", cookies={"session": cookie}, allow_redirects=False, timeout=30).status_code
        for _ in range(REPLAYS)
    }


def _page_csrf(browser: requests.Session, base_url: str) -> str:
    html = browser.get(f"{base_url}/admin", timeout=30).text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def server(make_app, tmp_path: Path):
    """gunicorn with two workers on a DATA_DIR whose owner password is set."""
    set_owner_password(make_app())
    with GunicornServer(
        tmp_path / "data",
        log_path=tmp_path / "gunicorn.log",
        workers=2,
        env={"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"},
    ) as running:
        yield running


def test_a_logged_out_cookie_opens_nothing_in_any_worker(server):
    base = server.base_url
    browser = _browser_login(base)
    cookie = browser.cookies["session"]
    assert _admin_statuses(base, cookie) == {200}
    other = _browser_login(base)  # another device stays logged in

    response = browser.post(
        f"{base}/logout", data={"csrf_token": _page_csrf(browser, base)}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 302
    assert _admin_statuses(base, cookie) == {302}  # the old cookie, replayed
    assert _admin_statuses(base, other.cookies["session"]) == {200}


def test_log_out_everywhere_ends_every_session(server):
    base = server.base_url
    phone, laptop = _browser_login(base), _browser_login(base)
    cookies = [phone.cookies["session"], laptop.cookies["session"]]
    response = laptop.post(
        f"{base}/logout/everywhere", data={"csrf_token": _page_csrf(laptop, base)}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert [_admin_statuses(base, cookie) for cookie in cookies] == [{302}, {302}]
    assert "logged out on every device" in laptop.get(f"{base}/login", timeout=30).text


def test_log_out_everywhere_needs_the_owner_and_csrf(app, client):
    set_owner_password(app)
    assert client.post("/logout/everywhere").status_code == 302  # to the login page
    log_in(client)
    assert client.post("/logout/everywhere").status_code == 403
    assert client.get("/admin").status_code == 200


def test_a_password_change_logs_out_every_session(app, client):
    set_owner_password(app)
    log_in(client)
    with app.app_context():
        assert db.get_db().execute("SELECT count(*) FROM owner_sessions").fetchone()[0] == 1
    set_owner_password(app, "a brand new password")
    assert client.get("/admin").status_code == 302
    with app.app_context():
        assert db.get_db().execute("SELECT count(*) FROM owner_sessions").fetchone()[0] == 0


def test_an_expired_session_is_refused_and_swept(app, client):
    set_owner_password(app)
    log_in(client)
    with app.app_context():
        db.get_db().execute(
            "UPDATE owner_sessions SET created_at = created_at - ?",
            (app.permanent_session_lifetime.total_seconds() + 1,),
        )
    assert client.get("/admin").status_code == 302
    log_in(client)
    with app.app_context():
        assert db.get_db().execute("SELECT count(*) FROM owner_sessions").fetchone()[0] == 1


def test_the_cookie_holds_no_usable_secret_in_the_database(app, client):
    set_owner_password(app)
    log_in(client)
    with client.session_transaction() as sess:
        session_id = sess[auth.SESSION_ID_FIELD]
    with app.app_context():
        (stored,) = db.get_db().execute("SELECT id_hash FROM owner_sessions").fetchone()
    assert session_id not in stored and len(stored) == 64


# --- API tokens on the admin page and the command line ---------------------------


def test_admin_page_lists_and_revokes_tokens(app, client):
    set_owner_password(app)
    token = create_token(app, "backup <script>")
    log_in(client)
    html = client.get("/admin").get_data(as_text=True)
    assert "backup &lt;script&gt;" in html and token[:7] in html and token not in html
    assert "never" in html  # not used yet
    with app.app_context():
        (listed,) = auth.list_api_tokens(db.get_db())
    revoke = f"/admin/api-tokens/{listed['id']}/revoke"
    assert client.post(revoke).status_code == 403  # no CSRF token
    assert client.post("/api/cache/clear", headers=bearer(token)).status_code == 200
    response = client.post(revoke, data={"csrf_token": session_csrf(client)})
    assert response.status_code == 303
    assert client.post("/api/cache/clear", headers=bearer(token)).status_code == 403
    assert client.post(revoke, data={"csrf_token": session_csrf(client)}).status_code == 404
    assert "No API tokens" in client.get("/admin").get_data(as_text=True)


def test_a_guest_cannot_revoke_tokens(app, client):
    set_owner_password(app)
    create_token(app, "cron")
    assert client.post("/admin/api-tokens/1/revoke").status_code == 302
    with app.app_context():
        assert len(auth.list_api_tokens(db.get_db())) == 1


def test_cli_lists_and_revokes_tokens(tmp_path, make_app):
    data = tmp_path / "data"
    app = make_app()
    assert flask_cli(data, "list-api-tokens").stdout.strip() == "No API tokens."
    first, second = create_token(app, "cron"), create_token(app, "phone")
    listing = flask_cli(data, "list-api-tokens")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["1", "cron", f"{first[:7]}..."],
        ["2", "phone", f"{second[:7]}..."],
    ]
    assert first not in listing.stdout and "last used never" in lines[0]
    done = flask_cli(data, "revoke-api-token", "1")
    assert done.returncode == 0 and "revoked" in done.stdout
    missing = flask_cli(data, "revoke-api-token", "1")
    assert missing.returncode == 1 and "no API token number 1" in missing.stderr
    with app.app_context():
        assert [t["name"] for t in auth.list_api_tokens(db.get_db())] == ["phone"]


def test_an_upgraded_database_keeps_the_password(tmp_path):
    """Migration 5 replaces the old session epoch: the owner's password survives it."""
    from werkzeug.security import generate_password_hash

    conn = db.connect(tmp_path / "old.db")
    for number, path in db.migrations()[:4]:
        conn.executescript(f"BEGIN;\n{path.read_text()}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute(
        "INSERT INTO owner (id, password_hash, session_epoch, created_at, updated_at) VALUES (1, ?, 'old-epoch', 0, 0)",
        (generate_password_hash(PASSWORD),),
    )
    assert db.migrate(conn) == db.migrations()[-1][0]  # numbers may have gaps
    assert auth.check_password(conn, PASSWORD)
    assert "session_epoch" not in {row["name"] for row in conn.execute("PRAGMA table_info(owner)")}
    conn.close()
