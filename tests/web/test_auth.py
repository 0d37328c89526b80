"""Owner login, sessions, CSRF, API tokens, 401 vs 403, rate limits, trusted proxies."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from flask import Flask

from tests.support.owner import PASSWORD, bearer, create_token, form_csrf, log_in, session_csrf, set_owner_password
from tests.support.servers import flask_cli
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord


def _add_probe_routes(app: Flask) -> None:
    """Owner-only routes, as api_cache and pages declare theirs."""

    @auth.owner_required
    @auth.rate_limit(3, scope="probe")
    def api_change():
        return {"changed": True}

    @auth.owner_required
    def page():
        return "owner page"

    app.add_url_rule("/api/probe", "probe_api", api_change, methods=["POST"])
    app.add_url_rule("/owner-page", "probe_page", page, methods=["GET", "POST"])


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app()
    _add_probe_routes(app)
    set_owner_password(app)
    return app


# --- password and login ----------------------------------------------------


def test_password_rules_and_check(make_app):
    app = make_app()
    with app.app_context():
        conn = db.get_db()
        assert not auth.is_configured(conn)
        assert not auth.check_password(conn, "anything at all")
        with pytest.raises(auth.WeakPassword):
            auth.set_password(conn, "short")
        with pytest.raises(auth.WeakPassword):
            auth.set_password(conn, "x" * (auth.MAX_PASSWORD_LENGTH + 1))
        auth.set_password(conn, PASSWORD)
        assert auth.is_configured(conn)
        assert auth.check_password(conn, PASSWORD)
        assert not auth.check_password(conn, PASSWORD + "!")
        stored = conn.execute("SELECT password_hash FROM owner").fetchone()[0]
        assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_login_sets_session_cookie_flags_and_logout_ends_it(app, client):
    response = log_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie  # session.permanent
    assert client.get("/owner-page").get_data(as_text=True) == "owner page"

    response = client.post("/logout", data={"csrf_token": session_csrf(client)})
    assert response.status_code == 302
    assert client.get("/owner-page").status_code == 302


def test_login_cookie_is_secure_over_https(app, client):
    response = client.post(
        "/login", base_url="https://localhost", data={"password": PASSWORD, "csrf_token": form_csrf(client)}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_rotates_the_session(app, client):
    planted = form_csrf(client)
    log_in(client)
    assert session_csrf(client) != planted


def test_wrong_password_is_401_page_without_session(app, client):
    response = client.post("/login", data={"password": "wrong password", "csrf_token": form_csrf(client)})
    assert response.status_code == 401
    assert "Wrong password." in response.get_data(as_text=True)
    assert client.get("/owner-page").status_code == 302


def test_login_needs_csrf_token(app, client):
    client.get("/login")
    assert client.post("/login", data={"password": PASSWORD}).status_code == 403
    assert client.post("/login", data={"password": PASSWORD, "csrf_token": "forged"}).status_code == 403
    assert client.get("/owner-page").status_code == 302


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/albums?page=2", "/albums?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_redirects_only_to_local_paths(app, client, target, expected):
    response = client.post("/login", data={"password": PASSWORD, "next": target, "csrf_token": form_csrf(client)})
    assert response.headers["Location"] == expected


def test_pages_redirect_to_login_with_next(app, client):
    response = client.get("/owner-page?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/owner-page")


def test_password_change_logs_out_existing_sessions(app, client):
    log_in(client)
    assert client.get("/owner-page").status_code == 200
    set_owner_password(app, "a brand new password")
    assert client.get("/owner-page").status_code == 302


# --- CSRF on session-authenticated requests --------------------------------


def test_session_mutation_needs_csrf(app, client):
    log_in(client)
    missing = client.post("/api/probe")
    assert missing.status_code == 403 and missing.json["error"] == "forbidden"
    assert client.post("/api/probe", headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert client.post("/owner-page").status_code == 403  # an HTML page, not JSON
    good = client.post("/api/probe", headers={"X-CSRF-Token": session_csrf(client)})
    assert good.status_code == 200 and good.json == {"changed": True}
    form = client.post("/owner-page", data={"csrf_token": session_csrf(client)})
    assert form.status_code == 200


# --- API tokens ----------------------------------------------------------------


def test_token_is_stored_hashed(app):
    token = create_token(app, "backup script")
    assert token.startswith("vv_") and len(token) > 40
    raw = sqlite3.connect(app.config["DATABASE_PATH"])
    rows = raw.execute("SELECT name, token_hash, hint FROM api_tokens").fetchall()
    dump = "\n".join(raw.iterdump())
    raw.close()
    assert rows == [("backup script", hashlib.sha256(token.encode()).hexdigest(), token[:7])]
    assert token not in dump


def test_bearer_token_authenticates_without_csrf(app, client):
    token = create_token(app)
    response = client.post("/api/probe", headers=bearer(token))
    assert response.status_code == 200


def test_401_without_credentials_403_with_bad_ones(app, client):
    none = client.post("/api/probe")
    assert none.status_code == 401 and none.json["error"] == "unauthorized"
    for header in ("Bearer vv_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        bad = client.post("/api/probe", headers={"Authorization": header})
        assert bad.status_code == 403, header
        assert set(bad.json) == {"error", "detail"}


def test_bad_token_does_not_fall_back_to_the_session(app, client):
    log_in(client)
    response = client.post(
        "/api/probe", headers={"Authorization": "Bearer vv_wrong", "X-CSRF-Token": session_csrf(client)}
    )
    assert response.status_code == 403


def test_revoked_token_is_refused_and_listing_shows_no_secret(app, client):
    token = create_token(app)
    headers = bearer(token)
    assert client.post("/api/probe", headers=headers).status_code == 200
    with app.app_context():
        conn = db.get_db()
        (listed,) = auth.list_api_tokens(conn)
        assert token not in repr(listed) and listed["last_used_at"] is not None
        assert auth.revoke_api_token(conn, listed["id"])
        assert not auth.revoke_api_token(conn, listed["id"])
    assert client.post("/api/probe", headers=headers).status_code == 403


def test_last_used_is_written_at_most_hourly(app, client):
    token = create_token(app)
    headers = bearer(token)
    client.post("/api/probe", headers=headers)
    with app.app_context():
        conn = db.get_db()
        conn.execute("UPDATE api_tokens SET last_used_at = 1000")
    client.post("/api/probe", headers=headers)
    with app.app_context():
        assert db.get_db().execute("SELECT last_used_at FROM api_tokens").fetchone()[0] > 1000
        db.get_db().execute("UPDATE api_tokens SET last_used_at = strftime('%s','now') - 60")
        before = db.get_db().execute("SELECT last_used_at FROM api_tokens").fetchone()[0]
    client.post("/api/probe", headers=headers)
    with app.app_context():
        assert db.get_db().execute("SELECT last_used_at FROM api_tokens").fetchone()[0] == before


# --- rate limits and client addresses --------------------------------------


def test_rate_limit_answers_429_with_retry_after(app, client):
    headers = bearer(create_token(app))
    statuses = [client.post("/api/probe", headers=headers).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    limited = client.post("/api/probe", headers=headers)
    assert limited.json["error"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_login_attempts_are_rate_limited(make_app):
    app = make_app(LOGIN_ATTEMPTS_PER_MINUTE=2)
    set_owner_password(app)
    client = app.test_client()
    token = form_csrf(client)
    codes = [
        client.post("/login", data={"password": "wrong guess!", "csrf_token": token}).status_code for _ in range(3)
    ]
    assert codes == [401, 401, 429]
    blocked = client.post("/login", data={"password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_sliding_window_counts_the_previous_minute(app):
    with app.app_context():
        conn = db.get_db()
        for _ in range(4):
            assert auth.hit_rate_limit(conn, "k", 4, now=600.0) == 0
        assert auth.hit_rate_limit(conn, "k", 4, now=600.0) == 60
        # 15 s into the next minute, 3/4 of the old window still counts: 3.75 + 1 > 4
        # (a fixed window would allow 4 more here).
        assert auth.hit_rate_limit(conn, "k", 4, now=675.0) == 45
        # 50 s in, 1/6 of it counts: 5/6 + 2 <= 4.
        assert auth.hit_rate_limit(conn, "k", 4, now=710.0) == 0
        assert auth.hit_rate_limit(conn, "other", 4, now=710.0) == 0


def _client_ip(app: Flask, remote: str, forwarded: str | None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context(environ_base={"REMOTE_ADDR": remote}, headers=headers):
        return auth.client_ip()


def test_forwarded_for_ignored_unless_from_trusted_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=("10.0.0.1", "192.168.5.0/24"))
    assert _client_ip(app, "203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert _client_ip(app, "10.0.0.1", "1.2.3.4") == "1.2.3.4"
    # The client wrote "6.6.6.6"; the proxy appended the real peer on the right.
    assert _client_ip(app, "10.0.0.1", "6.6.6.6, 198.51.100.7") == "198.51.100.7"
    assert _client_ip(app, "10.0.0.1", "198.51.100.7, 192.168.5.3") == "198.51.100.7"
    assert _client_ip(app, "10.0.0.1", "not-an-ip") == "10.0.0.1"
    assert _client_ip(app, "10.0.0.1", None) == "10.0.0.1"


def test_spoofed_forwarded_for_does_not_dodge_the_limit(app, client):
    headers = bearer(create_token(app))
    codes = [
        client.post("/api/probe", headers={**headers, "X-Forwarded-For": f"1.2.3.{i}"}).status_code for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]


# --- CLI ----------------------------------------------------------------------


def test_cli_set_password_and_create_token(tmp_path, make_app):
    data = tmp_path / "data"
    short = flask_cli(data, "set-password", stdin="short\nshort\n")
    assert short.returncode != 0 and "at least 8" in short.stderr
    done = flask_cli(data, "set-password", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout
    made = flask_cli(data, "create-api-token", "--name", "cron")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("vv_")

    app = make_app()
    _add_probe_routes(app)
    with app.app_context():
        assert auth.check_password(db.get_db(), PASSWORD)
        assert auth.list_api_tokens(db.get_db())[0]["name"] == "cron"
    response = app.test_client().post("/api/probe", headers=bearer(token))
    assert response.status_code == 200


# --- CSRF is skipped for a valid token only; plays are rate limited -------------

ALBUM_ID = 7


def _add_album(app: Flask) -> None:
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            collection.save_album(conn, AlbumRecord(id=ALBUM_ID, source="csv", artist="Can", title="Tago Mago"))


def _plays(app: Flask) -> int:
    with app.app_context():
        return db.get_db().execute("SELECT play_count FROM albums WHERE id = ?", (ALBUM_ID,)).fetchone()[0]


def test_an_invented_authorization_header_does_not_skip_csrf(app, client):
    _add_album(app)
    for _ in range(5):
        response = client.post(f"/now-playing/{ALBUM_ID}", headers={"Authorization": "Bearer nothing"})
        assert response.status_code == 403
    assert (
        client.post("/login", data={"password": PASSWORD}, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code
        == 403
    )
    assert client.get("/owner-page").status_code == 302
    assert _plays(app) == 0


def test_a_valid_token_counts_a_play_without_csrf(app, client):
    _add_album(app)
    response = client.post(f"/now-playing/{ALBUM_ID}", headers=bearer(create_token(app)))
    assert response.status_code == 303
    assert _plays(app) == 1


def test_plays_are_rate_limited_per_client(make_app):
    app = make_app(RATE_LIMIT_PER_MINUTE=3)
    set_owner_password(app)
    _add_album(app)
    client = app.test_client()
    token = form_csrf(client)
    codes = [client.post(f"/now-playing/{ALBUM_ID}", data={"csrf_token": token}).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    assert _plays(app) == 3
