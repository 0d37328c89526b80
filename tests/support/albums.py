"""Collections for tests: albums made in one line, the small hand-made collection, saving them.

:data:`SMALL` covers every field the pages show (Discogs, CSV and demo
sources, labels, conditions, custom fields, an album without a cover).
Covers point at :data:`COVER_BASE`, a closed loopback port: registering them
is real, fetching them fails at once.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from flask import Flask

from vinylvault import db
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, Label, WantRecord

COVER_BASE = "http://127.0.0.1:9/covers"


def album(
    album_id: int, artist: str = "Band", title: str | None = None, source: str = "csv", **fields: Any
) -> AlbumRecord:
    """A copy in the collection by ``artist`` (also its one credited artist, unless ``artists`` says
    otherwise), titled "Record <id>" unless ``title`` says otherwise."""
    fields.setdefault("artists", [(None, artist)])
    return AlbumRecord(
        id=album_id, source=source, artist=artist, title=f"Record {album_id}" if title is None else title, **fields
    )


def store(conn: sqlite3.Connection, records: Iterable[AlbumRecord | WantRecord]) -> None:
    """Save albums and wants in one write transaction, as a sync does."""
    with collection.write_transaction(conn):
        for record in records:
            if isinstance(record, WantRecord):
                collection.save_want(conn, record)
            else:
                collection.save_album(conn, record)


def fill(app: Flask, records: Iterable[AlbumRecord | WantRecord]) -> None:
    """Save albums and wants in the app's collection."""
    with app.app_context():
        store(db.get_db(), records)


SMALL = [
    album(
        11,
        "Miles Davis",
        "Kind of Blue",
        source="discogs",
        release_id=249504,
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
    ),
    album(
        12,
        "Björk",
        "Homogenic <live>",
        source="discogs",
        release_id=1873013,
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
    ),
    album(
        -13,
        "The Unknowns",
        "No Cover",
        formats=["CD"],
        format_names=["CD"],
        genres=["Rock"],
        folder="Uncategorized",
        date_added="2020-01-01T00:00:00",
    ),
    album(
        14,
        "Demo Band",
        "Demo Record",
        source="demo",
        year=1984,
        formats=["Vinyl, LP"],
        format_names=["Vinyl"],
        genres=["Rock"],
        styles=["Synth-pop"],
        rating=4,
        date_added="2023-02-02T00:00:00",
        cover_url=f"{COVER_BASE}/demo.jpg",
    ),
]
