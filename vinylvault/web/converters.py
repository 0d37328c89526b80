"""URL converters registered on the app, shared by every blueprint."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: SQLite's INTEGER range: a larger id cannot name a row, and binding it raises OverflowError.
SQLITE_MIN, SQLITE_MAX = -(2**63), 2**63 - 1


class SQLiteIntegerConverter(IntegerConverter):
    """``<int:...>`` limited to SQLite's 64-bit INTEGER range by default.

    A larger id cannot name a row, and binding it raises ``OverflowError`` in
    sqlite3; refusing it at routing time makes it a plain 404.
    """

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = SQLITE_MIN,
        max: int | None = SQLITE_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class AlbumIdConverter(IntegerConverter):
    """``<album_id:name>``: an album id, as every route taking one spells it.

    Signed, because demo albums and CSV copies have negative ids (Discogs
    copies positive ones); limited to SQLite's INTEGER range, so an id no row
    can have is a plain 404 at routing time.
    """

    def __init__(self, map: Any) -> None:
        super().__init__(map, min=SQLITE_MIN, max=SQLITE_MAX, signed=True)
