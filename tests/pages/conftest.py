"""Fixtures for the page tests: real apps on temporary DATA_DIRs, filled four ways.

``empty``: no albums. ``demo``: the demo collection, covers drawn locally.
``small``: a handful of hand-made albums covering every field the pages show
(Discogs, CSV and demo sources). ``big``: 10,000 synthetic albums
(:func:`vinylvault.library.demo.make_synthetic_collection`), built once per session
and copied for each test that uses it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import app_factory
from vinylvault import create_app, db
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.library import demo
from vinylvault import lifecycle
from vinylvault.library.collection import AlbumRecord, Label

PASSWORD = "correct horse battery"
#: Covers point at a closed loopback port: registering them is real, fetching fails fast.
COVER_BASE = "http://127.0.0.1:9/covers"

BASE_SETTINGS: dict[str, Any] = {
    "TESTING": True,
    "ALLOW_PRIVATE_SOURCES": True,
    # Synthetic covers name i.discogs.com: refused before any DNS look-up.
    "SOURCE_HOST_ALLOWLIST": ("127.0.0.1",),
    "FETCH_RETRIES": 0,
    "HOST_MIN_INTERVAL_SECONDS": 0,
    "ON_DEMAND_WAIT_SECONDS": 0,
    "DEMO_WHEN_EMPTY": False,
    "SYNC_INTERVAL_HOURS": 0,
    "PAGE_SIZE": 24,
}

SMALL = [
    AlbumRecord(
        id=11,
        source="discogs",
        release_id=249504,
        artist="Miles Davis",
        title="Kind of Blue",
        year=1959,
        labels=[Label("Columbia", "CL 1355")],
        formats=["Vinyl, LP, Album, Mono"],
        format_names=["Vinyl"],
        genres=["Jazz"],
        styles=["Modal", "Cool Jazz"],
        folder="Jazz shelf",
        rating=5,
        date_added="2021-03-04T10:00:00",
        cover_url=f"{COVER_BASE}/kob.jpg",
        media_condition="Very Good Plus (VG+)",
        sleeve_condition="Good (G)",
        notes="Six-eye pressing.",
        custom_fields={"Originally from": "Record fair"},
        artists=[(None, "Miles Davis")],
    ),
    AlbumRecord(
        id=12,
        source="discogs",
        release_id=1873013,
        artist="Björk",
        title="Homogenic <live>",
        year=1997,
        labels=[Label("One Little Indian", "TPLP 71")],
        formats=["Vinyl, LP"],
        format_names=["Vinyl"],
        genres=["Electronic"],
        styles=["Trip Hop"],
        folder="Uncategorized",
        rating=3,
        date_added="2022-05-01T09:00:00",
        cover_url=f"{COVER_BASE}/homogenic.jpg",
        artists=[(None, "Björk")],
    ),
    AlbumRecord(
        id=-13,
        source="csv",
        release_id=0,
        artist="The Unknowns",
        title="No Cover",
        year=0,
        formats=["CD"],
        format_names=["CD"],
        genres=["Rock"],
        folder="Uncategorized",
        date_added="2020-01-01T00:00:00",
        artists=[(None, "The Unknowns")],
    ),
    AlbumRecord(
        id=14,
        source="demo",
        release_id=0,
        artist="Demo Band",
        title="Demo Record",
        year=1984,
        formats=["Vinyl, LP"],
        format_names=["Vinyl"],
        genres=["Rock"],
        styles=["Synth-pop"],
        rating=4,
        date_added="2023-02-02T00:00:00",
        cover_url=f"{COVER_BASE}/demo.jpg",
        artists=[(None, "Demo Band")],
    ),
]


def fill(app: Flask, records: list[AlbumRecord]) -> None:
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            for record in records:
                collection.save_album(conn, record)


def set_owner_password(app: Flask, password: str = PASSWORD) -> None:
    with app.app_context():
        auth.set_password(db.get_db(), password)


def form_csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token as a browser gets it: from a page's form."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client: FlaskClient) -> None:
    response = client.post("/login", data={"password": PASSWORD, "csrf_token": form_csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_app(**overrides)`` -> a fresh app on ``tmp_path/data`` (no owner yet), shut down after."""
    with app_factory(tmp_path / "data", BASE_SETTINGS) as factory:
        yield factory


@pytest.fixture
def empty_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app()
    set_owner_password(app)
    return app


@pytest.fixture
def small_app(empty_app: Flask) -> Flask:
    fill(empty_app, SMALL)
    return empty_app


@pytest.fixture(scope="session")
def demo_covers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's drawn cover files, drawn once per session (load_demo keeps existing ones)."""
    # No app here: a second app would replace (and close) the process-wide cover cache.
    data = tmp_path_factory.mktemp("demo")
    db.initialize(data / "scratch.db")
    conn = db.connect(data / "scratch.db")
    try:
        demo.load_demo(conn, data)
    finally:
        conn.close()
    return data / demo.DEMO_COVERS


@pytest.fixture
def demo_app(empty_app: Flask, demo_covers: Path) -> Flask:
    data = Path(empty_app.config["DATA_DIR"])
    shutil.copytree(demo_covers, data / demo.DEMO_COVERS)
    with empty_app.app_context():
        demo.load_demo(db.get_db(), data)
    return empty_app


@pytest.fixture(scope="session")
def big_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collection database with 10,000 albums and an owner, built once (without an app, as above)."""
    path = tmp_path_factory.mktemp("big") / "vinylvault.db"
    db.initialize(path)
    conn = db.connect(path)
    try:
        auth.set_password(conn, PASSWORD)
        demo.make_synthetic_collection(conn, 10_000)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path


@pytest.fixture
def big_app(tmp_path: Path, big_database: Path) -> Iterator[Flask]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(big_database, data / big_database.name)
    app = create_app({**BASE_SETTINGS, "DATA_DIR": data})
    yield app
    lifecycle.shutdown(app)


@pytest.fixture(params=["empty", "demo", "small", "big"])
def any_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """Each page test runs against an empty, the demo, a small and a 10,000-album collection."""
    yield request.getfixturevalue(f"{request.param}_app")


@pytest.fixture
def guest(small_app: Flask) -> FlaskClient:
    return small_app.test_client()


@pytest.fixture
def owner(small_app: Flask) -> FlaskClient:
    client = small_app.test_client()
    log_in(client)
    return client
