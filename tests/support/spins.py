"""A record to spin: Kind of Blue's tracklist stored for the small collection, and the tests' clock."""

from __future__ import annotations

from flask import Flask

from tests.support.albums import SMALL, fill
from tests.support.owner import set_owner_password
from vinylvault import db
from vinylvault.library import collection
from vinylvault.library.collection import ReleaseDetails, Track

#: Kind of Blue as Discogs lists it: two sides, durations, a heading to skip.
KIND_OF_BLUE = [
    Track("", "Side One", "", "heading"),
    Track("A1", "So What", "9:22", "track"),
    Track("A2", "Freddie Freeloader", "9:46", "track"),
    Track("A3", "Blue In Green", "5:37", "track"),
    Track("B1", "All Blues", "11:33", "track"),
    Track("B2", "Flamenco Sketches", "9:26", "track"),
]
#: Kind of Blue in :data:`tests.support.albums.SMALL`: its album id and release id.
KOB_ID, KOB_RELEASE = 11, 249504


def store_tracklist(app: Flask, release_id: int, tracklist: list[Track]) -> None:
    with app.app_context():
        collection.save_release_details(
            db.get_db(),
            ReleaseDetails(
                release_id=release_id,
                country="US",
                released="1959",
                notes="",
                tracklist=tracklist,
                images=[],
                image_url="",
                fetched_at=collection.now_iso(),
            ),
        )


def ready_to_spin(app: Flask) -> Flask:
    """``app`` with an owner, the small collection and Kind of Blue's tracklist."""
    set_owner_password(app)
    fill(app, SMALL)
    store_tracklist(app, KOB_RELEASE, KIND_OF_BLUE)
    return app


def shift_spin(app: Flask, seconds: float) -> None:
    """Move the side on the turntable back in time by ``seconds`` (the clock of the tests)."""
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            conn.execute("UPDATE spins SET started_at = started_at - ? WHERE state = 'playing'", (seconds,))
