"""Guest links: made and revoked by the owner, and with GUESTS_NEED_LINK the only way in for guests."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.support.owner import log_in, session_csrf
from tests.support.servers import flask_cli
from vinylvault import db
from vinylvault.access import guest_links
from vinylvault.web import lan


def _new_link(app: Flask, expires: str = "week", label: str = "Friends") -> str:
    with app.app_context():
        return "/guest/" + guest_links.create_link(db.get_db(), expires, label)


def _links(app: Flask) -> list[dict]:
    with app.app_context():
        return guest_links.list_links(db.get_db())


def test_without_the_setting_guests_browse_as_before(make_app):
    app = make_app()
    assert app.config["GUESTS_NEED_LINK"] is False
    assert app.test_client().get("/").status_code == 200


def test_with_the_setting_a_guest_without_a_link_is_refused(make_app):
    client = make_app(GUESTS_NEED_LINK=True).test_client()
    page = client.get("/")
    assert page.status_code == 403
    assert "open to guests with a link from its owner" in page.get_data(as_text=True)
    assert client.get("/api/collection").status_code == 403
    assert client.get("/search?q=x").status_code == 403
    # Logging in, the app shell and assets stay reachable.
    for path in ("/login", "/manifest.webmanifest", "/sw.js", "/offline", "/static/style.css"):
        assert client.get(path).status_code == 200, path


def test_a_live_link_lets_the_guest_browse_but_not_the_owner_tools(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    client = app.test_client()
    opened = client.get(_new_link(app))
    assert opened.status_code == 303 and opened.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/admin"' not in page.get_data(as_text=True)
    assert client.get("/admin").status_code == 302  # to the login page, as for any guest
    assert client.post("/admin/guest-links", data={"expires": "never"}).status_code == 302
    assert len(_links(app)) == 1
    assert _links(app)[0]["last_used_at"] is not None


def test_revoking_a_link_locks_its_guests_out_at_once(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    client = app.test_client()
    client.get(_new_link(app))
    assert client.get("/").status_code == 200
    with app.app_context():
        assert guest_links.revoke_link(db.get_db(), _links(app)[0]["id"]) is True
    assert client.get("/").status_code == 403
    with client.session_transaction() as sess:
        assert guest_links.SESSION_FIELD not in sess


def test_a_link_that_expires_ends_its_guest_sessions(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    client = app.test_client()
    client.get(_new_link(app, expires="day"))
    assert client.get("/").status_code == 200
    with app.app_context():  # a day passes
        db.get_db().execute("UPDATE guest_links SET expires_at = ?", (time.time() - 1,))
    assert client.get("/").status_code == 403
    assert app.test_client().get(_new_link(app, expires="day")).status_code == 303


def test_an_expired_or_unknown_link_does_not_open(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    with app.app_context():
        token = guest_links.create_link(db.get_db(), "day", now=time.time() - 2 * 86400)
    client = app.test_client()
    refused = client.get(f"/guest/{token}")
    assert refused.status_code == 404
    assert "expired or was withdrawn" in refused.get_data(as_text=True)
    assert client.get("/guest/vg_nothing").status_code == 404
    assert client.get("/").status_code == 403


def test_only_hashes_are_stored(make_app, tmp_path: Path):
    app = make_app()
    link = _new_link(app)
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        rows = db.get_db().execute("SELECT token_hash, hint FROM guest_links").fetchall()
    assert rows[0]["token_hash"] != token and len(rows[0]["token_hash"]) == 64
    assert rows[0]["hint"] == token[:7]
    assert token.encode() not in (tmp_path / "data" / "vinylvault.db").read_bytes()


def test_the_owner_makes_lists_and_revokes_links_on_the_admin_page(owner_client: FlaskClient):
    csrf = session_csrf(owner_client)
    made = owner_client.post("/admin/guest-links", data={"csrf_token": csrf, "expires": "day", "label": "Sam"})
    assert made.status_code == 303 and made.headers["Location"].endswith("/admin#guest-links-h")
    admin = owner_client.get("/admin").get_data(as_text=True)
    # At the guests' address, not the owner's localhost.
    link = re.search(r"shown this once\): (http://[\d.]+:8080/guest/vg_[\w-]+)", admin).group(1)
    assert urlsplit(link).hostname == lan.lan_address()
    row = re.search(
        r'<tr><td>Sam<br><span class="muted">vg_.{4}…</span></td>\s*<td>made (\d{4}-\d\d-\d\d \d\d:\d\d)'
        r'<br>ends (\d{4}-\d\d-\d\d \d\d:\d\d)<br><span class="muted">last used never</span>',
        admin,
    )
    assert row and row.group(1) < row.group(2)

    guest = owner_client.application.test_client()
    assert guest.get(urlsplit(link).path).status_code == 303
    assert guest.get("/").status_code == 200

    revoke = re.search(r'action="(/admin/guest-links/\d+/revoke)"', admin).group(1)
    assert owner_client.post(revoke).status_code == 403  # no CSRF token
    assert owner_client.post(revoke, data={"csrf_token": csrf}).status_code == 303
    assert guest.get("/").status_code == 403
    assert owner_client.post(revoke, data={"csrf_token": csrf}).status_code == 404
    left = owner_client.get("/admin").get_data(as_text=True)
    assert "<tr><td>Sam" not in left
    assert "<tr data-kiosk-link><td>Kiosk screen" in left  # the QR code's own, made when the page first showed it


def test_a_bad_expiry_is_a_400(owner_client: FlaskClient):
    answer = owner_client.post(
        "/admin/guest-links", data={"csrf_token": session_csrf(owner_client), "expires": "forever"}
    )
    assert answer.status_code == 400


def test_the_owner_passes_the_gate(owner_client: FlaskClient):
    assert owner_client.get("/").status_code == 200
    assert owner_client.get("/admin").status_code == 200


def _flask(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"}
    return flask_cli(data_dir, *args, env=env)


def test_cli_makes_lists_and_revokes_links(make_app, tmp_path: Path):
    app = make_app()
    data = tmp_path / "data"
    made = _flask(
        data, "create-guest-link", "--expires", "never", "--label", "Party", "--base-url", "http://pi.local:8080/"
    )
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"http://pi\.local:8080/guest/vg_[\w-]+\n", made.stdout)
    listing = _flask(data, "list-guest-links").stdout
    assert listing.startswith("1\tParty\tvg_") and "expires never" in listing
    assert _flask(data, "revoke-guest-link", "1").returncode == 0
    again = _flask(data, "revoke-guest-link", "1")
    assert again.returncode == 1 and "no guest link number 1" in again.stderr
    assert _links(app) == []


def test_a_new_link_is_shown_at_the_guests_address(make_app):
    app = make_app(GUESTS_NEED_LINK=True, GUEST_URL="https://records.home")
    owner = app.test_client()
    assert log_in(owner).status_code == 302
    owner.post("/admin/guest-links", data={"csrf_token": session_csrf(owner), "expires": "day"})
    admin = owner.get("/admin").get_data(as_text=True)
    assert re.search(r"shown this once\): https://records\.home/guest/vg_[\w-]+", admin)
