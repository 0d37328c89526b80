"""What Discogs writes for "not known" never reaches the page; the first-run page offers no dead-end links."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.albums import album, fill
from tests.support.owner import logged_in
from vinylvault import db
from vinylvault.library import collection
from vinylvault.library.collection import Label


def text(response) -> str:
    return response.get_data(as_text=True)


def album_with(app: Flask, released: str, catno: str) -> FlaskClient:
    """A guest's client for album 31, released on ``released``, its only label's catalog number ``catno``."""
    record = album(
        31,
        "Unknown Pleasures Band",
        "Quiet Year",
        "discogs",
        release_id=5001,
        year=1999,
        labels=[Label("Factory", catno)],
    )
    fill(app, [record])
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            collection.save_release_details(
                conn, collection.ReleaseDetails(5001, "UK", released, "", [], [], "", "now")
            )
    return app.test_client()


def facts(html: str) -> dict[str, str]:
    """The album page's facts, name to plain text."""
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S)
    return {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in pairs}


@pytest.mark.parametrize(
    ("released", "shown"),
    [
        ("1999-03-00", "March 1999"),
        ("1999-00-00", "1999"),
        ("1999", "1999"),
        ("1999-03-15", "15 March 1999"),
        ("1999-02-31", "February 1999"),
        ("Spring 1999", "Spring 1999"),
    ],
)
def test_the_release_date_reads_as_people_write_it(empty_app: Flask, released: str, shown: str):
    response = album_with(empty_app, released, "FACT 10").get("/album/31")
    assert response.status_code == 200
    assert facts(text(response))["Released"] == f"{shown} · UK"


@pytest.mark.parametrize("catno", ["none", "None", " NONE "])
def test_a_catalog_number_discogs_records_as_none_is_not_shown(empty_app: Flask, catno: str):
    response = album_with(empty_app, "1999", catno).get("/album/31")
    assert response.status_code == 200
    assert facts(text(response))["Label"] == "Factory"


def test_a_real_catalog_number_is_still_shown(empty_app: Flask):
    response = album_with(empty_app, "1999", "FACT 10").get("/album/31")
    assert facts(text(response))["Label"] == "Factory – FACT 10"


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav" aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'<a [^>]*href="([^"]+)"', nav)


def test_the_first_run_page_shows_no_navigation_until_set_up(make_page_app: Callable[..., Flask]):
    response = make_page_app().test_client().get("/setup")
    assert response.status_code == 200
    links = nav_links(text(response))
    assert [link for link in links if not link.startswith("/theme/")] == [], links
    assert len(links) == 1, "the theme switch stays"


def test_the_discogs_account_page_keeps_the_navigation_once_set_up(empty_app: Flask):
    client = logged_in(empty_app)
    response = client.get("/setup")
    assert response.status_code == 200
    assert {"/", "/spin", "/search", "/stats", "/sync", "/admin"} <= set(nav_links(text(response)))
