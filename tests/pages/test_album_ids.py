"""Every route that takes an album id takes the same ids: negative ones (demo, CSV) included."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound

from vinylvault.web.converters import AlbumIdConverter

CSV_ALBUM = -13  # SMALL's CSV copy (conftest)
#: The GET routes taking an album id, as an owner opens them for the CSV copy.
GET_ROUTES = [
    "/album/{id}",
    "/now-playing/{id}",
    "/api/album/{id}",
    "/api/images/album/{id}",
    "/api/albums/{id}/photos",
    "/api/albums/{id}/photos/stats",
]


def album_rules(app: Flask):
    return [rule for rule in app.url_map.iter_rules() if "album_id" in rule.arguments]


def test_every_album_route_uses_the_one_signed_converter(small_app: Flask):
    rules = album_rules(small_app)
    assert len(rules) >= len(GET_ROUTES)
    adapter = small_app.url_map.bind("localhost")
    for rule in rules:
        assert isinstance(rule._converters["album_id"], AlbumIdConverter), rule.rule
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        path = rule.rule.replace("<album_id:album_id>", str(CSV_ALBUM))
        assert adapter.match(path, method=method) == (rule.endpoint, {"album_id": CSV_ALBUM}), rule.rule
        # Beyond SQLite's INTEGER range no row can exist: no match (404/405), never an OverflowError.
        with pytest.raises((NotFound, MethodNotAllowed)):
            adapter.match(rule.rule.replace("<album_id:album_id>", str(2**63)), method=method)


@pytest.mark.parametrize("route", GET_ROUTES)
def test_a_negative_album_id_reaches_every_get_route(owner: FlaskClient, route: str):
    response = owner.get(route.format(id=CSV_ALBUM))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    if response.is_json:
        body = response.get_json()
        assert body.get("album_id", body.get("id", CSV_ALBUM)) == CSV_ALBUM
    else:
        assert "The Unknowns" in response.get_data(as_text=True)
    assert owner.get(route.format(id=-999)).status_code == 404
