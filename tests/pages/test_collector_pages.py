"""The wantlist page, pressings, shelf and value pages, rendered by the real app over real SQLite."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.albums import album, fill
from tests.support.owner import form_csrf, logged_in
from vinylvault import db
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, WantRecord


def pressing(album_id: int, release_id: int, **fields) -> AlbumRecord:
    """A copy of one of Can's Tago Mago pressings (master 90)."""
    return album(album_id, "Can", "Tago Mago", source="discogs", release_id=release_id, master_id=90, **fields)


PRESSINGS = [
    pressing(31, 700, year=1971, media_condition="Mint (M)", custom_fields={"Shelf": "A3-12"}),
    pressing(32, 701, year=2004, formats=["Vinyl, LP, Album, Reissue"]),
    pressing(33, 701, year=2004),
]
WANTS = [
    WantRecord(
        id=800,
        release_id=800,
        master_id=90,
        artist="Can",
        title="Tago Mago (UFO pressing)",
        year=1971,
        notes="Only with the poster",
        genres=["Rock"],
    ),
    WantRecord(id=801, release_id=801, artist="Cluster", title="Zuckerzeit", genres=["Electronic"]),
]


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def app(small_app: Flask) -> Flask:
    fill(small_app, PRESSINGS + WANTS)
    with small_app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            collection.save_value_snapshot(
                conn, {"minimum": "€1,234.56", "median": "€2,000.00", "maximum": "€3,210.99"}
            )
            collection.save_value_snapshot(conn, {"minimum": "£1,234", "median": "£1,500", "maximum": "£2,000"})
    return small_app


@pytest.fixture
def owner_client(app: Flask) -> FlaskClient:
    return logged_in(app)


def save_settings(client: FlaskClient, **form: str) -> int:
    return client.post("/sync/collector-settings", data={"csrf_token": form_csrf(client, "/sync"), **form}).status_code


def test_a_private_wantlist_is_the_owners_only(app: Flask, owner_client: FlaskClient):
    guest = app.test_client()
    assert guest.get("/wants").status_code == 404
    page = owner_client.get("/wants")
    assert page.status_code == 200
    assert "Tago Mago (UFO pressing)" in html(page) and "Only with the poster" in html(page)
    assert 'href="https://www.discogs.com/release/800"' in html(page)


def test_the_owner_makes_the_wantlist_public_and_guests_see_it_without_notes(app, owner_client):
    assert save_settings(owner_client, wants_public="1") == 303
    guest = app.test_client()
    page = guest.get("/wants?genre=Electronic")
    assert page.status_code == 200
    assert "Zuckerzeit" in html(page) and "Tago Mago" not in html(page)
    assert "Only with the poster" not in html(guest.get("/wants"))
    assert save_settings(owner_client) == 303  # unchecked: private again
    assert guest.get("/wants").status_code == 404


def test_settings_need_the_owner_and_the_csrf_token(app, owner_client):
    guest = app.test_client()
    assert guest.post("/sync/collector-settings", data={"wants_public": "1"}).status_code == 302
    assert owner_client.post("/sync/collector-settings", data={"wants_public": "1"}).status_code == 403
    assert save_settings(owner_client, shelf_field="x" * 101) == 400
    with app.app_context():
        assert collection.get_setting(db.get_db(), collection.WANTS_PUBLIC_KEY) is None


def test_the_album_page_lists_other_pressings_wanted_ones_and_the_shelf(app, owner_client):
    assert save_settings(owner_client, shelf_field="Shelf") == 303
    page = html(owner_client.get("/album/31"))
    pressings = page.split("Other pressings you own", 1)[1].split("</section>", 1)[0]
    assert re.findall(r'href="/album/(\d+)"', pressings) == ["32", "33"]
    assert "another copy of this pressing" not in pressings  # 32 and 33 are another release than 31
    assert "You also want" in page and "Tago Mago (UFO pressing)" in page
    assert re.search(r"Where it is:</strong> A3-12", page)
    guest_page = html(app.test_client().get("/album/31"))
    assert "Other pressings you own" in guest_page and "You also want" not in guest_page  # wantlist private


def test_grid_filters_duplicates_conditions_shelf_and_grouping(app, owner_client):
    guest = app.test_client()
    assert "A3-12" not in html(guest.get("/"))
    duplicates = html(guest.get("/?duplicates=1"))
    assert ">Owned more than once</a>" in duplicates
    assert ">Record condition: Mint (M)</a>" in html(guest.get("/?media=Mint+(M)"))
    assert 'href="/album/32' in duplicates and 'href="/album/33' in duplicates and 'href="/album/31' not in duplicates
    assert 'href="/album/31' in html(guest.get("/?media=Mint+(M)"))
    assert guest.get("/?shelf=A3").status_code == 400  # no shelf field chosen yet
    assert save_settings(owner_client, shelf_field="Shelf") == 303
    shelf = html(guest.get("/?shelf=A3"))
    assert 'href="/album/31' in shelf and "1 album match" in shelf
    grouped = html(guest.get("/?group=master"))
    assert "2 pressings, 3 copies" in grouped and 'href="/album/32' not in grouped
    assert guest.get("/?group=label").status_code == 400


def test_stats_chart_the_value_for_the_owner_only_and_say_why_a_point_is_left_out(app, owner_client):
    page = html(owner_client.get("/stats"))
    assert 'id="chart-value"' in page and "€2,000.00" in page
    assert "£1,500" in page and "Not charted:" in page and "thousands or decimals" in page
    assert "Value over time" not in html(app.test_client().get("/stats"))


def test_line_chart_shows_money_as_written_and_keeps_end_labels_inside():
    from vinylvault.site.charts import ChartError, line_chart

    chart = str(
        line_chart(
            [("2026-01-01", 1180.0), ("2026-02-01", 1234.56)],
            chart_id="v",
            title="Value",
            value_labels=["€1.180,00", "€1.234,56"],
        )
    )
    assert "2026-01-01: €1.180,00; 2026-02-01: €1.234,56" in chart
    assert 'text-anchor="end">€1.234,56</text>' in chart  # the peak is the last point
    with pytest.raises(ChartError):
        line_chart([("a", 1.0)], chart_id="v", title="Value", value_labels=[])


@pytest.mark.parametrize("query", ["after=not-a-cursor", "decade=1975", "sort=price", "q=" + "x" * 201])
def test_bad_wantlist_parameters_answer_400(owner_client: FlaskClient, query: str):
    response = owner_client.get(f"/wants?{query}")
    assert response.status_code == 400 and "Traceback" not in html(response)


@pytest.mark.parametrize("query", ["duplicates=yes", "group=label", "media=" + "x" * 201])
def test_bad_grid_filters_answer_400(app: Flask, query: str):
    assert app.test_client().get(f"/?{query}").status_code == 400
