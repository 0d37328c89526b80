"""Import a Discogs collection export (CSV) into the collection.

Columns are found by header name, never position, because the columns after
``Date Added`` follow the owner's custom fields: ``Collection Media
Condition``, ``Collection Sleeve Condition`` and ``Collection Notes`` fill the
conditions and notes; any other ``Collection <field>`` column lands in the
album's custom fields. The file is read as a stream (UTF-8, optional BOM, LF
or CRLF), capped at :data:`MAX_BYTES`. A row that cannot be used is reported
with its line number and skipped; the rest are imported in one transaction.

Each row gets a stable negative id from its release id and how many earlier
rows of the file share that release (so two copies stay two copies), which
makes importing the same file again update rows instead of duplicating them.

An export has no image URLs: imported albums show placeholder covers until a
Discogs token lets the background cover pass take each cover from its
release. :func:`placeholder_note` says so to the owner, in the same words on
the command line, the set-up and the sync pages.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from cache_engine.sqlite import write_transaction
from cache_engine.units import plural
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, Label

MAX_BYTES = 20 * 1024 * 1024
REQUIRED_COLUMNS = ("Artist", "Title")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d")
_FORMAT_NAMES = {
    "lp": "Vinyl",
    '12"': "Vinyl",
    '10"': "Vinyl",
    '7"': "Vinyl",
    "vinyl": "Vinyl",
    "cd": "CD",
    "cdr": "CDr",
    "cass": "Cassette",
    "file": "File",
    "box": "Box Set",
    "dvd": "DVD",
    "sacd": "SACD",
    "flexi": "Flexi-disc",
    "shellac": "Shellac",
}
_QUANTITY = re.compile(r"^\d+\s*x\s*", re.IGNORECASE)
_KNOWN = {
    "Catalog#",
    "Artist",
    "Title",
    "Label",
    "Format",
    "Rating",
    "Released",
    "release_id",
    "CollectionFolder",
    "Date Added",
    "Collection Media Condition",
    "Collection Sleeve Condition",
    "Collection Notes",
}


#: Where the owner enters the Discogs account, for messages shown away from that page.
ON_THE_SETUP_PAGE = "on the set-up page (/setup)"


def albums_waiting_for_covers(conn: sqlite3.Connection) -> int:
    """CSV albums with no cover yet whose Discogs release can give them one (a token is all they need)."""
    return conn.execute(
        "SELECT count(*) FROM albums WHERE source = 'csv' AND cover_url = '' AND thumb_url = '' AND release_id > 0"
    ).fetchone()[0]


def placeholder_note(albums: int, where: str = ON_THE_SETUP_PAGE) -> str:
    """What an owner without a Discogs token has, and how the covers come later (``where``: the form)."""
    one = albums == 1
    return (
        f"{plural(albums, 'album')} from your CSV file {'has a placeholder cover' if one else 'have placeholder covers'}"
        f" for now. Add your Discogs username and personal access token {where}: "
        f"{'its cover then arrives by itself' if one else 'their covers then arrive by themselves'}, "
        "in the background."
    )


class CSVImportError(ValueError):
    """The file as a whole cannot be imported (too large, not UTF-8, no header); nothing was stored."""


class BadRow(ValueError):
    """One row cannot be imported; the message says why, in a few words."""


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


class _CappedReader(io.RawIOBase):
    """A binary stream that raises :class:`CSVImportError` past ``limit`` bytes."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self._raw.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise CSVImportError(f"file larger than {MAX_BYTES // (1024 * 1024)} MB")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _parse_int(value: str, column: str, low: int, high: int) -> int:
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise BadRow(f"{column} {value!r} is not a number") from None
    if not low <= number <= high:
        raise BadRow(f"{column} {value!r} is out of range")
    return number


def _parse_date(value: str) -> str:
    """'' or ISO 8601 (no zone) from either export date format."""
    if not value:
        return ""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).isoformat()
        except ValueError:
            continue
    raise BadRow(f"Date Added {value!r} is not YYYY-MM-DD HH:MM:SS or DD/MM/YYYY HH:MM")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _labels(names: str, catnos: str) -> list[Label]:
    """Pair label names with catalog numbers when the counts agree, else keep them apart."""
    label_list, catno_list = _split(names), _split(catnos)
    if len(label_list) == len(catno_list):
        return [Label(name, catno) for name, catno in zip(label_list, catno_list)]
    labels = [Label(name, "") for name in label_list]
    return labels + [Label("", catno) for catno in catno_list]


def _format_names(value: str) -> list[str]:
    """``"Box, Comp + 8xCass, RM"`` -> ``["Box Set", "Cassette"]``: the filterable format names."""
    names = []
    for part in value.split("+"):
        first = _QUANTITY.sub("", part.split(",")[0].strip())
        name = _FORMAT_NAMES.get(first.casefold(), first)
        if name and name not in names:
            names.append(name)
    return names


def _synthetic_id(release_id: int, artist: str, title: str, occurrence: int) -> int:
    key = str(release_id) if release_id else f"{collection.fold(artist)}\x1f{collection.fold(title)}"
    digest = hashlib.sha256(f"csv\x1f{key}\x1f{occurrence}".encode("utf-8")).digest()
    return -(int.from_bytes(digest[:7], "big") + 1)


def _record(row: dict[str, str], occurrences: dict[str, int]) -> AlbumRecord:
    artist, title = row.get("Artist", ""), row.get("Title", "")
    if not artist and not title:
        raise BadRow("no Artist and no Title")
    release_id = _parse_int(row.get("release_id", ""), "release_id", 0, 2**40)
    key = str(release_id) if release_id else f"{collection.fold(artist)}\x1f{collection.fold(title)}"
    occurrence = occurrences.get(key, 0)
    fmt = row.get("Format", "")
    custom = {
        name[len("Collection ") :]: value
        for name, value in row.items()
        if name.startswith("Collection ") and name not in _KNOWN and value
    }
    record = AlbumRecord(
        id=_synthetic_id(release_id, artist, title, occurrence),
        source="csv",
        release_id=release_id,
        artist=artist or "Unknown Artist",
        title=title or "Untitled",
        year=_parse_int(row.get("Released", ""), "Released", 0, 9999),
        labels=_labels(row.get("Label", ""), row.get("Catalog#", "")),
        formats=[fmt] if fmt else [],
        format_names=_format_names(fmt),
        folder=row.get("CollectionFolder", ""),
        rating=_parse_int(row.get("Rating", ""), "Rating", 0, 5),
        date_added=_parse_date(row.get("Date Added", "")),
        media_condition=row.get("Collection Media Condition", ""),
        sleeve_condition=row.get("Collection Sleeve Condition", ""),
        notes=row.get("Collection Notes", ""),
        custom_fields=custom,
        artists=[(None, name) for name in _split(artist)],
    )
    occurrences[key] = occurrence + 1  # only rows that were imported count as copies
    return record


def _rows(text: io.TextIOBase) -> Iterator[tuple[int, list[str] | None, str]]:
    """``(first line number, cells, '')`` per record, or ``(line, None, reason)`` for an unreadable one."""
    reader = csv.reader(text, strict=True)
    line = 1
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num + 1
            yield start, None, f"unreadable CSV ({exc})"
            continue
        line = reader.line_num + 1
        yield start, cells, ""


def _open(source: str | os.PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.stat().st_size > MAX_BYTES:
            raise CSVImportError(f"file larger than {MAX_BYTES // (1024 * 1024)} MB")
        return path.open("rb"), True
    return source, False


def import_csv(conn: sqlite3.Connection, source: str | os.PathLike[str] | BinaryIO) -> ImportReport:
    """Import a Discogs CSV export from a path or a binary file object.

    Returns what was imported, updated (same row imported before) and skipped
    (with line numbers and reasons). Raises :class:`CSVImportError` when the
    file cannot be used at all; then nothing is stored.
    """
    raw, owned = _open(source)
    try:
        text = io.TextIOWrapper(io.BufferedReader(_CappedReader(raw, MAX_BYTES)), encoding="utf-8-sig", newline="")
        try:
            with write_transaction(conn):
                return _import_rows(conn, _rows(text))
        except UnicodeDecodeError:
            raise CSVImportError("the file is not UTF-8 text") from None
    finally:
        if owned:
            raw.close()


def _import_rows(conn: sqlite3.Connection, rows: Iterator[tuple[int, list[str] | None, str]]) -> ImportReport:
    header_row = next(rows, None)
    if header_row is None or not header_row[1]:
        raise CSVImportError("the file is empty or has no header row")
    header = [name.strip() for name in header_row[1]]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CSVImportError(f"missing column(s): {', '.join(missing)} (is this a Discogs collection export?)")
    report = ImportReport()
    occurrences: dict[str, int] = {}
    for line, cells, problem in rows:
        if cells is not None and not any(cell.strip() for cell in cells):
            continue  # blank line
        try:
            if cells is None:
                raise BadRow(problem)
            if len(cells) != len(header):
                raise BadRow(f"expected {len(header)} columns, found {len(cells)}")
            record = _record({name: cell.strip() for name, cell in zip(header, cells)}, occurrences)
        except BadRow as exc:
            report.skipped.append((line, str(exc)))
            continue
        if collection.save_album(conn, record):
            report.imported += 1
        else:
            report.updated += 1
    return report
