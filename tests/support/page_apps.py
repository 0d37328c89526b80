"""Apps for the page tests, filled four ways; a pytest plugin (tests/conftest.py registers it).

``empty_app``: no albums. ``demo_app``: the demo collection, covers drawn
locally. ``small_app``: :data:`tests.support.albums.SMALL`. ``big_app``:
10,000 synthetic albums (:func:`vinylvault.library.demo.make_synthetic_collection`),
built once per session and copied for each test that uses it. Each has an
owner whose password is :data:`tests.support.owner.PASSWORD`.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.albums import SMALL, fill
from tests.support.owner import PASSWORD, logged_in, set_owner_password
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import demo

#: On top of :data:`tests.support.apps.BASE_SETTINGS`: grid pages of 24, covers only from
#: loopback (the synthetic ones name i.discogs.com: refused before any DNS look-up), and a
#: page never waits for a cover.
PAGE_SETTINGS: dict[str, Any] = {
    "SOURCE_HOST_ALLOWLIST": ("127.0.0.1",),
    "ON_DEMAND_WAIT_SECONDS": 0,
    "PAGE_SIZE": 24,
}


@pytest.fixture
def make_page_app(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """``make_page_app(**overrides)`` -> a fresh app with :data:`PAGE_SETTINGS` (no owner yet)."""
    return functools.partial(make_app, **PAGE_SETTINGS)


@pytest.fixture
def empty_app(make_page_app: Callable[..., Flask]) -> Flask:
    app = make_page_app()
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
def big_app(tmp_path: Path, big_database: Path, make_page_app: Callable[..., Flask]) -> Flask:
    data = tmp_path / "big"
    data.mkdir()
    shutil.copy(big_database, data / big_database.name)
    return make_page_app(DATA_DIR=data)


@pytest.fixture(params=["empty", "demo", "small", "big"])
def any_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """Each page test runs against an empty, the demo, a small and a 10,000-album collection."""
    yield request.getfixturevalue(f"{request.param}_app")


@pytest.fixture
def guest(small_app: Flask) -> FlaskClient:
    return small_app.test_client()


@pytest.fixture
def owner(small_app: Flask) -> FlaskClient:
    return logged_in(small_app)
