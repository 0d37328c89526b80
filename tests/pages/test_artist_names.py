"""Artists show as people write them: Discogs' disambiguation number "(2)" never reaches a page."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.albums import COVER_BASE, album, fill
from tests.support.owner import logged_in
from vinylvault import db
from vinylvault.covers.tags import artist_name
from vinylvault.library import collection

NUMBERED = album(
    21,
    "Nadja Orsk (2)",
    "Tectonic",
    source="discogs",
    release_id=5550021,
    year=2014,
    genres=["Rock"],
    format_names=["Vinyl"],
    formats=["Vinyl, LP"],
    date_added="2024-01-01T00:00:00",
    cover_url=f"{COVER_BASE}/tectonic.jpg",
)


@pytest.mark.parametrize(
    "stored,shown",
    [
        ("Nadja Orsk (2)", "Nadja Orsk"),
        ("Kalimba Sun", "Kalimba Sun"),
        ("Mira Kestrel (12) & Ola Fenwick (3)", "Mira Kestrel & Ola Fenwick"),
        ("Band (3), Other Band", "Band, Other Band"),
        ("Sunn O)))", "Sunn O)))"),
        ("(2)", "(2)"),
        ("", ""),
        (None, ""),
    ],
)
def test_artist_name_drops_only_the_disambiguation_number(stored, shown):
    assert artist_name(stored) == shown


@pytest.mark.parametrize("path", ["/", "/search?q=tectonic", "/album/21", "/now-playing/21", "/stats"])
def test_pages_show_the_artist_without_its_number(small_app: Flask, path):
    fill(small_app, [NUMBERED])
    client = logged_in(small_app)
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nadja Orsk" in html
    assert "Nadja Orsk (2)" not in html


def test_the_stored_name_keeps_its_number(small_app: Flask):
    fill(small_app, [NUMBERED])
    small_app.test_client().get("/album/21")
    with small_app.app_context():
        assert collection.get_album(db.get_db(), 21).artist == "Nadja Orsk (2)"
