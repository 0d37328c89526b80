"""Every response carries the security headers: pages, JSON, images, photos, errors, redirects and 304s."""

from __future__ import annotations

import pytest

from tests.support.albums import album, fill
from tests.support.apps import cached_cover
from tests.support.images import image_bytes
from tests.support.owner import create_token, log_in, set_owner_password
from tests.support.photos import upload_one
from vinylvault.web.security_headers import CONTENT_SECURITY_POLICY

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in EXPECTED}


@pytest.fixture
def site(app):
    """The app with an owner, one album and an API token; yields (app, token)."""
    set_owner_password(app)
    fill(app, [album(1)])
    return app, create_token(app)


def test_the_policy_allows_only_the_sites_own_scripts_and_styles():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_pages_json_errors_and_redirects_carry_them(site, client):
    app, token = site
    responses = {
        "page": client.get("/"),
        "album": client.get("/album/1"),
        "login": client.get("/login"),
        "json": client.get("/api/cache/stats"),
        "json error": client.get("/api/cache/preload/" + "0" * 32),
        "page error": client.get("/no-such-page"),
        "405": client.delete("/"),
        "redirect": client.get("/admin"),
        "csrf refusal": client.post("/logout/everywhere", headers={"Authorization": "Bearer nothing"}),
        "static": client.get("/static/style.css"),
        "placeholder": client.get("/cache/placeholders/placeholder_thumbnails.webp"),
        "unknown cover": client.get(f"/cache/thumbnails/{'a' * 64}.webp"),
    }
    expected_status = {
        "page": 200,
        "album": 200,
        "login": 200,
        "json": 200,
        "json error": 404,
        "page error": 404,
        "405": 405,
        "redirect": 302,
        "csrf refusal": 403,
        "static": 200,
        "placeholder": 200,
        "unknown cover": 404,
    }
    assert {name: r.status_code for name, r in responses.items()} == expected_status
    for name, response in responses.items():
        assert _security_headers(response) == EXPECTED, name


def test_cover_hits_and_304s_carry_them(app, client, origin):
    entry = cached_cover(app, origin)
    url = f"/cache/thumbnails/{entry.key}.webp"
    hit = client.get(url)
    assert hit.status_code == 200 and hit.mimetype == "image/webp"
    assert _security_headers(hit) == EXPECTED
    again = client.get(url, headers={"If-None-Match": hit.headers["ETag"]})
    assert again.status_code == 304
    assert _security_headers(again) == EXPECTED
    assert _security_headers(client.head(url)) == EXPECTED


def test_photos_carry_them(site, client):
    app, token = site
    owner = {"Authorization": f"Bearer {token}"}
    photo = upload_one(client, owner, content=image_bytes())
    for url, headers in ((photo["urls"]["square"], {}), (f"/photos/{photo['id']}/original", owner)):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert _security_headers(response) == EXPECTED, url
    assert _security_headers(client.get("/photos/" + "f" * 32 + "/detail.webp")) == EXPECTED


def test_a_server_error_carries_them(site, client):
    app, _ = site

    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", broken)
    response = client.get("/broken")
    assert response.status_code == 500
    assert _security_headers(response) == EXPECTED


def test_fallback_to_original_lets_images_come_from_elsewhere(make_app):
    app = make_app(FALLBACK_TO_ORIGINAL=True)
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: http: https:" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy


def test_the_owner_gets_them_too(site, client):
    log_in(client)
    assert _security_headers(client.get("/admin")) == EXPECTED
