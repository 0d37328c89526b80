"""Spin the crates favouring what has not been played for a while."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timezone

from flask import Flask
from flask.testing import FlaskClient

from vinylvault import db
from vinylvault.library import collection
from vinylvault.listening import spins

NOW = datetime(2026, 12, 3, tzinfo=timezone.utc).timestamp()


def _played(app: Flask, album_id: int, iso: str | None) -> None:
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            conn.execute("UPDATE albums SET last_played = ? WHERE id = ?", (iso, album_id))


def test_never_played_records_come_up_most_and_this_months_never(spin_app: Flask):
    _played(spin_app, 11, "2026-11-30T10:00:00+00:00")  # this month: out while others wait
    _played(spin_app, 12, "2025-01-01T10:00:00+00:00")  # nearly two years: weight 6
    _played(spin_app, 14, "2026-08-01T10:00:00+00:00")  # four months: weight 2
    rng = random.Random(7)
    with spin_app.app_context():
        conn = db.get_db()
        picks = Counter(spins.unplayed_pick(conn, NOW, rng).id for _ in range(1600))
    assert 11 not in picks
    # -13 never played (8) : 12 (6) : 14 (2), out of 16.
    assert 700 < picks[-13] < 900 and 500 < picks[12] < 700 and 130 < picks[14] < 270


def test_when_everything_was_played_this_month_any_record_comes_up(spin_app: Flask):
    for album_id in (11, 12, -13, 14):
        _played(spin_app, album_id, "2026-12-01T10:00:00+00:00")
    with spin_app.app_context():
        assert spins.unplayed_pick(db.get_db(), NOW, random.Random(1)).id in {11, 12, -13, 14}


def test_the_random_page_offers_it(owner: FlaskClient, spin_app: Flask):
    assert "favour=unplayed" in owner.get("/spin").get_data(as_text=True)
    _played(spin_app, 11, None)
    response = owner.get("/random?favour=unplayed")
    assert response.status_code == 302 and "/album/" in response.headers["Location"]
