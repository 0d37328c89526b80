"""cache_monitor.py, run as a subprocess against a live cache held open by this test process."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest

import config
from image_cache import SAMPLE_INTERVAL_SECONDS, ImageCache
from tests.support.images import jpeg_bytes
from tests.support.paths import ROOT

SCRIPT = ROOT / "cache_monitor.py"
SOURCES = ("http://covers.example/a.jpg", "http://covers.example/b.jpg")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def live_cache(data_dir: Path) -> Iterator[ImageCache]:
    """A cache with two sources (four entries) and one sample, open in this process during the test."""
    settings = config.load(environ={}, DATA_DIR=data_dir)
    cache = ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings)
    for n, url in enumerate(SOURCES):
        assert cache.store_source_bytes(url, jpeg_bytes(400, 300, seed=n))
    cache.index.take_sample()
    yield cache
    cache.close()


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "VINYL_VAULT_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=environ, cwd=ROOT, timeout=120
    )


def test_status_text_and_json(live_cache, data_dir):
    text = run(data_dir, "--action", "status")
    assert text.returncode == 0, text.stderr
    assert "entries      4 (detail 2, thumbnails 2)" in text.stdout
    assert "[" in text.stdout and "hit rate" in text.stdout
    as_json = run(data_dir, "--action", "status", "--json")
    stats = json.loads(as_json.stdout)
    assert stats["total_entries"] == 4
    assert stats["total_size_bytes"] == live_cache.get_cache_stats()["total_size_bytes"]


def test_explicit_paths_override_config(live_cache, data_dir, tmp_path):
    result = run(
        tmp_path / "elsewhere",
        "--action",
        "status",
        "--json",
        "--cache-dir",
        str(live_cache.cache_dir),
        "--database",
        str(live_cache.index.database_path),
    )
    assert json.loads(result.stdout)["total_entries"] == 4


def test_health_of_a_fresh_empty_cache_is_healthy(data_dir):
    settings = config.load(environ={}, DATA_DIR=data_dir)
    with ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings):
        result = run(data_dir, "--action", "health", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "healthy"


def test_health_exit_codes(live_cache, data_dir):
    healthy = run(data_dir, "--action", "health")
    assert healthy.returncode == 0 and "Cache health: HEALTHY" in healthy.stdout
    Path(live_cache.lookup(SOURCES[0], "detail").path).unlink()
    degraded = run(data_dir, "--action", "health")
    assert degraded.returncode == 1
    assert "degraded   drift" in degraded.stdout
    unhealthy = run(data_dir, "--action", "health", "--json", env={"VINYL_VAULT_HEALTH_MIN_FREE_MB": "1e12"})
    assert unhealthy.returncode == 2
    report = json.loads(unhealthy.stdout)
    assert report["status"] == "unhealthy"
    assert {c["name"]: c["status"] for c in report["checks"]}["disk"] == "unhealthy"


def test_cleanup_removes_only_old_entries_and_says_what(live_cache, data_dir):
    old, recent = SOURCES
    old_entries = [live_cache.lookup(old, size) for size in ("thumbnails", "detail")]
    with sqlite3.connect(live_cache.index.database_path) as conn:
        conn.execute("UPDATE entries SET last_access = 0 WHERE url = ?", (old,))
    text = run(data_dir, "--action", "cleanup", "--cleanup-days", "30")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Removed 2 entries not used for 30 days")
    assert not any(Path(e.path).exists() for e in old_entries)
    assert live_cache.lookup(recent, "detail") is not None
    again = json.loads(run(data_dir, "--action", "cleanup", "--json").stdout)
    assert again == {
        "removed_entries": 0,
        "removed_for_free_space": 0,
        "freed_bytes": 0,
        "older_than_days": 30.0,
        "repaired": {"files_removed": 0, "rows_removed": 0, "temp_files_removed": 0},
    }


def test_cleanup_repairs_the_drift_a_killed_process_leaves(live_cache, data_dir):
    _old, recent = SOURCES
    entry = live_cache.lookup(recent, "thumbnails")
    stray = entry.path.parent.parent / "ff" / ("f" * 64 + ".webp")
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(entry.path.read_bytes())  # a file whose row never committed
    live_cache.lookup(recent, "detail").path.unlink()  # a row whose file is gone
    stale = live_cache.temp_dir / "abandoned.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    result = json.loads(run(data_dir, "--action", "cleanup", "--json").stdout)
    assert result["repaired"] == {"files_removed": 1, "rows_removed": 1, "temp_files_removed": 1}
    assert not stray.exists() and not stale.exists()
    assert live_cache.lookup(recent, "detail") is None
    health = run(data_dir, "--action", "health")
    assert health.returncode == 0, health.stdout


def test_cleanup_json_counts_bytes(live_cache, data_dir):
    with sqlite3.connect(live_cache.index.database_path) as conn:
        conn.execute("UPDATE entries SET last_access = 0")
    total = live_cache.get_cache_stats()["total_size_bytes"]
    result = json.loads(run(data_dir, "--action", "cleanup", "--cleanup-days", "1", "--json").stdout)
    assert (result["removed_entries"], result["freed_bytes"]) == (4, total)


def test_report_with_one_sample_says_the_charts_need_more_data(live_cache, data_dir, tmp_path):
    page = tmp_path / "report.html"
    result = run(data_dir, "--action", "report", "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert "1 sample recorded." in result.stdout and str(page) in result.stdout
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    # One point is no line, and no interval means no hit rate: a sentence each, not an empty frame.
    assert "<svg" not in html and html.count('class="chart-empty') == 2
    assert "Not enough data yet" in html and "<p>1 sample recorded.</p>" in html
    assert "<script" not in html and "http" not in html
    as_json = json.loads(run(data_dir, "--action", "report", "--json").stdout)
    assert len(as_json["samples"]) == 1 and as_json["health"]["status"] == "healthy"


def record_samples(cache: ImageCache, count: int) -> None:
    """``count`` more samples an interval apart, each after a few real cache hits and one miss."""
    first = time.time() - count * SAMPLE_INTERVAL_SECONDS
    key = cache.key_for(SOURCES[0])
    for n in range(count):
        for _ in range(n + 1):
            cache.record_access(key, "thumbnails")
        cache.index.count("misses")
        cache.flush()
        assert cache.index.take_sample(now=first + n * SAMPLE_INTERVAL_SECONDS)


def test_report_charts_a_tiny_cache_in_kib_with_every_label_inside_the_chart(live_cache, data_dir, tmp_path):
    assert live_cache.get_cache_stats()["total_size_bytes"] < 1024  # the point: less than one KiB
    record_samples(live_cache, 4)
    page = tmp_path / "report.html"
    assert run(data_dir, "--action", "report", "--html", str(page)).returncode == 0
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and 'class="chart-empty' not in html and "5 samples recorded." in html
    size = ET.fromstring(re.search(r'<svg[^>]*id="size".*?</svg>', html).group(0))
    axis = [t.text for t in size.iter(f"{SVG}text") if t.get("text-anchor") == "end"][:3]
    assert axis == ["0 KiB", "0.5 KiB", "1 KiB"]  # a scale with a unit, never a lone "0"
    rate = ET.fromstring(re.search(r'<svg[^>]*id="hit-rate".*?</svg>', html).group(0))
    assert [t.text for t in rate.iter(f"{SVG}text")][:3] == ["0%", "50%", "100%"]
    assert texts_outside_their_chart(page) == []


#: Runs in its own process: the browser tests' Playwright loop may already be running in this one.
_BROWSER_SCRIPT = """
import json, sys
from playwright.sync_api import sync_playwright
from tests.support.browser import PI_SCREEN, launch_chromium
with sync_playwright() as playwright:
    browser = launch_chromium(playwright)
    view = browser.new_page(viewport=PI_SCREEN)
    view.goto(sys.argv[1])
    print(json.dumps(view.evaluate(sys.argv[2])))
    browser.close()
"""


def texts_outside_their_chart(page: Path) -> list[str]:
    """The chart labels whose box, as Debian's chromium lays the report out at 800x480, leaves their <svg>."""
    result = subprocess.run(
        [sys.executable, "-c", _BROWSER_SCRIPT, page.as_uri(), TEXT_OUTSIDE_ITS_SVG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


#: JS: the texts of every chart label whose rendered box leaves its <svg>'s box.
TEXT_OUTSIDE_ITS_SVG = """() => [...document.querySelectorAll('svg text')].filter(text => {
    const box = text.getBoundingClientRect(), frame = text.ownerSVGElement.getBoundingClientRect();
    return box.left < frame.left - 0.5 || box.right > frame.right + 0.5
        || box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5;
}).map(text => text.textContent)"""


def test_status_and_health_write_sizes_in_one_format(live_cache, data_dir):
    status = run(data_dir, "--action", "status").stdout
    health = run(data_dir, "--action", "health").stdout
    free = re.search(r"disk free\s+(.+)", status).group(1)
    assert re.search(r"disk\s+(.+) free \(minimum 500.0 MiB\)", health).group(1)[:-4] == free[:-4]
    assert free.endswith(" GiB") or free.endswith(" MiB") or free.endswith(" TiB")
    size = re.search(r"size\s+(\d+ Bytes|[\d.]+ KiB) of 2.0 GiB", status)
    assert size is not None, status


def test_monitor_redraws_and_exits_cleanly_on_ctrl_c(live_cache, data_dir):
    environ = {**os.environ, "VINYL_VAULT_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--action", "monitor", "--monitor-interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=ROOT,
    )
    try:
        screens = 0
        for line in proc.stdout:
            screens += "refreshing every 0.1s" in line
            if screens == 2:
                break
        assert screens == 2
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--action", "explode"],
        ["--cleanup-days", "0"],
        ["--cleanup-days", "nan"],
        ["--monitor-interval", "-5"],
        ["--unknown"],
    ],
)
def test_bad_arguments_are_argparse_errors(data_dir, args):
    result = run(data_dir, *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_missing_cache_folder_is_one_line(tmp_path):
    result = run(tmp_path / "nothing-here", "--action", "status")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr and result.stdout == ""


def test_corrupt_index_is_one_line(live_cache, data_dir, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    result = run(data_dir, "--action", "health", "--database", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


def test_health_says_in_plain_words_when_the_free_space_reserve_is_reached(live_cache, data_dir):
    result = run(
        data_dir,
        "--action",
        "health",
        "--json",
        env={"VINYL_VAULT_MIN_FREE_DISK_MB": "1e12", "VINYL_VAULT_HEALTH_MIN_FREE_MB": "0"},
    )
    assert result.returncode == 1, result.stdout
    disk = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["disk"]
    assert disk["status"] == "degraded"
    assert "The disk is nearly full" in disk["detail"] and "new covers and photos are not saved" in disk["detail"]
    assert "nearly full" not in run(data_dir, "--action", "health").stdout
