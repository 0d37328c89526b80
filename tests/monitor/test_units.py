"""cache_engine.units: the one way sizes and times are written, in the CLI and on the site."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from jinja2.filters import do_filesizeformat

from cache_engine.units import byte_unit, human_bytes, human_when, plural
from tests.support.paths import ROOT

NOW = dt.datetime(2026, 12, 3, 6, 15).timestamp()


@pytest.mark.parametrize(
    "size", [0, 1, 2, 952, 1023, 1024, 1536, 10 * 1024**2 - 1, 5 * 1024**3, 3 * 1024**4, 7 * 1024**8]
)
def test_sizes_read_exactly_as_the_pages_write_them(size):
    # The pages and admin.js write Jinja's filesizeformat(binary=True): the CLI must read the same.
    assert human_bytes(size) == do_filesizeformat(size, True)


def test_a_series_shares_the_unit_of_its_largest_value():
    assert byte_unit(900) == ("Bytes", 1)
    assert byte_unit(2048) == ("KiB", 1024)
    assert byte_unit(80 * 1024**3) == ("GiB", 1024**3)


@pytest.mark.parametrize(
    "seconds_ago, expected",
    [
        (20, "2026-12-03 06:14 (just now)"),
        (5 * 60, "2026-12-03 06:10 (5 minutes ago)"),
        (3600, "2026-12-03 05:15 (1 hour ago)"),
        (3 * 3600 + 59, "2026-12-03 03:14 (3 hours ago)"),
        (30 * 3600, "2026-12-02 00:15 (yesterday)"),
        (9 * 86400, "2026-11-24 06:15 (9 days ago)"),
        (-600, "2026-12-03 06:25"),
    ],
)
def test_times_are_a_local_date_and_how_long_ago(seconds_ago, expected):
    assert human_when(NOW - seconds_ago, now=NOW) == expected


def test_never_and_plurals():
    assert human_when(None) == "never" and human_when(0) == "never"
    assert (plural(1, "sample"), plural(2, "sample"), plural(0, "sample")) == ("1 sample", "2 samples", "0 samples")


def test_the_monitor_and_its_charts_load_without_flask():
    code = "import sys, cache_monitor; print(sorted(m for m in ('flask', 'werkzeug') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
