"""The kiosk's own guest link: with GUESTS_NEED_LINK the kiosk screen gets in, and its QR code carries a
never-ending link, made on demand, listed on the admin page and revocable, that lets a guest who scans it in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.owner import log_in, session_csrf
from vinylvault import db
from vinylvault.access import guest_links
from vinylvault.site import kiosk

#: A phone on the Wi-Fi, as the app sees it; Flask's test client is 127.0.0.1 (this machine) by default.
PHONE = {"REMOTE_ADDR": "192.168.1.50"}
ADDRESS = re.compile(r'<strong class="attract__address[^"]*">([^<]+)</strong>')


def client_at(app: Flask, environ: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(environ)
    return client


def phone(app: Flask) -> FlaskClient:
    return client_at(app, PHONE)


def attract_address(client: FlaskClient, **headers: str) -> str:
    answer = client.get("/kiosk/attract?fragment=1&kiosk=1", headers=headers)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    address = ADDRESS.search(html).group(1)
    assert f"<title>QR code: {address}</title>" in html  # the code carries exactly what the screen says
    return address


def kiosk_rows(app: Flask) -> list[dict]:
    with app.app_context():
        return [link for link in guest_links.list_links(db.get_db()) if link["kiosk"]]


def test_the_kiosk_screen_gets_in_and_its_code_lets_a_guest_in(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    screen = app.test_client()  # the kiosk browser on the Pi: localhost, kiosk view
    assert screen.get("/?kiosk=1").status_code == 200
    address = attract_address(screen)
    with app.test_request_context("/", headers={"Host": "localhost"}):
        assert address.startswith(kiosk.guest_url() + "/guest/vg_")

    guest = phone(app)
    assert guest.get("/").status_code == 403
    opened = guest.get(urlsplit(address).path)
    assert opened.status_code == 303 and opened.headers["Location"] == "/"
    assert guest.get("/").status_code == 200
    (row,) = kiosk_rows(app)
    assert row["label"] == guest_links.KIOSK_LABEL and row["expires_at"] is None
    assert row["last_used_at"] is not None


def test_the_link_is_made_once_drawn_the_same_everywhere_and_stored_as_a_hash(make_app, tmp_path: Path):
    app = make_app(GUESTS_NEED_LINK=True)
    first = attract_address(app.test_client())
    assert attract_address(app.test_client()) == first
    other_worker = make_app(GUESTS_NEED_LINK=True)  # another process on the same data
    assert attract_address(other_worker.test_client()) == first
    assert len(kiosk_rows(app)) == 1
    token = first.rsplit("/", 1)[1]
    assert token.encode() not in (tmp_path / "data" / "vinylvault.db").read_bytes()


def test_revoking_it_locks_out_who_scanned_it_and_the_code_changes(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    old = attract_address(app.test_client())
    guest = phone(app)
    guest.get(urlsplit(old).path)
    assert guest.get("/").status_code == 200

    owner = app.test_client()
    assert log_in(owner).status_code == 302
    admin = owner.get("/admin").get_data(as_text=True)
    row = re.search(r"<tr data-kiosk-link><td>Kiosk screen.*?</tr>", admin, re.DOTALL).group(0)
    assert "never ends" in row and "in the kiosk's QR code" in row
    # The owner's own page shows the same code.
    assert re.search(r"<strong data-guest-address>([^<]+)</strong>", admin).group(1) == old
    revoke = re.search(r'action="(/admin/guest-links/\d+/revoke)"', row).group(1)
    assert owner.post(revoke, data={"csrf_token": session_csrf(owner)}).status_code == 303

    assert guest.get("/").status_code == 403
    assert guest.get(urlsplit(old).path).status_code == 404
    new = attract_address(app.test_client())
    assert new != old
    assert phone(app).get(urlsplit(new).path).status_code == 303


def test_a_guest_with_a_short_link_is_not_handed_the_kiosks(make_app):
    app = make_app(GUESTS_NEED_LINK=True)
    with app.app_context():
        token = guest_links.create_link(db.get_db(), "day", "Sam")
    guest = phone(app)
    guest.get(f"/guest/{token}")
    address = attract_address(guest)
    assert "/guest/" not in address
    assert kiosk_rows(app) == []


@pytest.mark.parametrize(
    "environ, headers",
    [
        (PHONE, {}),  # kiosk view on another device
        ({}, {"X-Forwarded-For": "127.0.0.1"}),  # through a proxy that is not trusted: nginx without TRUSTED_PROXIES
    ],
)
def test_only_the_machines_own_screen_counts_as_the_kiosk(make_app, environ, headers):
    client = client_at(make_app(GUESTS_NEED_LINK=True), environ)
    assert client.get("/?kiosk=1", headers=headers).status_code == 403
    assert client.get("/kiosk/attract?fragment=1&kiosk=1", headers=headers).status_code == 403


def test_through_a_trusted_proxy_the_forwarded_client_decides(make_app):
    app = make_app(GUESTS_NEED_LINK=True, TRUSTED_PROXIES=("127.0.0.1",))
    client = app.test_client()
    assert client.get("/?kiosk=1", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert client.get("/?kiosk=1", headers={"X-Forwarded-For": "192.168.1.50"}).status_code == 403
    not_kiosk = app.test_client()  # no kiosk cookie: this machine's browser, but not the kiosk view
    assert not_kiosk.get("/", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def test_without_the_setting_the_code_is_the_plain_address_and_no_link_is_made(make_app):
    app = make_app()
    address = attract_address(app.test_client())
    assert "/guest/" not in address
    assert kiosk_rows(app) == []


def test_a_new_secret_key_replaces_the_link(make_app):
    old = attract_address(make_app(GUESTS_NEED_LINK=True).test_client())
    app = make_app(GUESTS_NEED_LINK=True, SECRET_KEY="another-secret-key-" + "x" * 32)
    new = attract_address(app.test_client())
    assert new != old
    assert len(kiosk_rows(app)) == 1
    assert phone(app).get(urlsplit(old).path).status_code == 404
