"""A full SD card, for real: the data folder on a small tmpfs that a filler file fills up.

Two situations. The cover caches fill the card on their own (a budget larger
than the card): they stop at the free-space reserve. Something else fills the
card to the last byte: pages that only read still answer, placeholders come
from memory, writes answer 507 ``storage_full``, and clearing the cache or
``cache_monitor.py --action cleanup`` frees space without needing any first;
once space is back, everything works again.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

from tests.robustness.conftest import ALBUM, fill_site, jpeg
from tests.web.conftest import log_in, make_app, origin, session_csrf  # noqa: F401  (fixtures)
from vinylvault import collection, db, images
from vinylvault.collection import AlbumRecord

ROOT = Path(__file__).resolve().parents[2]
DISK_MB = 8


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted for this test, or a skip where mounting is not permitted."""
    mount = tmp_path / "card"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up ({result.stderr.strip()[:100]})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_to_the_last_byte(disk: Path) -> Path:
    """Write a filler file until the filesystem refuses another byte."""
    filler = disk / "filler"
    with open(filler, "ab", buffering=0) as handle:
        for chunk in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while handle.write(b"\0" * chunk):
                    pass
    assert free_bytes(disk) == 0
    return filler


def noisy_jpeg(side: int = 600) -> bytes:
    """A JPEG whose WebP renditions are tens of KB (noise does not compress)."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# --- a card filled by something else ------------------------------------------------------------

def _site_on(make_app, disk: Path, **settings) -> tuple[Flask, str]:
    app = make_app(DATA_DIR=disk / "data", MIN_FREE_DISK_MB=1, ON_DEMAND_WAIT_SECONDS=10, **settings)
    token, _album = fill_site(app)
    return app, token


def _set_covers(app: Flask, urls: dict[int, str]) -> None:
    with app.app_context():
        for album_id, url in urls.items():
            collection.save_album(db.get_db(), AlbumRecord(
                id=album_id, source="csv", artist="Band", title=f"Record {album_id}", cover_url=url,
                artists=[(None, "Band")]))


def _cache_path(app: Flask, url: str, size_type: str = "thumbnails") -> str:
    with app.app_context():
        return f"/cache/{size_type}/{images.get_cache().key_for(url)}.webp"


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def _cached(app: Flask, url: str) -> bool:
    with app.app_context():
        return images.get_cache().get_image(url, "thumbnails", wait=30) is not None


@pytest.fixture
def full_site(small_disk, make_app, origin):
    """A site with two cached covers and one known but uncached, on a card then filled to the last byte."""
    app, token = _site_on(make_app, small_disk)
    hit = origin.add_file("/hit.jpg", noisy_jpeg())
    other = origin.add_file("/other.jpg", noisy_jpeg())
    miss = origin.add_file("/miss.jpg", noisy_jpeg())
    _set_covers(app, {ALBUM: hit, ALBUM + 1: miss, ALBUM + 2: other})
    assert _cached(app, hit) and _cached(app, other)
    owner = app.test_client()
    assert log_in(owner).status_code == 302
    with app.app_context():
        cache = images.get_cache()
        cache.register_sources([miss])  # known, not converted: what a page shows before its cover is in
        cache.flush()
    filler = fill_to_the_last_byte(small_disk)
    return {"app": app, "token": token, "owner": owner, "hit": hit, "miss": miss, "disk": small_disk,
            "filler": filler, "origin": origin}


def test_on_a_full_card_reading_pages_answer_and_writes_answer_507(full_site, caplog):
    app, owner, token = full_site["app"], full_site["owner"], full_site["token"]
    guest = app.test_client()
    caplog.set_level(logging.INFO)
    for client in (guest, owner):
        for path in ("/", f"/album/{ALBUM}", f"/album/{ALBUM + 1}", "/search?q=Band", "/api/collection",
                     "/stats", "/api/cache/stats"):
            assert client.get(path).status_code == 200, path
    assert owner.get("/admin").status_code == 200
    for size_type in ("thumbnails", "detail"):
        response = guest.get(f"/cache/placeholders/placeholder_{size_type}.webp")
        assert response.status_code == 200 and response.mimetype == "image/webp"
    hit = guest.get(_cache_path(app, full_site["hit"]))
    assert hit.status_code == 200 and hit.headers["Cache-Control"].endswith("immutable")
    miss = guest.get(_cache_path(app, full_site["miss"]))
    assert miss.status_code == 200 and miss.headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {token}"}
    preload = guest.post("/api/cache/preload", headers=bearer, json={"urls": [full_site["origin"].url("/new.jpg")]})
    assert preload.status_code == 507, preload.get_json()
    assert preload.get_json()["error"] == "storage_full"
    upload = guest.post(f"/api/albums/{ALBUM}/photos", headers=bearer,
                        data={"photos": [(io.BytesIO(jpeg()), "copy.jpg")]}, content_type="multipart/form-data")
    assert upload.status_code == 507, upload.get_json()
    assert upload.get_json()["error"] == "storage_full"
    assert _tracebacks(caplog) == []


def test_on_a_full_card_batched_hits_wait_in_memory_with_one_log_line(full_site, caplog):
    app = full_site["app"]
    assert app.test_client().get(_cache_path(app, full_site["hit"])).status_code == 200
    with app.app_context():
        cache = images.get_cache()
    pending = cache.index.recorder.pending()
    assert pending > 0
    caplog.clear()
    for _ in range(3):
        cache.flush_quietly()
    assert [r.levelno for r in caplog.records] == [logging.WARNING], [r.getMessage() for r in caplog.records]
    assert "disk is full" in caplog.records[0].getMessage() and _tracebacks(caplog) == []
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
    done = subprocess.run([sys.executable, "cache_monitor.py", "--action", "cleanup", "--json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["freed_bytes"] > 0


@pytest.mark.parametrize("free_space", [_clear_through_the_api, _clear_on_the_admin_page,
                                        _cleanup_from_the_command_line], ids=["api-clear", "admin-clear", "cleanup-cli"])
def test_on_a_full_card_clearing_frees_space_and_then_everything_works(full_site, free_space, caplog):
    app, disk = full_site["app"], full_site["disk"]
    assert free_bytes(disk) == 0
    free_space(full_site)
    assert free_bytes(disk) > 0
    with app.app_context():
        cache = images.get_cache()
        assert cache.lookup(full_site["hit"], "thumbnails") is None  # its file and its row are gone
    assert not list((disk / "data" / "cache" / "covers" / "thumbnails").rglob("*.webp"))
    assert _tracebacks(caplog) == []

    full_site["filler"].unlink()
    guest, bearer = app.test_client(), {"Authorization": f"Bearer {full_site['token']}"}
    miss = guest.get(_cache_path(app, full_site["miss"]))
    assert miss.status_code == 200 and miss.headers["Cache-Control"].endswith("immutable")
    preload = guest.post("/api/cache/preload", headers=bearer, json={"urls": [full_site["hit"]]})
    assert preload.status_code == 202, preload.get_json()
    upload = guest.post(f"/api/albums/{ALBUM}/photos", headers=bearer,
                        data={"photos": [(io.BytesIO(jpeg()), "copy.jpg")]}, content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    assert guest.get(f"/album/{ALBUM}").status_code == 200
