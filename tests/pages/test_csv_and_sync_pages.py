"""What a CSV-only owner, an owner without a Discogs account and /stats' empty or cached parts show."""

from __future__ import annotations

import re
import time
from typing import Callable

import pytest
from flask import Flask

from tests.support.albums import fill
from tests.support.fake_discogs import TOKEN, USERNAME, FakeDiscogs
from tests.support.owner import form_csrf, logged_in, post_setup, set_owner_password
from vinylvault.library.collection import AlbumRecord

#: Two CSV copies whose Discogs releases can give covers, and one with no release at all.
CSV_ALBUMS = [
    AlbumRecord(
        id=-(n + 1),
        source="csv",
        release_id=release,
        artist=f"Artist {n}",
        title=f"Title {n}",
        formats=["Vinyl"],
        format_names=["Vinyl"],
        artists=[(None, f"Artist {n}")],
    )
    for n, release in enumerate((1001, 1002, 0))
]
NOTE = "2 albums from your CSV file have placeholder covers for now."


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def csv_app(make_page_app: Callable[..., Flask]) -> Flask:
    """An owner whose whole collection came from a CSV export; no Discogs account."""
    app = make_page_app()
    set_owner_password(app)
    fill(app, CSV_ALBUMS)
    return app


# --- /sync --------------------------------------------------------------------------


def test_sync_without_an_account_shows_how_to_connect_one_and_no_sync(csv_app: Flask):
    page = text(logged_in(csv_app).get("/sync"))
    assert "No Discogs account is connected yet" in page
    assert re.search(r'<a class="button button--primary" href="/setup">Connect a Discogs account</a>', page)
    assert "Sync now" not in page and 'action="/sync"' not in page
    assert "synced from Discogs every day" not in page and "progressbar" not in page
    assert NOTE in page and "on the set-up page (the button below)" in page
    guest = text(csv_app.test_client().get("/sync"))
    assert "Sign in as the owner" in guest and "Connect a Discogs account" not in guest


def test_sync_with_an_account_offers_sync_now_and_says_how_often(make_page_app: Callable[..., Flask]):
    app = make_page_app(DISCOGS_USERNAME=USERNAME, DISCOGS_TOKEN=TOKEN, SYNC_INTERVAL_HOURS=24)
    set_owner_password(app)
    page = text(logged_in(app).get("/sync"))
    assert "Sync now" in page and "synced from Discogs every day" in page
    assert "No Discogs account" not in page and "placeholder covers" not in page
    off = make_page_app(DISCOGS_USERNAME=USERNAME, DISCOGS_TOKEN=TOKEN, SYNC_INTERVAL_HOURS=0)
    assert "Automatic syncing is off" in text(logged_in(off).get("/sync"))


# --- /setup and its flash ------------------------------------------------------------


def test_setup_says_what_a_csv_only_owner_has_and_how_covers_come(csv_app: Flask):
    owner = logged_in(csv_app)
    page = text(owner.get("/setup"))
    assert NOTE in page and "personal access token below: their covers then arrive by themselves" in page
    data = {"csrf_token": form_csrf(owner, "/setup"), "discogs_username": "", "discogs_token": ""}
    response = owner.post("/setup", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert f"Discogs account saved. {NOTE}" in text(response)
    assert "flask covers" not in text(response)


def test_first_run_says_what_skipping_discogs_means(make_page_app: Callable[..., Flask]):
    page = text(make_page_app().test_client().get("/setup"))
    assert "You can skip this: a collection imported from a Discogs CSV export shows placeholder covers" in page


def test_saving_a_token_says_the_covers_now_come_in_the_background(
    make_page_app: Callable[..., Flask], fake_discogs: FakeDiscogs
):
    app = make_page_app(DISCOGS_API_URL=fake_discogs.url)
    fill(app, CSV_ALBUMS)
    client = app.test_client()
    response = post_setup(client, discogs_token=TOKEN)
    assert response.status_code == 303
    page = text(client.get("/"))
    assert (
        "Set-up saved. Covers for your 2 albums from the CSV file now arrive by themselves, in the background."
    ) in page
    assert NOTE not in text(client.get("/setup"))


# --- the command line -----------------------------------------------------------------


def test_import_csv_without_a_token_says_what_comes_and_how(csv_app: Flask, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("Artist,Title,release_id\nArtist 9,Title 9,1009\n", encoding="utf-8")
    result = csv_app.test_cli_runner().invoke(args=["import-csv", str(export)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "Imported 1, updated 0, skipped 0."
    assert lines[1].startswith("3 albums from your CSV file have placeholder covers for now.")
    assert "on the set-up page (/setup)" in lines[1] and "flask covers" not in result.output


def test_covers_without_a_token_is_one_line_and_exits_non_zero(csv_app: Flask):
    result = csv_app.test_cli_runner().invoke(args=["covers"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "Error: No Discogs token yet, so there is nowhere to fetch covers from. Add your Discogs username and "
        "personal access token on the set-up page (/setup): covers then arrive by themselves, in the background."
    ]


# --- /stats ----------------------------------------------------------------------------


def test_stats_without_genres_says_so_instead_of_a_blank_card(csv_app: Flask):
    page = text(logged_in(csv_app).get("/stats"))
    genre_card = re.search(r"<h2>By genre</h2>(.*?)</section>", page, re.S).group(1)
    assert "<svg" not in genre_card
    assert "No genres known for these albums yet" in genre_card
    assert "No release years known" in re.search(r"<h2>By decade</h2>(.*?)</section>", page, re.S).group(1)


def test_stats_shows_the_last_clean_up_as_a_date_not_a_number(csv_app: Flask):
    cache = csv_app.extensions["image_cache"]
    cache.cleanup_cache(30)
    last = cache.get_cache_stats()["last_cleanup"]
    page = text(logged_in(csv_app).get("/stats"))
    shown = re.search(r"<dt>Last clean-up</dt><dd>(.*?)</dd>", page).group(1)
    assert shown == f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(last))} (just now)"
    assert str(last)[:8] not in page
