"""The JSON collection API, /health and the flask CLI, on a real app (real SQLite, real cache folders)."""

from __future__ import annotations

import functools
from typing import Callable

import pytest
from flask import Flask

from vinylvault import db
from vinylvault.library import collection


@pytest.fixture
def make_app(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """The tests' app factory, with the demo allowed and Discogs unpaced."""
    return functools.partial(make_app, DEMO_WHEN_EMPTY=True, DISCOGS_MIN_INTERVAL_SECONDS=0)


def run(app: Flask, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_init_loads_the_demo_only_when_nothing_is_configured(app):
    result = run(app, "init")
    assert result.exit_code == 0 and "Loaded the demo collection (48 albums)" in result.output
    result = run(app, "init")
    assert "holds 48 albums" in result.output
    result = run(app, "remove-demo")
    assert result.exit_code == 0 and "Removed 48" in result.output


def test_init_does_not_load_the_demo_with_a_discogs_account(make_app):
    app = make_app(DISCOGS_USERNAME="me", DISCOGS_TOKEN="t")
    result = run(app, "init")
    assert "Discogs account 'me' configured" in result.output and "t" not in result.output.split("'me'")[1][:3]
    with app.app_context():
        assert collection.counts(db.get_db())["albums"] == 0


def test_demo_and_api_collection(app):
    assert "48 albums" in run(app, "demo").output
    client = app.test_client()
    body = client.get("/api/collection?sort=year&order=desc&limit=10").get_json()
    assert body["total"] == 48 and len(body["albums"]) == 10 and body["next_cursor"]
    years = [a["year"] for a in body["albums"]]
    assert years == sorted(years, reverse=True)
    rest = client.get(f"/api/collection?sort=year&order=desc&limit=100&after={body['next_cursor']}").get_json()
    assert len(rest["albums"]) == 38 and rest["next_cursor"] is None
    jazz = client.get("/api/collection?genre=jazz&decade=1960").get_json()
    assert jazz["total"] > 0 and all("Jazz" in a["genres"] for a in jazz["albums"])
    search = client.get("/api/collection?q=velvet").get_json()
    assert {a["artist"] for a in search["albums"]} >= {"The Velvet Orchards"}


@pytest.mark.parametrize(
    "query",
    [
        "sort=price",
        "order=sideways",
        "decade=1975",
        "limit=abc",
        "limit=0",
        "limit=100000",
        "offset=-3",
        "after=%%%",
        "q=" + "x" * 300,
    ],
)
def test_api_collection_bad_parameters_are_400_json(app, query):
    response = app.test_client().get(f"/api/collection?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_query" and body["detail"]


def test_api_album(app):
    run(app, "demo")
    client = app.test_client()
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            collection.save_album(
                conn, collection.AlbumRecord(id=7, source="discogs", release_id=42, artist="A", title="T")
            )
    body = client.get("/api/album/7").get_json()
    assert body["album"]["title"] == "T" and body["album"]["discogs_url"] == "https://www.discogs.com/release/42"
    assert body["details"] is None
    demo_album = client.get("/api/album/-1").get_json()  # demo (and CSV) copies have negative ids
    assert demo_album["album"]["is_demo"] and demo_album["details"]["tracklist"]
    missing = client.get("/api/album/123456")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_health_reports_database_cache_and_disk(app):
    response = app.test_client().get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["cache"]["ok"] and body["disk"]["free_mb"] > 0


def test_health_is_503_when_the_database_is_broken(app, monkeypatch):
    def broken(_conn):
        raise collection.sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(collection, "counts", broken)
    response = app.test_client().get("/health")
    assert response.status_code == 503 and response.get_json()["database"]["ok"] is False


def test_import_csv_command(app, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Artist,Title,Rating,release_id\nA,B,3,1\nC,D,9,2\n", encoding="utf-8")
    result = run(app, "import-csv", str(path))
    assert result.exit_code == 0 and "Imported 1, updated 0, skipped 1" in result.output
    assert "line 3: Rating" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"nothing useful\n")
    result = run(app, "import-csv", str(bad))
    assert result.exit_code != 0 and "missing column" in result.output


def test_sync_command_against_the_fake_discogs(make_app, fake):
    fake.items = [fake.make_item(i) for i in range(230)]
    app = make_app(DISCOGS_API_URL=fake.url, DISCOGS_USERNAME=fake.username, DISCOGS_TOKEN=fake.token)
    result = run(app, "sync")
    assert result.exit_code == 0, result.output
    assert "page 3/3: 230/230" in result.output and "230 added" in result.output
    assert fake.token not in result.output
    with app.app_context():
        assert collection.counts(db.get_db())["discogs"] == 230


def test_sync_command_without_account_fails_clearly(app):
    result = run(app, "sync")
    assert result.exit_code != 0 and "/setup" in result.output


def test_covers_command_fills_in_csv_covers_from_the_fake_discogs(make_app, fake, tmp_path):
    fake.items = [fake.make_item(i) for i in range(2)]
    path = tmp_path / "export.csv"
    path.write_text(f"Artist,Title,release_id\nA,B,{fake.items[0]['id']}\n", encoding="utf-8")
    without_token = make_app()
    result = run(without_token, "import-csv", str(path))
    assert result.exit_code == 0 and "placeholder cover for now" in result.output
    result = run(without_token, "covers")
    assert result.exit_code == 1 and "No Discogs token yet" in result.output
    app = make_app(DISCOGS_API_URL=fake.url, DISCOGS_TOKEN=fake.token, DISCOGS_MIN_INTERVAL_SECONDS=0)
    result = run(app, "covers")
    assert result.exit_code == 0 and "1 releases fetched, 0 left" in result.output, result.output
    with app.app_context():
        assert collection.all_cover_urls(db.get_db()) == [fake.url + "/image/R-1-1193812031.jpeg"]
