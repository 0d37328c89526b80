"""Sizes and times for people: the one formatter behind the site, the JSON-free CLI and health details.

Sizes are binary units written exactly as Jinja's ``filesizeformat(binary=True)``
writes them (``'1.5 KiB'``, ``'2.0 GiB'``), so the numbers the admin page's
script refreshes in place, the pages and ``cache_monitor.py`` always read alike.
No Flask, no Jinja: the CLI and the cache engine import it too.
"""

from __future__ import annotations

import datetime as dt
import time

_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def byte_unit(size: float) -> tuple[str, int]:
    """``(unit, bytes per unit)`` that :func:`human_bytes` writes ``size`` in: ``('MiB', 1048576)``.

    A chart of a series picks the unit of its largest value, so every label shares one unit.
    """
    for exponent, unit in enumerate(("Bytes", *_BINARY_UNITS)):
        if abs(size) < 1024 ** (exponent + 1) or unit == _BINARY_UNITS[-1]:
            return unit, 1024**exponent
    raise AssertionError("unreachable")


def human_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``; below 1 KiB ``'1 Byte'`` / ``'512 Bytes'``."""
    unit, per_unit = byte_unit(size)
    if per_unit == 1:
        return "1 Byte" if size == 1 else f"{size:.0f} Bytes"
    return f"{size / per_unit:.1f} {unit}"


def _ago(seconds: float) -> str:
    """How long ago, in the largest whole unit that fits (``'3 hours ago'``)."""
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count = int(seconds // length)
        if count >= 1:
            return "yesterday" if unit == "day" and count == 1 else f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def human_when(timestamp: float | None, now: float | None = None) -> str:
    """A Unix time as local date and time with how long ago: ``'2026-12-03 06:15 (3 hours ago)'``.

    ``'never'`` for none; a time in the future (another machine's clock)
    gets its date alone.
    """
    if not timestamp:
        return "never"
    when = dt.datetime.fromtimestamp(float(timestamp)).strftime("%Y-%m-%d %H:%M")
    elapsed = (time.time() if now is None else now) - float(timestamp)
    return when if elapsed < 0 else f"{when} ({_ago(elapsed)})"


def plural(count: int, noun: str) -> str:
    """``'1 sample'``, ``'2 samples'``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
