"""The phone app shell over HTTP: manifest, icons, service worker script, offline page, cache headers."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

from PIL import Image, ImageChops

from tests.support.owner import logged_in
from tests.support.paths import ROOT
from vinylvault.site import pwa

ICONS_DIR = ROOT / "vinylvault" / "static" / "icons"


def test_the_manifest_describes_a_full_screen_app_with_reachable_icons(make_app):
    client = make_app().test_client()
    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.mimetype == "application/manifest+json"
    manifest = json.loads(answer.data)
    assert manifest["display"] == "standalone"
    assert (manifest["start_url"], manifest["scope"]) == ("/", "/")
    assert manifest["name"] == manifest["short_name"] == "VinylVault"
    assert (manifest["background_color"], manifest["theme_color"]) == ("#141110", "#1f1b19")
    seen = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png", icon["src"]
        side = int(icon["sizes"].split("x")[0])
        assert Image.open(io.BytesIO(image.data)).size == (side, side)
        seen.add((side, icon["purpose"]))
    assert seen == {(192, "any"), (512, "any"), (512, "maskable")}


def test_the_theme_colours_are_style_css_colours():
    css = (ICONS_DIR.parent / "style.css").read_text()
    assert f"--bg: {pwa.BACKGROUND_COLOUR};" in css
    for colour in pwa.THEME_COLOURS.values():
        assert f"--surface: {colour};" in css


def test_the_committed_icons_are_the_drawn_ones():
    for name, side, maskable in pwa.ICONS:
        committed = Image.open(ICONS_DIR / name).convert("RGB")
        assert committed.size == (side, side)
        assert ImageChops.difference(committed, pwa.draw_icon(side, maskable)).getbbox() is None, name
        assert (ICONS_DIR / name).stat().st_size < 64 * 1024


def test_a_maskable_icon_keeps_the_record_inside_the_safe_zone():
    icon = pwa.draw_icon(512, maskable=True)
    background = Image.new("RGB", icon.size, pwa.BACKGROUND_COLOUR)
    left, top, right, bottom = ImageChops.difference(icon, background).getbbox()
    # The safe zone is the circle of radius 40 % of the side around the centre.
    assert max(256 - left, right - 256, 256 - top, bottom - 256) <= 0.4 * 512


def test_every_page_links_the_manifest_and_the_worker_script(make_app):
    html = make_app().test_client().get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png"' in html
    assert '<meta name="theme-color" content="#1f1b19">' in html
    assert re.search(r'<script src="/static/pwa\.js\?v=[^"]+" defer></script>', html)


def test_the_worker_is_served_from_the_root_never_cached_with_its_settings(make_app):
    app = make_app()
    client = app.test_client()
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"
    body = answer.get_data(as_text=True)
    settings = json.loads(re.search(r"var SETTINGS = (\{.*?\});", body).group(1))
    assert settings["version"] == pwa.static_version(Path(app.static_folder))
    assert settings["maxCovers"] == pwa.MAX_COVERS
    assert "/offline" in settings["precache"]
    for url in settings["precache"]:
        assert client.get(url).status_code == 200, url


def test_the_version_follows_the_static_files_and_the_app_version(tmp_path: Path):
    static = tmp_path / "static"
    shutil.copytree(ICONS_DIR.parent, static)
    before = pwa.static_version(static)
    assert pwa.static_version(static) == before
    assert pwa.static_version(static, "9.9.9") != before
    with (static / "pages.js").open("a") as script:
        script.write("\n/* changed */\n")
    assert pwa.static_version(static) != before


def test_pages_ask_for_this_deployments_static_files_which_browsers_keep(make_app):
    app = make_app()
    client = app.test_client()
    version = pwa.static_version(Path(app.static_folder))
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js)[^"]*)"', html)
    assert urls and all(url.endswith(f"?v={version}") for url in urls), urls
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    # An older deployment's URL (a page a phone kept) or a bare one gets these bytes only revalidated.
    for url in ("/static/style.css?v=0123456789ab", "/static/style.css"):
        assert "immutable" not in client.get(url).headers.get("Cache-Control", ""), url


def test_the_offline_page_speaks_to_the_visitor(make_app):
    answer = make_app().test_client().get("/offline")
    assert answer.status_code == 200
    assert "The record player is out of reach" in answer.get_data(as_text=True)


def test_owner_pages_are_never_stored_guest_pages_may_be(make_app):
    app = make_app()
    guest = app.test_client()
    assert "Cache-Control" not in guest.get("/").headers
    owner = logged_in(app)
    for path in ("/", "/admin", "/offline"):
        answer = owner.get(path)
        assert answer.status_code == 200
    assert owner.get("/").headers["Cache-Control"] == "private, no-store"
    assert owner.get("/admin").headers["Cache-Control"] == "private, no-store"
    shell = owner.get("/offline")
    assert shell.headers["Cache-Control"] == "no-cache"
    # Kept by the worker for good, so it is the guest's page even for the owner.
    assert 'href="/admin"' not in shell.get_data(as_text=True)
    assert 'name="csrf-token"' not in shell.get_data(as_text=True)
    assert 'name="csrf-token"' in owner.get("/").get_data(as_text=True)


# --- The way to HTTPS (HTTPS_PORT, nginx with deploy/lan_tls.py's certificate) ---------------------

LAN_HOST = {"Host": "192.168.1.20"}


def invited(client, path: str = "/", **headers: str) -> bool:
    answer = client.get(path, headers={**LAN_HOST, **headers})
    assert answer.status_code == 200, path
    return "data-https-invite" in answer.get_data(as_text=True)


def test_plain_http_pages_show_the_way_to_https_without_redirecting(make_app):
    client = make_app(HTTPS_PORT=443, TRUSTED_PROXIES=("127.0.0.1",)).test_client()
    assert invited(client, "/") and invited(client, "/stats")
    assert not invited(client, "/", **{"X-Forwarded-Proto": "https"})  # already there
    assert not invited(client, "/secure")  # the page itself
    assert "data-https-invite" not in client.get("/", headers={"Host": "localhost:8080"}).get_data(as_text=True)
    assert not invited(client, "/?kiosk=1")  # a public screen installs nothing


def test_a_forwarded_scheme_is_believed_only_from_a_trusted_proxy(make_app):
    client = make_app(HTTPS_PORT=443).test_client()
    assert invited(client, "/", **{"X-Forwarded-Proto": "https"})


def test_no_https_no_invitation_and_no_secure_page(make_app):
    client = make_app().test_client()
    assert not invited(client, "/")
    assert client.get("/secure", headers=LAN_HOST).status_code == 404


def test_the_secure_page_gives_the_certificate_the_steps_and_the_address(make_app):
    client = make_app(HTTPS_PORT=8443).test_client()
    html = client.get("/secure", headers=LAN_HOST).get_data(as_text=True)
    assert 'href="/vinylvault-ca.crt" download="vinylvault-ca.crt"' in html
    assert "CA certificate" in html and "Certificate Trust Settings" in html
    assert 'href="https://192.168.1.20:8443/" data-secure-address' in html


def test_guests_without_a_link_can_read_the_secure_page(make_app):
    client = make_app(HTTPS_PORT=443, GUESTS_NEED_LINK=True).test_client()
    assert client.get("/", headers=LAN_HOST).status_code == 403
    assert client.get("/secure", headers=LAN_HOST).status_code == 200
