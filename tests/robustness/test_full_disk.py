"""A full SD card, for real: the data folder on a small tmpfs that a filler file fills up.

Two situations. The cover caches fill the card on their own (a budget larger
than the card): they stop at the free-space reserve. Something else fills the
card to the last byte: pages that only read still answer, placeholders come
from memory, writes answer 507 ``storage_full``, and clearing the cache or
``cache_monitor.py --action cleanup`` frees space without needing any first;
once space is back, everything works again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

from cache_engine.files import STARTUP_ROOM_BYTES, STARTUP_ROOM_NAME
from tests.support.albums import album
from tests.support.albums import fill as fill_albums
from tests.support.apps import cache_path
from tests.support.cache_api import wait_for_job
from tests.support.disk import fill, free_bytes, mounted_tmpfs
from tests.support.images import image_bytes, jpeg_bytes
from tests.support.owner import bearer, logged_in, session_csrf
from tests.support.paths import ROOT
from tests.support.photos import upload
from tests.support.robust_site import ALBUM, fill_site
from tests.support.servers import GunicornServer
from vinylvault import lifecycle
from vinylvault.covers import extension

DISK_MB = 8


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "card", f"{DISK_MB}m") as mount:
        yield mount


def noisy_jpeg(seed: int, side: int = 600) -> bytes:
    """A JPEG whose WebP renditions are tens of KB (noise does not compress)."""
    return jpeg_bytes(side, side, seed=seed, noise=True)


# --- the caches filling the card on their own ----------------------------------------------------


def _index_files_bytes(database: Path) -> int:
    return sum(
        Path(f"{database}{suffix}").stat().st_size
        for suffix in ("", "-wal", "-shm")
        if Path(f"{database}{suffix}").exists()
    )


def _wait_until_idle(cache) -> None:
    deadline = time.monotonic() + 120
    while cache.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.pending() == 0, "the background conversions did not finish"


def test_background_conversions_stop_at_the_reserve_whatever_the_budget(small_disk, make_app, origin, caplog):
    reserve_mb = 3
    app = make_app(DATA_DIR=small_disk / "data", MAX_CACHE_SIZE_GB=1, MIN_FREE_DISK_MB=reserve_mb)
    fill_site(app)
    urls = [origin.add_file(f"/cover-{n}.jpg", noisy_jpeg(n)) for n in range(30)]  # ~8 MB of WebP
    with app.app_context():
        cache = extension.get_cache()
    assert cache.queue(urls) == len(urls)
    _wait_until_idle(cache)
    stats = cache.get_cache_stats()
    # The covers stay out of the reserve; the index's own journal is what the reserve is for.
    assert free_bytes(small_disk) + _index_files_bytes(cache.index.database_path) >= reserve_mb * 1024**2
    assert stats["evictions"] > 0 and stats["total_entries"] > 0
    assert not [r for r in caplog.records if "space" in r.getMessage()]  # never out of space
    assert _tracebacks(caplog) == []
    # The most recent covers are the ones kept.
    assert cache.lookup(urls[-1], "detail") is not None and cache.lookup(urls[0], "detail") is None
    assert app.test_client().get("/").status_code == 200


def test_a_photo_upload_that_would_cross_the_reserve_answers_507(small_disk, make_app, caplog):
    app, token = _site_on(make_app, small_disk)  # a 1 MB reserve
    photo = noisy_jpeg(0, side=400)
    reserve = 1024**2
    fill(small_disk, leave=reserve + len(photo) // 2)
    response = upload(app.test_client(), [("copy.jpg", photo)], ALBUM, bearer(token))
    assert response.status_code == 507, response.get_json()
    assert response.get_json()["error"] == "storage_full"
    assert "could not be stored: the disk is nearly full" in response.get_json()["detail"]  # refused before writing
    assert free_bytes(small_disk) >= reserve
    originals = small_disk / "data" / "photos" / "originals"
    assert [p for p in originals.rglob("*") if p.is_file()] == []
    assert _tracebacks(caplog) == []


def test_a_preload_on_a_card_at_its_reserve_says_storage_full_for_each_cover(small_disk, make_app, origin, caplog):
    app, token = _site_on(make_app, small_disk)  # a 1 MB reserve, and nothing cached to evict
    urls = [origin.add_file(f"/reserve-{n}.jpg", noisy_jpeg(10 + n)) for n in range(3)]
    fill(small_disk, leave=300 * 1024)  # room for the job's rows, not for covers above the reserve
    client = app.test_client()
    response = client.post("/api/cache/preload", headers=bearer(token), json={"urls": urls})
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(client, response.headers["Location"])
    assert job["state"] == "failed" and job["done"] == 0 and job["failed"] == 3  # every item failed
    assert {error["reason"] for error in job["errors"]} == {"storage_full"}
    assert _tracebacks(caplog) == []


# --- a card filled by something else ------------------------------------------------------------


def _site_on(make_app, disk: Path, **settings) -> tuple[Flask, str]:
    app = make_app(DATA_DIR=disk / "data", MIN_FREE_DISK_MB=1, ON_DEMAND_WAIT_SECONDS=10, **settings)
    return app, fill_site(app)


def _set_covers(app: Flask, urls: dict[int, str]) -> None:
    fill_albums(app, [album(album_id, cover_url=url) for album_id, url in urls.items()])


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def _cached(app: Flask, url: str) -> bool:
    with app.app_context():
        return extension.get_cache().get_image(url, "thumbnails", wait=30) is not None


@pytest.fixture
def full_site(small_disk, make_app, origin):
    """A site with two cached covers and one known but uncached, on a card then filled to the last byte."""
    app, token = _site_on(make_app, small_disk)
    hit = origin.add_file("/hit.jpg", noisy_jpeg(1))
    other = origin.add_file("/other.jpg", noisy_jpeg(2))
    miss = origin.add_file("/miss.jpg", noisy_jpeg(3))
    _set_covers(app, {ALBUM: hit, ALBUM + 1: miss, ALBUM + 2: other})
    assert _cached(app, hit) and _cached(app, other)
    owner = logged_in(app)
    with app.app_context():
        cache = extension.get_cache()
        cache.register_sources([miss])  # known, not converted: what a page shows before its cover is in
        cache.flush()
    filler = fill(small_disk)
    return {
        "app": app,
        "token": token,
        "owner": owner,
        "hit": hit,
        "miss": miss,
        "disk": small_disk,
        "filler": filler,
        "origin": origin,
    }


def test_on_a_full_card_reading_pages_answer_and_writes_answer_507(full_site, caplog):
    app, owner, token = full_site["app"], full_site["owner"], full_site["token"]
    guest = app.test_client()
    caplog.set_level(logging.INFO)
    for client in (guest, owner):
        for path in (
            "/",
            f"/album/{ALBUM}",
            f"/album/{ALBUM + 1}",
            "/search?q=Band",
            "/api/collection",
            "/stats",
            "/api/cache/stats",
        ):
            assert client.get(path).status_code == 200, path
    assert owner.get("/admin").status_code == 200
    assert guest.get("/random").status_code == 302  # a pick the full disk cannot remember is still a pick
    for size_type in ("thumbnails", "detail"):
        response = guest.get(f"/cache/placeholders/placeholder_{size_type}.webp")
        assert response.status_code == 200 and response.mimetype == "image/webp"
    hit = guest.get(cache_path(app, full_site["hit"]))
    assert hit.status_code == 200 and hit.headers["Cache-Control"].endswith("immutable")
    miss = guest.get(cache_path(app, full_site["miss"]))
    assert miss.status_code == 200 and miss.headers["Cache-Control"] == "no-store"
    preload = guest.post(
        "/api/cache/preload", headers=bearer(token), json={"urls": [full_site["origin"].url("/new.jpg")]}
    )
    assert preload.status_code == 507, preload.get_json()
    assert preload.get_json()["error"] == "storage_full"
    uploaded = upload(guest, [("copy.jpg", image_bytes())], ALBUM, bearer(token))
    assert uploaded.status_code == 507, uploaded.get_json()
    assert uploaded.get_json()["error"] == "storage_full"
    assert _tracebacks(caplog) == []
    # However many conversions the pages asked for, the cover cache said it once.
    out_of_space = [r for r in caplog.records if r.getMessage().startswith("out of disk space")]
    assert len(out_of_space) == 1 and "new images are not saved" in out_of_space[0].getMessage()


def test_on_a_full_card_the_kiosk_shows_the_bare_address_until_its_link_can_be_made(small_disk, make_app, caplog):
    app, _token = _site_on(make_app, small_disk, GUESTS_NEED_LINK=True)
    screen = app.test_client()  # the kiosk browser on the Pi: this machine, kiosk view
    address = re.compile(r'<strong class="attract__address[^"]*">([^<]+)</strong>')
    caplog.set_level(logging.INFO)
    filler = fill(small_disk)
    for _ in range(3):
        attract = screen.get("/kiosk/attract?fragment=1&kiosk=1")
        assert attract.status_code == 200
        assert "/guest/" not in address.search(attract.get_data(as_text=True)).group(1)
    notices = [r.getMessage() for r in caplog.records if "kiosk's QR code" in r.getMessage()]
    assert len(notices) == 1 and notices[0].startswith("out of disk space"), notices
    filler.unlink()
    attract = screen.get("/kiosk/attract?fragment=1&kiosk=1").get_data(as_text=True)
    assert "/guest/vg_" in address.search(attract).group(1)
    assert any(
        r.getMessage() == "disk space is available again: the kiosk's guest link is made" for r in caplog.records
    )
    assert _tracebacks(caplog) == []


def test_on_a_full_card_a_page_that_writes_answers_a_friendly_507(full_site, caplog):
    owner = full_site["owner"]
    caplog.set_level(logging.INFO)
    response = owner.post(f"/now-playing/{ALBUM}", data={"csrf_token": session_csrf(owner)})
    assert response.status_code == 507
    page = response.get_data(as_text=True)
    assert "The disk is full" in page and "Clearing the cover cache" in page and "needle skipped" not in page
    assert [r.getMessage() for r in caplog.records if "-> 507" in r.getMessage()] == [
        f"POST /now-playing/{ALBUM} -> 507: the disk is full (database or disk is full)"
    ]
    assert _tracebacks(caplog) == []


def test_on_a_full_card_batched_hits_wait_in_memory_with_one_log_line(full_site, caplog):
    app = full_site["app"]
    assert app.test_client().get(cache_path(app, full_site["hit"])).status_code == 200
    with app.app_context():
        cache = extension.get_cache()
    pending = cache.index.recorder.pending()
    assert pending > 0
    caplog.clear()
    for _ in range(3):
        cache.flush_quietly()
    assert [r.levelno for r in caplog.records] == [logging.WARNING], [r.getMessage() for r in caplog.records]
    assert "out of disk space" in caplog.records[0].getMessage() and _tracebacks(caplog) == []
    assert cache.index.recorder.pending() == pending
    full_site["filler"].unlink()
    cache.flush_quietly()
    assert cache.index.recorder.pending() == 0
    assert "available again" in caplog.records[-1].getMessage()


def _clear_through_the_api(site) -> None:
    response = site["owner"].post("/api/cache/clear", headers={"X-CSRF-Token": session_csrf(site["owner"])})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["success"] is True


def _clear_on_the_admin_page(site) -> None:
    owner = site["owner"]
    response = owner.post("/admin/clear-cache", data={"csrf_token": session_csrf(owner)})
    assert response.status_code == 303
    assert "Cover cache cleared" in owner.get("/admin").get_data(as_text=True)


def _cleanup_from_the_command_line(site) -> None:
    env = {**os.environ, "VINYL_VAULT_DATA_DIR": str(site["disk"] / "data"), "VINYL_VAULT_MIN_FREE_DISK_MB": "1"}
    done = subprocess.run(
        [sys.executable, "cache_monitor.py", "--action", "cleanup", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["freed_bytes"] > 0


def test_cleanup_frees_a_full_card_while_the_server_is_stopped(full_site, caplog):
    lifecycle.shutdown(full_site["app"])  # no process has the databases open any more
    fill(full_site["disk"])
    _cleanup_from_the_command_line(full_site)
    assert free_bytes(full_site["disk"]) > 0


@pytest.mark.parametrize(
    "free_space",
    [_clear_through_the_api, _clear_on_the_admin_page, _cleanup_from_the_command_line],
    ids=["api-clear", "admin-clear", "cleanup-cli"],
)
def test_on_a_full_card_clearing_frees_space_and_then_everything_works(full_site, free_space, caplog):
    app, disk = full_site["app"], full_site["disk"]
    assert free_bytes(disk) == 0
    free_space(full_site)
    assert free_bytes(disk) > 0
    with app.app_context():
        cache = extension.get_cache()
        assert cache.lookup(full_site["hit"], "thumbnails") is None  # its file and its row are gone
    assert not list((disk / "data" / "cache" / "covers" / "thumbnails").rglob("*.webp"))
    assert _tracebacks(caplog) == []

    full_site["filler"].unlink()
    guest, headers = app.test_client(), bearer(full_site["token"])
    miss = guest.get(cache_path(app, full_site["miss"]))
    assert miss.status_code == 200 and miss.headers["Cache-Control"].endswith("immutable")
    preload = guest.post("/api/cache/preload", headers=headers, json={"urls": [full_site["hit"]]})
    assert preload.status_code == 202, preload.get_json()
    uploaded = upload(guest, [("copy.jpg", image_bytes())], ALBUM, headers)
    assert uploaded.status_code == 201, uploaded.get_json()
    assert guest.get(f"/album/{ALBUM}").status_code == 200


def _http(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    """(status, headers, body bytes) of one request; error statuses are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


GUNICORN_ENV = {
    "VINYL_VAULT_MIN_FREE_DISK_MB": "1",
    "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
    "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
    "VINYL_VAULT_ALLOW_PRIVATE_SOURCES": "true",
    "VINYL_VAULT_HOST_MIN_INTERVAL_SECONDS": "0",
    "VINYL_VAULT_ON_DEMAND_WAIT_SECONDS": "10",
}


def test_gunicorn_starts_on_a_card_that_is_already_full(small_disk, make_app, origin, tmp_path):
    data_dir = small_disk / "data"
    app, _token = _site_on(make_app, small_disk)
    hit = origin.add_file("/hit.jpg", noisy_jpeg(1))
    _set_covers(app, {ALBUM: hit})
    assert _cached(app, hit)
    hit_path = cache_path(app, hit)
    lifecycle.shutdown(app)
    assert (data_dir / STARTUP_ROOM_NAME).stat().st_size == STARTUP_ROOM_BYTES  # set aside while space was plenty
    fill(small_disk)  # the card filled while the Pi was off
    with GunicornServer(data_dir, log_path=tmp_path / "gunicorn.log", workers=2, env=GUNICORN_ENV) as server:
        for _ in range(4):  # enough requests for both workers to answer some
            for path in ("/", f"/album/{ALBUM}", "/stats", hit_path):
                assert _http(server.url(path))[0] == 200, path
            status, _headers, body = _http(server.url("/health"))
            assert status == 503 and json.loads(body)["disk"]["ok"] is False  # what monitoring should hear
        log = server.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert "VinylVault is ready" in log
    assert log.count("released the 1024 KiB kept for starting up") == 1  # by whichever worker came first
    assert not (data_dir / STARTUP_ROOM_NAME).exists()  # not set aside again while space is short


def test_under_gunicorn_a_full_card_keeps_the_site_up_and_clear_frees_it(small_disk, make_app, origin, tmp_path):
    data_dir = small_disk / "data"
    app, token = _site_on(make_app, small_disk)
    hit, miss = origin.add_file("/hit.jpg", noisy_jpeg(1)), origin.add_file("/miss.jpg", noisy_jpeg(3))
    _set_covers(app, {ALBUM: hit, ALBUM + 1: miss})
    assert _cached(app, hit)
    hit_path, miss_path = cache_path(app, hit), cache_path(app, miss)
    with app.app_context():
        extension.get_cache().register_sources([miss])
    lifecycle.shutdown(app)
    with GunicornServer(data_dir, log_path=tmp_path / "gunicorn.log", workers=2, env=GUNICORN_ENV) as server:
        fill(small_disk)
        for _ in range(4):  # enough requests for both workers to answer some
            for path in (
                "/",
                f"/album/{ALBUM}",
                f"/album/{ALBUM + 1}",
                "/cache/placeholders/placeholder_detail.webp",
                hit_path,
            ):
                assert _http(server.url(path))[0] == 200, path
            status, headers, _body = _http(server.url(miss_path))
            assert (status, headers["Cache-Control"]) == (200, "no-store")
            status, _headers, body = _http(
                server.url("/api/cache/preload"), "POST", {"urls": [origin.url("/n.jpg")]}, token
            )
            assert (status, json.loads(body)["error"]) == (507, "storage_full")
        status, _headers, body = _http(server.url("/api/cache/clear"), "POST", {}, token)
        assert status == 200, body
        assert free_bytes(small_disk) > 0
        assert _http(server.url(hit_path))[0] == 200  # the placeholder while it is converted again
        log = server.log_text()
    assert "Traceback" not in log, log[-3000:]
