"""Spinning a record: sides from the tracklist, the side on the turntable, play history and its statistics.

The turntable is server state (the ``spins`` table): one side at most is
``playing``, so the Pi screen and a phone show, flip and stop the same
record. Where the needle is comes from arithmetic, never from a client: the
side's tracks and their durations from ``started_at`` to *now*. Every
function that depends on the time takes ``now`` (Unix seconds), so tests and
the background tick move the clock without sleeping.

For other screens (the kiosk's attract mode) :func:`current` answers "what
is spinning" in one indexed read: a :class:`Spin` or ``None``.

No Flask here: the CLI, the background tick and the pages share it.
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from cache_engine.sqlite import write_transaction
from vinylvault.library import collection
from vinylvault.library.collection import Track

#: A vinyl/cassette position: side letters, then an optional track number ("A1", "B", "AA2", "C3a").
_SIDE_POSITION = re.compile(r"^([A-Za-z]{1,2})(\d.*)?$")
#: A CD-style position: disc, separator, track ("1-1", "2.03", "CD1-2").
_DISC_POSITION = re.compile(r"^(?:CD|DVD|Disc)?\s*(\d+)\s*[-.]\s*\d+", re.IGNORECASE)
_DURATION = re.compile(r"^(?:(\d+):)?(\d{1,3}):(\d{2})$")


class SpinError(ValueError):
    """A spin request that cannot be carried out (no such album or side); the message is for people."""


@dataclass(frozen=True)
class SideTrack:
    position: str
    title: str
    seconds: int
    #: False when Discogs gave no duration and ``seconds`` is the assumed length.
    known: bool


@dataclass(frozen=True)
class Side:
    #: 'A', 'B', 'Disc 1'; '' when the record has one unnamed side.
    name: str
    tracks: tuple[SideTrack, ...]

    @property
    def label(self) -> str:
        """How people call it: "Side A", "Disc 2", "The record"."""
        if not self.name:
            return "The record"
        return self.name if self.name.startswith("Disc") else f"Side {self.name}"

    @property
    def seconds(self) -> int:
        return sum(track.seconds for track in self.tracks)


@dataclass(frozen=True)
class Spin:
    """One side put on the turntable (a row of ``spins``)."""

    id: int
    album_id: int
    side: str
    side_index: int
    started_at: float
    ended_at: float | None
    state: str


@dataclass(frozen=True)
class Needle:
    """Where the needle is on a side at a given time."""

    #: Index into the side's tracks, ``None`` before the first or after the last (or no tracks).
    track_index: int | None
    #: Seconds since the current track started.
    track_elapsed: float
    #: Seconds until the side ends (0 once it has).
    left: float
    #: True once the side has played to its end: time to flip.
    over: bool


def parse_duration(text: str) -> int | None:
    """``'3:45'`` → 225, ``'1:02:03'`` → 3723; ``None`` for an empty or unreadable duration."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)


def side_name(position: str) -> str | None:
    """The side a tracklist position belongs to: 'A' for 'A1', 'Disc 2' for '2-3'; ``None`` when it names none."""
    position = position.strip()
    disc = _DISC_POSITION.match(position)
    if disc:
        return f"Disc {int(disc.group(1))}"
    side = _SIDE_POSITION.match(position)
    if side:
        return side.group(1).upper()
    return None


def sides_of(tracklist: Sequence[Track], unknown_seconds: int) -> list[Side]:
    """The record's sides in playing order, from its tracklist.

    Headings are not tracks. An index track (a suite whose parts Discogs
    lists under it) plays as one track. A track whose position names no side
    (``'1'``, ``''``) stays on the side before it, so a CD numbered 1..12 is
    one side. Without a tracklist the record has one side and no tracks.
    """
    order: list[str] = []
    tracks: dict[str, list[SideTrack]] = {}
    current = ""
    for track in tracklist:
        if track.type == "heading":
            continue
        name = side_name(track.position)
        if name is not None:
            current = name
        if current not in tracks:
            order.append(current)
            tracks[current] = []
        seconds = parse_duration(track.duration)
        tracks[current].append(SideTrack(track.position, track.title, seconds or unknown_seconds, seconds is not None))
    if not order:
        return [Side("", ())]
    return [Side(name, tuple(tracks[name])) for name in order]


def album_sides(conn: sqlite3.Connection, album: collection.Album, unknown_seconds: int) -> list[Side]:
    """:func:`sides_of` the album's stored tracklist (one empty side when none is stored)."""
    details = collection.get_release_details(conn, album.release_id) if album.release_id else None
    return sides_of(details.tracklist if details else [], unknown_seconds)


def needle(side: Side, started_at: float, now: float) -> Needle:
    """Where the needle is on ``side`` ``now``, estimated from the durations since ``started_at``."""
    elapsed = max(0.0, now - started_at)
    total = side.seconds
    if elapsed >= total:
        return Needle(None, 0.0, 0.0, bool(side.tracks))
    offset = 0.0
    for index, track in enumerate(side.tracks):
        if elapsed < offset + track.seconds:
            return Needle(index, elapsed - offset, total - elapsed, False)
        offset += track.seconds
    return Needle(None, 0.0, 0.0, True)  # unreachable: elapsed < total


def track_starts(side: Side, started_at: float) -> list[float]:
    """When each of the side's tracks starts (Unix seconds)."""
    starts, offset = [], started_at
    for track in side.tracks:
        starts.append(offset)
        offset += track.seconds
    return starts


# --- The turntable ----------------------------------------------------------------

_SPIN_COLUMNS = "id, album_id, side, side_index, started_at, ended_at, state"


def _spin(row: sqlite3.Row | tuple | None) -> Spin | None:
    return Spin(*row) if row is not None else None


def current(conn: sqlite3.Connection) -> Spin | None:
    """The side on the turntable now, or ``None``. One indexed read; safe on every page."""
    return _spin(conn.execute(f"SELECT {_SPIN_COLUMNS} FROM spins WHERE state = 'playing'").fetchone())


def get_spin(conn: sqlite3.Connection, spin_id: int) -> Spin | None:
    return _spin(conn.execute(f"SELECT {_SPIN_COLUMNS} FROM spins WHERE id = ?", (spin_id,)).fetchone())


def _close(conn: sqlite3.Connection, spin: Spin, side_seconds: int, now: float) -> None:
    """End ``spin``: 'ended' when its side had played through (or had no tracks to time), else 'abandoned'."""
    played_through = side_seconds == 0 or now >= spin.started_at + side_seconds
    conn.execute(
        "UPDATE spins SET state = ?, ended_at = ? WHERE id = ? AND state = 'playing'",
        ("ended" if played_through else "abandoned", now, spin.id),
    )


def _side_seconds(conn: sqlite3.Connection, spin: Spin, unknown_seconds: int) -> int:
    album = collection.get_album(conn, spin.album_id)
    if album is None:
        return 0
    sides = album_sides(conn, album, unknown_seconds)
    return sides[spin.side_index].seconds if spin.side_index < len(sides) else 0


def start(
    conn: sqlite3.Connection,
    album_id: int,
    side_index: int,
    now: float,
    unknown_seconds: int,
    *,
    count_play: bool = True,
) -> Spin:
    """Put side ``side_index`` of the album on the turntable, taking off whatever was there.

    ``count_play`` also counts a play of the album (its play count and "last
    played"); flipping to the next side does not count another.
    """
    album = collection.get_album(conn, album_id)
    if album is None:
        raise SpinError("There is no album with this number in the collection.")
    sides = album_sides(conn, album, unknown_seconds)
    if not 0 <= side_index < len(sides):
        raise SpinError(f"This record has {len(sides)} side{'s' if len(sides) != 1 else ''}.")
    with write_transaction(conn):
        playing = current(conn)
        if playing is not None:
            _close(conn, playing, _side_seconds(conn, playing, unknown_seconds), now)
        spin_id = conn.execute(
            "INSERT INTO spins (album_id, side, side_index, started_at) VALUES (?, ?, ?, ?)",
            (album_id, sides[side_index].name, side_index, now),
        ).lastrowid
        if count_play:
            played_at = datetime.fromtimestamp(now, timezone.utc).replace(microsecond=0).isoformat()
            conn.execute(
                "UPDATE albums SET play_count = play_count + 1, last_played = ? WHERE id = ?", (played_at, album_id)
            )
            conn.execute("INSERT INTO plays (album_id, played_at) VALUES (?, ?)", (album_id, played_at))
    return get_spin(conn, spin_id)  # type: ignore[return-value]


def flip(conn: sqlite3.Connection, now: float, unknown_seconds: int) -> Spin | None:
    """Take the side off and put the next one on; ``None`` when that was the last side (the record is done)."""
    playing = current(conn)
    if playing is None:
        raise SpinError("Nothing is on the turntable.")
    album = collection.get_album(conn, playing.album_id)
    sides = album_sides(conn, album, unknown_seconds) if album else []
    if playing.side_index + 1 < len(sides):
        return start(conn, playing.album_id, playing.side_index + 1, now, unknown_seconds, count_play=False)
    stop(conn, now, unknown_seconds)
    return None


def stop(conn: sqlite3.Connection, now: float, unknown_seconds: int) -> Spin | None:
    """Lift the needle: the side ends ('ended' if it had played through, else 'abandoned'). Returns it."""
    with write_transaction(conn):
        playing = current(conn)
        if playing is None:
            return None
        _close(conn, playing, _side_seconds(conn, playing, unknown_seconds), now)
    return get_spin(conn, playing.id)


def close_forgotten(conn: sqlite3.Connection, now: float, unknown_seconds: int, grace_seconds: float) -> bool:
    """Close a side left on the turntable ``grace_seconds`` past its end (ended at its end); True if one was."""
    playing = current(conn)
    if playing is None:
        return False
    seconds = _side_seconds(conn, playing, unknown_seconds)
    if seconds == 0 or now < playing.started_at + seconds + grace_seconds:
        return False
    with write_transaction(conn):
        changed = conn.execute(
            "UPDATE spins SET state = 'ended', ended_at = ? WHERE id = ? AND state = 'playing'",
            (playing.started_at + seconds, playing.id),
        ).rowcount
    return bool(changed)


# --- History and statistics --------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    spin: Spin
    album: collection.Album


#: A month filter: '2026-12'.
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_HISTORY_PAGE = 100


def month_bounds(month: str) -> tuple[float, float]:
    """``'2026-12'`` → the month's first and next month's first second (UTC); :class:`InvalidQuery` otherwise."""
    match = _MONTH.match(month)
    if not match:
        raise collection.InvalidQuery("month", "must look like 2026-12")
    year, number = int(match.group(1)), int(match.group(2))
    first = datetime(year, number, 1, tzinfo=timezone.utc)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)
    return first.timestamp(), following.timestamp()


def history(
    conn: sqlite3.Connection,
    *,
    album_id: int | None = None,
    artist: str = "",
    month: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[HistoryRow], int]:
    """``(rows, total)``: spins newest first, filtered by album, artist (as shown, case-insensitive) and month."""
    where, args = ["1"], []
    if album_id is not None:
        where.append("s.album_id = ?")
        args.append(album_id)
    if artist:
        where.append("a.artist = ? COLLATE NOCASE")
        args.append(artist)
    if month:
        where.append("s.started_at >= ? AND s.started_at < ?")
        args.extend(month_bounds(month))
    clause = " AND ".join(where)
    total = conn.execute(
        f"SELECT count(*) FROM spins AS s JOIN albums AS a ON a.id = s.album_id WHERE {clause}", args
    ).fetchone()[0]
    rows = conn.execute(
        f"SELECT s.id, s.album_id, s.side, s.side_index, s.started_at, s.ended_at, s.state FROM spins AS s "
        f"JOIN albums AS a ON a.id = s.album_id WHERE {clause} ORDER BY s.started_at DESC, s.id DESC "
        "LIMIT ? OFFSET ?",
        (*args, min(limit, MAX_HISTORY_PAGE), offset),
    ).fetchall()
    albums = {album_id: collection.get_album(conn, album_id) for album_id in {row[1] for row in rows}}
    return [HistoryRow(Spin(*row), albums[row[1]]) for row in rows if albums[row[1]] is not None], total


#: An album played more recently than this is no dust collector.
DUST_AFTER_DAYS = 90


@dataclass(frozen=True)
class SpinStats:
    #: (month 'YYYY-MM', spins), the last 12 months, oldest first, months without spins included.
    per_month: list[tuple[str, int]]
    #: (album, spins), most spun first.
    top_albums: list[tuple[collection.Album, int]]
    #: (artist, spins), most spun first.
    top_artists: list[tuple[str, int]]
    #: Owned albums never played, then the longest unplayed (none played in the last DUST_AFTER_DAYS).
    dust: list[collection.Album]
    played_this_year: int
    owned: int


def _months_back(now: float, count: int) -> list[str]:
    moment = datetime.fromtimestamp(now, timezone.utc)
    year, month, months = moment.year, moment.month, []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def spin_stats(conn: sqlite3.Connection, now: float, *, top: int = 5, dust: int = 6) -> SpinStats:
    """Spins per month, most spun albums and artists, dust collectors, the share of the collection played this year.

    The charts count sides spun (a record played through both sides counts
    two); "played this year" counts albums with at least one side spun.
    """
    months = _months_back(now, 12)
    first = month_bounds(months[0])[0]
    counts = dict(
        conn.execute(
            "SELECT strftime('%Y-%m', started_at, 'unixepoch'), count(*) FROM spins WHERE started_at >= ? GROUP BY 1",
            (first,),
        ).fetchall()
    )
    top_albums = [
        (collection.get_album(conn, album_id), spins)
        for album_id, spins in conn.execute(
            "SELECT album_id, count(*) AS n FROM spins GROUP BY album_id ORDER BY n DESC, max(started_at) DESC LIMIT ?",
            (top,),
        )
    ]
    top_artists = conn.execute(
        "SELECT a.artist, count(*) AS n FROM spins AS s JOIN albums AS a ON a.id = s.album_id "
        "GROUP BY a.artist COLLATE NOCASE ORDER BY n DESC, a.artist LIMIT ?",
        (top,),
    ).fetchall()
    recently = datetime.fromtimestamp(now - DUST_AFTER_DAYS * 86400, timezone.utc).isoformat()
    dust_ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM albums WHERE last_played IS NULL OR last_played < ? "
            "ORDER BY last_played IS NOT NULL, last_played, artist_sort, title_sort LIMIT ?",
            (recently, dust),
        )
    ]
    year_start = datetime(datetime.fromtimestamp(now, timezone.utc).year, 1, 1, tzinfo=timezone.utc).timestamp()
    played = conn.execute("SELECT count(DISTINCT album_id) FROM spins WHERE started_at >= ?", (year_start,)).fetchone()[
        0
    ]
    owned = conn.execute("SELECT count(*) FROM albums").fetchone()[0]
    return SpinStats(
        per_month=[(month, counts.get(month, 0)) for month in months],
        top_albums=[(album, spins) for album, spins in top_albums if album is not None],
        top_artists=[(artist, spins) for artist, spins in top_artists],
        dust=[album for album in (collection.get_album(conn, album_id) for album_id in dust_ids) if album],
        played_this_year=played,
        owned=owned,
    )


# --- "Something you haven't played for a while" --------------------------------------

#: (played no more recently than this many days ago, weight): never played weighs most; within a month, nothing.
UNPLAYED_WEIGHTS = ((None, 8), (365, 6), (180, 4), (90, 2), (30, 1))


def unplayed_pick(conn: sqlite3.Connection, now: float, rng: random.Random | None = None) -> collection.Album | None:
    """A random album favouring the least recently played; ``None`` if the collection is empty.

    Albums fall in buckets by how long ago they were last played
    (:data:`UNPLAYED_WEIGHTS`): a bucket is chosen in proportion to (albums
    in it) x (its weight), then an album in it uniformly, so a never-played
    record is eight times as likely as one last played two months ago, and
    one played this month comes up only when every record was. Two indexed
    counts and one offset read, never a read of every album.
    """
    rng = rng or random.SystemRandom()
    buckets = []
    for index, (_days, weight) in enumerate(UNPLAYED_WEIGHTS):
        where, args = _bucket_clause(index, now)
        count = conn.execute(f"SELECT count(*) FROM albums WHERE {where}", args).fetchone()[0]
        if count:
            buckets.append((where, args, count, weight))
    if not buckets:
        total = conn.execute("SELECT count(*) FROM albums").fetchone()[0]
        if not total:
            return None
        buckets = [("1", [], total, 1)]
    where, args, count, _weight = rng.choices(buckets, weights=[b[2] * b[3] for b in buckets])[0]
    row = conn.execute(
        f"SELECT id FROM albums WHERE {where} ORDER BY id LIMIT 1 OFFSET ?", [*args, rng.randrange(count)]
    ).fetchone()
    return collection.get_album(conn, row[0])


def _bucket_clause(index: int, now: float) -> tuple[str, list[str]]:
    """The SQL condition of bucket ``index`` of :data:`UNPLAYED_WEIGHTS` (ISO strings compare as times)."""

    def iso(days: int) -> str:
        return datetime.fromtimestamp(now - days * 86400, timezone.utc).replace(microsecond=0).isoformat()

    days = UNPLAYED_WEIGHTS[index][0]
    if days is None:
        return "last_played IS NULL", []
    newer = UNPLAYED_WEIGHTS[index - 1][0]
    if newer is None:
        return "last_played < ?", [iso(days)]
    return "last_played < ? AND last_played >= ?", [iso(days), iso(newer)]
