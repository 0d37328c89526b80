"""The kiosk view, the attract screen and the guests' address, through the real app (Flask's client)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from tests.support.owner import form_csrf, set_owner_password
from vinylvault import db
from vinylvault.covers import extension
from vinylvault.library import collection
from vinylvault.listening import spins
from vinylvault.site import kiosk
from vinylvault.web import lan

KIOSK_HTML = re.compile(r'<html[^>]*class="kiosk"')


def test_kiosk_is_off_unless_asked(guest):
    html = guest.get("/").get_data(as_text=True)
    assert not KIOSK_HTML.search(html) and "kiosk.js" not in html and "user-scalable=no" not in html


def test_kiosk_1_turns_it_on_and_the_cookie_keeps_it(guest):
    first = guest.get("/?kiosk=1")
    assert first.status_code == 200
    assert "vv_kiosk=1" in first.headers["Set-Cookie"] and "HttpOnly" in first.headers["Set-Cookie"]
    later = guest.get("/album/11").get_data(as_text=True)
    assert KIOSK_HTML.search(later)
    assert 'src="/static/kiosk.js?v=' in later and 'href="/static/kiosk.css?v=' in later
    assert 'content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no"' in later
    assert 'data-kiosk-idle-ms="180000"' in later and 'data-kiosk-attract="/kiosk/attract?fragment=1"' in later


def test_kiosk_0_turns_it_off_again(guest):
    guest.get("/?kiosk=1")
    off = guest.get("/?kiosk=0")
    assert off.status_code == 200 and "vv_kiosk=0" in off.headers["Set-Cookie"]
    assert not KIOSK_HTML.search(guest.get("/").get_data(as_text=True))


def test_an_error_page_does_not_set_the_cookie(guest):
    response = guest.get("/album/999999?kiosk=1")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_kiosk_mode_setting_turns_it_on_for_every_browser(make_page_app):
    app = make_page_app(KIOSK_MODE=True, KIOSK_IDLE_MINUTES=0.5, KIOSK_DIM_FROM_HOUR=22, KIOSK_DIM_UNTIL_HOUR=7)
    set_owner_password(app)
    html = app.test_client().get("/").get_data(as_text=True)
    assert KIOSK_HTML.search(html)
    assert 'data-kiosk-idle-ms="30000"' in html
    assert 'data-kiosk-dim-from="22"' in html and 'data-kiosk-dim-until="7"' in html
    # One browser can still leave it.
    assert not KIOSK_HTML.search(app.test_client().get("/?kiosk=0").get_data(as_text=True))


# --- What is spinning ------------------------------------------------------------------


def play(app: Flask, album_id: int, when: datetime) -> None:
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            conn.execute(
                "INSERT INTO plays (album_id, played_at) VALUES (?, ?)",
                (album_id, when.replace(microsecond=0).isoformat()),
            )


def test_current_spin_is_the_last_play_within_the_window(small_app):
    now = datetime.now(timezone.utc)
    play(small_app, 12, now - timedelta(hours=3))
    play(small_app, 11, now - timedelta(minutes=10))
    with small_app.app_context():
        spin = kiosk.current_spin(db.get_db(), now)
        assert spin is not None and spin.id == 11
        assert kiosk.current_spin(db.get_db(), now + kiosk.SPIN_WINDOW) is None


def test_the_side_on_the_turntable_comes_before_any_play(small_app):
    now = datetime.now(timezone.utc)
    play(small_app, 11, now - timedelta(minutes=10))
    with small_app.app_context():
        conn = db.get_db()
        spins.start(conn, 12, 0, now.timestamp(), 240, count_play=False)
        spin = kiosk.current_spin(conn, now)
        assert spin is not None and spin.id == 12


def test_no_plays_no_spin(small_app):
    with small_app.app_context():
        assert kiosk.current_spin(db.get_db()) is None


def test_attract_shows_the_record_playing_now(small_app):
    client = small_app.test_client()
    assert client.post("/now-playing/11", data={"csrf_token": form_csrf(client, "/album/11")}).status_code == 303
    html = client.get("/kiosk/attract?fragment=1").get_data(as_text=True)
    assert "Now playing" in html and "Kind of Blue" in html and "attract__wall" not in html
    assert html.lstrip().startswith('<div class="attract" data-attract')  # the fragment only, no page around it


def test_attract_wall_holds_only_cached_covers(demo_app):
    with demo_app.app_context():
        conn = db.get_db()
        albums = collection.list_albums(conn, limit=collection.MAX_LIMIT).albums
        cached = [album for album in albums if album.image_url][:5]
        done = extension.get_cache().preload_images([album.image_url for album in cached])
        assert all(done.values())
        keys = {extension.get_cache().lookup(album.image_url, "thumbnails").key for album in cached}
    html = demo_app.test_client().get("/kiosk/attract").get_data(as_text=True)
    shown = set(re.findall(r'<img src="/cache/thumbnails/([0-9a-f]{64})\.webp"', html))
    assert shown == keys  # every cached cover, nothing uncached (no placeholder, no download)
    assert html.count("/cache/thumbnails/") == 2 * len(keys)  # each row twice over, for the seamless loop
    assert "Now playing" not in html and "data-attract-page" in html


def test_attract_with_nothing_cached_still_shows_the_guests_qr_code(small_app):
    response = small_app.test_client().get("/kiosk/attract?fragment=1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "attract__wall" not in html and '<svg viewBox="0 0 ' in html and 'class="qr"' in html


# --- The guests' address -----------------------------------------------------------------


def guest_address(app: Flask, host: str) -> str:
    html = app.test_client().get("/kiosk/attract?fragment=1", headers={"Host": host}).get_data(as_text=True)
    return re.search(r'<strong class="attract__address">([^<]+)</strong>', html).group(1)


def test_a_guest_gets_the_address_the_page_was_opened_at(small_app):
    assert guest_address(small_app, "raspberrypi.local:8080") == "http://raspberrypi.local:8080"


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"])
def test_the_kiosk_at_localhost_shows_the_lan_address_and_binds_port(make_page_app, host):
    app = make_page_app(BIND="0.0.0.0:8123")
    set_owner_password(app)
    address = lan.lan_address()
    assert address, "this test needs a network interface"
    assert guest_address(app, host) == f"http://{address}:8123"


def test_behind_nginx_the_lan_address_on_port_80(make_page_app):
    app = make_page_app(BIND="127.0.0.1:8080")
    set_owner_password(app)
    assert guest_address(app, "localhost:8080") == f"http://{lan.lan_address()}"


def test_guest_url_setting_wins(make_page_app):
    app = make_page_app(GUEST_URL="http://records.home/")
    set_owner_password(app)
    assert guest_address(app, "raspberrypi.local:8080") == "http://records.home"


@pytest.mark.parametrize(
    "https_port, host, expected",
    [
        (443, "localhost:8080", "https://{lan}"),  # the Pi's own screen: its LAN address
        (8443, "127.0.0.1", "https://{lan}:8443"),
        (443, "raspberrypi.local", "https://raspberrypi.local"),  # a name the LAN certificate carries
        (443, "192.168.1.20:80", "https://192.168.1.20"),
    ],
)
def test_with_https_the_guests_open_the_https_address(make_app, https_port, host, expected):
    app = make_app(HTTPS_PORT=https_port, BIND="127.0.0.1:8080")
    set_owner_password(app)
    assert guest_address(app, host) == expected.format(lan=lan.lan_address())


def test_guest_url_wins_over_https(make_app):
    app = make_app(HTTPS_PORT=443, GUEST_URL="http://records.home")
    set_owner_password(app)
    assert guest_address(app, "localhost") == "http://records.home"


def test_a_page_that_came_over_https_gives_its_own_https_address(make_app):
    # Through nginx on 443 without HTTPS_PORT set: the scheme nginx reports, not http.
    app = make_app(TRUSTED_PROXIES=("127.0.0.1",))
    set_owner_password(app)
    html = (
        app.test_client()
        .get("/kiosk/attract?fragment=1", headers={"Host": "raspberrypi.local", "X-Forwarded-Proto": "https"})
        .get_data(as_text=True)
    )
    assert re.search(r'<strong class="attract__address">([^<]+)</strong>', html).group(1) == "https://raspberrypi.local"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"HTTPS_PORT": 70000}, "HTTPS_PORT=70000: must be at most 65535"),
        ({"HTTPS_PORT": -1}, "HTTPS_PORT=-1: must be at least 0"),
        ({"HTTPS_PORT": 8080, "BIND": "0.0.0.0:8080"}, "HTTPS_PORT=8080: that is gunicorn's plain-HTTP port"),
    ],
)
def test_https_port_is_checked(tmp_path, settings, message):
    import config

    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(DATA_DIR=tmp_path, **settings)
    assert config.load({"VINYL_VAULT_HTTPS_PORT": "443"}, DATA_DIR=tmp_path).HTTPS_PORT == 443


def test_guest_url_must_be_a_web_address(tmp_path):
    import config

    with pytest.raises(config.ConfigError, match="GUEST_URL"):
        config.load(DATA_DIR=tmp_path, GUEST_URL="records.home")


def test_the_qr_svg_keeps_to_the_content_security_policy():
    svg = str(kiosk.qr_svg("http://192.168.1.20:8080", "QR code"))
    assert svg.startswith('<svg viewBox="0 0 ') and "style" not in svg and "<?xml" not in svg
    assert "<script" not in svg and "\n" not in svg


def test_the_admin_page_shows_the_qr_code(owner):
    response = owner.get("/admin")  # at localhost, as on the Pi's own screen
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    url = f"http://{lan.lan_address()}:8080"  # BIND's default port
    assert '<h2 id="guests-h">Guests</h2>' in html
    assert f"<title>QR code: {url}</title>" in html and f"<strong data-guest-address>{url}</strong>" in html


def test_app_without_owner_sends_the_attract_screen_to_setup(make_page_app):
    assert make_page_app().test_client().get("/kiosk/attract").status_code == 302
