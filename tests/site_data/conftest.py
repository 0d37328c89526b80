"""Fixtures for the collection data layer: a migrated database, the fake Discogs API, an app."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

import config
from tests.support.fake_discogs import FakeDiscogs
from vinylvault import db
from vinylvault.library.discogs import DiscogsClient


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A freshly migrated collection database (real SQLite file, WAL)."""
    path = tmp_path / "vinylvault.db"
    db.initialize(path)
    connection = db.connect(path)
    yield connection
    connection.close()


@pytest.fixture
def fake(discogs_corpus_dir: Path) -> Iterator[FakeDiscogs]:
    """An empty fake Discogs API on 127.0.0.1; add items with ``fake.items = [...]``."""
    with FakeDiscogs(discogs_corpus_dir) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait a client asked for, recorded instead of slept (no timing in tests)."""
    return []


@pytest.fixture
def client(fake: FakeDiscogs, sleeps: list[float]) -> Iterator[DiscogsClient]:
    discogs = DiscogsClient(
        fake.url,
        fake.token,
        "VinylVaultTests/1.0 +http://127.0.0.1",
        min_interval=0.0,
        sleep=sleeps.append,
        max_retries=3,
    )
    yield discogs
    discogs.close()


@pytest.fixture
def settings(tmp_path: Path, fake: FakeDiscogs) -> config.Settings:
    return config.load(
        environ={},
        DATA_DIR=tmp_path / "data",
        DISCOGS_API_URL=fake.url,
        DISCOGS_MIN_INTERVAL_SECONDS=0.0,
        SYNC_INTERVAL_HOURS=0.0,
    )
