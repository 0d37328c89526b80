"""Every page, rendered by the real app over real SQLite, for empty, small and 10,000-album collections."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from tests.support.albums import COVER_BASE
from tests.support.owner import form_csrf, logged_in
from vinylvault import db
from vinylvault.library import collection

FOOTER = "This application uses Discogs' API but is not affiliated with, sponsored or endorsed by Discogs."
PAGES = [
    "/",
    "/spin",
    "/search",
    "/search?q=record",
    "/stats",
    "/sync",
    "/?sort=year&order=desc",
    "/?sort=added",
    "/?sort=rating",
    "/?sort=title&genre=Jazz",
]


def text(response) -> str:
    return response.get_data(as_text=True)


def first_album_id(app: Flask) -> int:
    with app.app_context():
        return collection.list_albums(db.get_db(), limit=1).albums[0].id


def test_every_page_renders_for_guest_and_owner(any_app: Flask):
    guest, owner = any_app.test_client(), logged_in(any_app)
    for client, paths in ((guest, [*PAGES, "/login"]), (owner, PAGES)):
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, text(response)[:500])
            html = text(response)
            assert FOOTER in html and "Traceback" not in html, path


def test_owner_pages_render(any_app: Flask):
    client = logged_in(any_app)
    for path in ("/admin", "/setup", "/sync"):
        response = client.get(path)
        assert response.status_code == 200, (path, text(response)[:500])
        assert FOOTER in text(response)


def test_album_and_now_playing_render(any_app: Flask):
    client = any_app.test_client()
    with any_app.app_context():
        albums = collection.list_albums(db.get_db(), limit=3).albums
    if not albums:
        assert client.get("/album/1").status_code == 404
        return
    for album in albums:
        html = text(client.get(f"/album/{album.id}"))
        assert str(escape(album.title)) in html and FOOTER in html
        html = text(client.get(f"/now-playing/{album.id}"))
        assert 'class="now-playing"' in html and FOOTER in html


def test_empty_collection_points_to_setup(empty_app: Flask):
    client = logged_in(empty_app)
    html = text(client.get("/"))
    assert "The crates are empty" in html
    assert 'href="/setup"' in html
    assert "flask --app vinylvault demo" in html


def test_grid_shows_covers_with_real_urls_without_js(guest: FlaskClient):
    html = text(guest.get("/"))
    cards = re.findall(r'<a class="card" href="(/album/-?\d+)[^"]*">(.*?)</a>', html, re.S)
    assert len(cards) == 4
    for _href, card in cards:
        # The real cover is reachable without JavaScript: in src or in the <noscript> twin.
        noscript = re.search(r"<noscript>(.*?)</noscript>", card, re.S)
        real = noscript.group(1) if noscript else card
        assert re.search(r'src="/cache/(thumbnails|placeholders)/', real), card
    assert html.count('loading="eager"') == 4  # the first row: here every album
    assert "Kind of Blue" in html and "Homogenic &lt;live&gt;" in html


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a class="card" href="/album/(-?\d+)', html)]


def test_grid_pages_with_load_more_link_and_fragment(big_app: Flask):
    client = big_app.test_client()
    html = text(client.get("/?sort=title"))
    link = re.search(r'<a class="button load-more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "after=" in link and "sort=title" in link
    second = text(client.get(link))
    fragment = text(client.get(link + "&fragment=1"))
    assert "<html" not in fragment and 'loading="eager"' not in fragment
    with big_app.app_context():
        expected = [a.id for a in collection.list_albums(db.get_db(), sort="title", limit=48).albums]
    assert card_ids(html) + card_ids(second) == expected
    assert card_ids(fragment) == card_ids(second)
    assert html.count('loading="eager"') == 18  # three rows at the widest grid: the Pi's first screen
    assert html.count('fetchpriority="high"') == 6  # the top row first


def test_page_parameter_skips_whole_pages(big_app: Flask):
    client = big_app.test_client()
    with big_app.app_context():
        expected = [a.id for a in collection.list_albums(db.get_db(), sort="year", limit=72).albums]
    assert card_ids(text(client.get("/?sort=year&page=3"))) == expected[48:]


def test_last_page_has_no_load_more(guest: FlaskClient):
    assert "load-more" not in text(guest.get("/?limit=10"))
    assert "load-more" in text(guest.get("/?limit=2"))


def test_filters_and_search_narrow_the_grid(guest: FlaskClient):
    html = text(guest.get("/?genre=jazz"))
    assert "Kind of Blue" in html and "Homogenic" not in html
    assert "1 album match" in html
    assert text(guest.get("/?decade=1990")).count('class="card"') == 1
    assert text(guest.get("/?folder=Jazz%20shelf")).count('class="card"') == 1
    assert text(guest.get("/?format=cd")).count('class="card"') == 1
    html = text(guest.get("/?q=columbia"))
    assert "Kind of Blue" in html and 'class="card"' in html
    html = text(guest.get("/?genre=Polka"))
    assert "Nothing matches" in html


@pytest.mark.parametrize(
    "query",
    [
        "sort=colour",
        "order=sideways",
        "decade=seventies",
        "decade=1975",
        "page=-1",
        "page=abc",
        "limit=100000",
        "limit=0",
        "after=not-a-cursor",
        "q=" + "x" * 300,
        "page=2&after=abc",
    ],
)
def test_bad_grid_parameters_get_a_400_page(guest: FlaskClient, query: str):
    response = guest.get("/?" + query)
    assert response.status_code == 400
    html = text(response)
    assert "<title>400" in html and FOOTER in html and "Traceback" not in html


def test_bad_search_parameters_get_a_400_page(guest: FlaskClient):
    assert guest.get("/search?q=" + "y" * 300).status_code == 400
    assert guest.get("/search?q=blue&page=0").status_code == 400


def test_unknown_pages_get_a_friendly_404(guest: FlaskClient):
    for path in ("/album/999999", "/now-playing/999999", "/no-such-page", "/theme/purple"):
        response = guest.get(path)
        assert response.status_code == 404, path
        assert "not in the crates" in text(response) and FOOTER in text(response)


def test_album_page_shows_everything_known(guest: FlaskClient):
    html = text(guest.get("/album/11"))
    for expected in (
        "Miles Davis",
        "Kind of Blue",
        "1959",
        "Columbia",
        "CL 1355",
        "Vinyl, LP, Album, Mono",
        "Jazz",
        "Modal",
        "Very Good Plus (VG+)",
        "Good (G)",
        "Six-eye pressing.",
        "Record fair",
        'aria-label="5 of 5 stars"',
        "https://www.discogs.com/release/249504",
    ):
        assert expected in html, expected
    assert re.search(r'Data provided by <a href="https://www.discogs.com/release/249504"', html)
    assert f"{COVER_BASE}" not in html  # covers come from the cache, never hot-linked
    assert re.search(r'<img[^>]+src="/cache/(detail|placeholders)/[^"]+"[^>]+loading="eager"', html)


def test_demo_and_csv_albums_carry_no_discogs_notice(guest: FlaskClient):
    for album_id in (14, -13):
        response = guest.get(f"/album/{album_id}")
        assert response.status_code == 200
        html = text(response)
        assert "Data provided by" not in html
        assert "discogs.com/release" not in html


def test_previous_and_next_follow_the_grid_sort(guest: FlaskClient):
    # Years: unknown (-13), 1959 (11), 1984 (14), 1997 (12).
    html = text(guest.get("/album/12?sort=year&order=asc"))
    prev = re.search(r'rel="prev" data-nav href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert prev.startswith("/album/14?") and "sort=year" in prev and "order=asc" in prev
    assert 'rel="next"' not in html  # the last album
    html = text(guest.get("/album/12?sort=year&order=desc"))
    assert 'rel="prev"' not in html
    assert re.search(r'rel="next" data-nav href="/album/14\?', html)


def test_random_redirects_to_an_album(guest: FlaskClient):
    response = guest.get("/random")
    assert response.status_code == 302
    assert re.fullmatch(r"/album/-?\d+\?via=random", response.location)
    assert "Spin again" in text(guest.get(response.location))


def test_random_on_an_empty_collection_goes_back_to_the_spin_page(empty_app: Flask):
    client = empty_app.test_client()
    response = client.get("/random")
    assert response.status_code == 302 and response.location == "/spin"
    assert "nothing to spin" in text(client.get("/spin"))


def test_now_playing_post_records_a_play(small_app: Flask):
    client = small_app.test_client()
    token = form_csrf(client, "/album/11")
    response = client.post("/now-playing/11", data={"csrf_token": token})
    assert response.status_code == 303 and response.location == "/now-playing/11"
    assert "Played 1 time" in text(client.get("/now-playing/11"))
    client.get("/now-playing/11")  # viewing records nothing
    with small_app.app_context():
        album = collection.get_album(db.get_db(), 11)
        plays = db.get_db().execute("SELECT count(*) FROM plays WHERE album_id = 11").fetchone()[0]
    assert album.play_count == 1 and album.last_played and plays == 1


def test_now_playing_post_needs_csrf_and_an_album(small_app: Flask):
    client = small_app.test_client()
    assert client.post("/now-playing/11").status_code == 403
    token = form_csrf(client, "/album/11")
    assert client.post("/now-playing/999", data={"csrf_token": token}).status_code == 404
    with small_app.app_context():
        assert collection.get_album(db.get_db(), 11).play_count == 0


def test_stats_charts_are_well_formed_svg(any_app: Flask):
    html = text(any_app.test_client().get("/stats"))
    charts = re.findall(r"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\".*?</svg>", html, re.S)
    with any_app.app_context():
        has_albums = collection.counts(db.get_db())["albums"] > 0
    assert len(charts) == (3 if has_albums else 0)
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.find("{http://www.w3.org/2000/svg}title").text
    assert "Cover cache" in html


def test_owner_controls_hidden_from_guests(guest: FlaskClient, owner: FlaskClient):
    for path in ("/", "/sync"):
        assert "/demo/remove" not in text(guest.get(path))
        assert "Sync now" not in text(guest.get(path))
    assert 'href="/admin"' not in text(guest.get("/"))
    assert guest.get("/admin").status_code == 302
    refused = guest.post("/sync")
    assert refused.status_code == 302 and refused.location.startswith("/login")
    assert 'href="/admin"' in text(owner.get("/"))
    assert "/demo/remove" in text(owner.get("/"))


def test_owner_removes_the_demo(small_app: Flask, owner: FlaskClient):
    response = owner.post("/demo/remove", data={"csrf_token": form_csrf(owner, "/")})
    assert response.status_code == 303
    html = text(owner.get("/"))
    assert "Demo Record" not in html and "Demo collection" not in html
    assert "Kind of Blue" in html


def test_theme_cookie_renders_the_right_theme(guest: FlaskClient):
    assert 'data-theme="dark"' in text(guest.get("/"))
    response = guest.get("/theme/light?next=/stats")
    assert response.status_code == 302 and response.location == "/stats"
    assert 'data-theme="light"' in text(guest.get("/"))
    assert guest.get("/theme/dark?next=//evil.example/").location == "/"


def test_sync_status_json_has_no_credentials(owner: FlaskClient):
    status = owner.get("/sync/status").get_json()
    assert status["state"] == "idle" and status["running"] is False and status["message"]
    assert not any("token" in key for key in status)
