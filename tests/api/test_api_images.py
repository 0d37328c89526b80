"""/api/images/...: image management over the collection and the cover cache."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.support.cache_api import API_SETTINGS, serve_covers, wait_for_job
from tests.support.images import jpeg_bytes
from tests.support.owner import bearer, session_csrf
from vinylvault import db
from vinylvault.access import auth
from vinylvault.covers import extension
from vinylvault.covers.routes import PLACEHOLDER_HEADER
from vinylvault.library import collection


def add_album(app: Flask, album_id: int, cover_url: str = "", artist_image: str = "") -> None:
    """Store one album (and its artist, with an image URL if given) in the collection database."""
    record = collection.AlbumRecord(
        id=album_id,
        source="csv",
        artist=f"Artist {album_id}",
        title=f"Title {album_id}",
        cover_url=cover_url,
        artists=[(album_id, f"Artist {album_id}")],
    )
    with app.app_context():
        conn = db.get_db()
        with collection.write_transaction(conn):
            collection.save_album(conn, record)
            conn.execute("UPDATE artists SET image_url = ? WHERE id = ?", (artist_image, album_id))


def _cache(app: Flask):
    return app.extensions[extension.COVERS]


def test_stats_count_each_kind(client, app, origin):
    cached, missing = serve_covers(origin, 2)
    failed = origin.add_status("/gone.jpg", 404)
    artist = serve_covers(origin, 1, prefix="/artists")[0]
    add_album(app, 1, cached, artist_image=artist)
    add_album(app, 2, missing)
    add_album(app, 3, failed)
    add_album(app, 4)
    assert _cache(app).get_image(cached) and not _cache(app).get_image(failed)
    body = client.get("/api/images/stats").get_json()
    entries = [_cache(app).lookup(cached, size) for size in ("thumbnails", "detail")]
    assert body["covers"] == {
        "referenced": 3,
        "cached": 1,
        "failed": 1,
        "missing": 1,
        "bytes": sum(e.bytes for e in entries),
    }
    assert body["artists"] == {"referenced": 1, "cached": 0, "failed": 0, "missing": 1, "bytes": 0}


def test_album_info(client, app, origin):
    [url] = serve_covers(origin, 1)
    add_album(app, 7, url)
    before = client.get("/api/images/album/7").get_json()
    assert before == {"album_id": 7, "source_url": url, "failed": False, "sizes": {"thumbnails": None, "detail": None}}
    _cache(app).get_image(url)
    sizes = client.get("/api/images/album/7").get_json()["sizes"]
    key = _cache(app).key_for(url)
    assert sizes["thumbnails"]["url"] == f"/cache/thumbnails/{key}.webp"
    assert max(sizes["detail"]["width"], sizes["detail"]["height"]) == 320  # never upscaled
    assert client.get(sizes["thumbnails"]["url"]).status_code == 200


def test_album_info_without_cover_and_unknown_album(client, app):
    add_album(app, 8)
    assert client.get("/api/images/album/8").get_json()["source_url"] is None
    response = client.get("/api/images/album/9999")
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_album"
    assert client.get("/api/images/album/abc").status_code == 404


def test_album_download(client, app, token, origin):
    [url] = serve_covers(origin, 1)
    add_album(app, 3, url)
    assert client.post("/api/images/album/3/download").status_code == 401
    response = client.post("/api/images/album/3/download", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["sizes"]["detail"] is not None
    assert origin.hits(urlsplit(url).path) == 1


def test_requests_answer_within_their_wait_while_a_script_waits_for_the_slow_download(make_app, origin):
    app = make_app(**API_SETTINGS, ON_DEMAND_WAIT_SECONDS=0.1)
    client = app.test_client()
    with app.app_context():
        token = auth.create_api_token(db.get_db(), "tests")
    url = origin.add_file("/slow-cover.jpg", jpeg_bytes(320, 320), delay=1.5)
    add_album(app, 12, url)
    cache = _cache(app)
    cache.register_sources([url])  # as a page emitting the cover does
    assert cache.queue([url]) == 1  # a background worker downloads it
    while origin.hits("/slow-cover.jpg") == 0:
        time.sleep(0.01)
    image = client.get(f"/cache/thumbnails/{cache.key_for(url)}.webp")
    assert image.status_code == 200 and image.headers[PLACEHOLDER_HEADER] == "1"
    assert image.headers["Cache-Control"] == "no-store"
    assert client.post("/api/images/album/12/download", headers=bearer(token)).status_code == 202
    assert cache.get_image(url, "thumbnails") is not None  # a script has no request's wait
    assert origin.hits("/slow-cover.jpg") == 1


def test_album_download_failures(client, app, token, origin):
    add_album(app, 4, origin.add_status("/gone.jpg", 404))
    add_album(app, 5)
    add_album(app, 6, "file:///etc/passwd")
    gone = client.post("/api/images/album/4/download", headers=bearer(token))
    assert gone.status_code == 502 and gone.get_json()["error"] == "http_404"
    assert client.post("/api/images/album/4/download", headers=bearer(token)).get_json()["error"] == "http_404"
    assert client.get("/api/images/album/4").get_json()["failed"] is True
    assert client.post("/api/images/album/5/download", headers=bearer(token)).status_code == 409
    unsafe = client.post("/api/images/album/6/download", headers=bearer(token))
    assert (unsafe.status_code, unsafe.get_json()["error"]) == (502, "bad_scheme")
    assert client.post("/api/images/album/404/download", headers=bearer(token)).status_code == 404


def test_sync_queues_every_uncached_image_as_a_job(client, app, token, origin):
    covers = serve_covers(origin, 3)
    artist = serve_covers(origin, 1, prefix="/artists")[0]
    for n, url in enumerate(covers, start=1):
        add_album(app, n, url, artist_image=artist if n == 1 else "")
    _cache(app).get_image(covers[0])
    assert client.post("/api/images/sync").status_code == 401
    response = client.post("/api/images/sync", headers=bearer(token))
    assert response.status_code == 202
    body = response.get_json()
    assert (body["queued"], body["already_cached"]) == (3, 1)
    assert response.headers["Location"] == f"/api/images/sync/{body['job_id']}"
    final = wait_for_job(client, response.headers["Location"])
    assert (final["kind"], final["state"], final["done"]) == ("sync_images", "done", 3)
    assert all(_cache(app).lookup(url, "detail") for url in covers + [artist])
    again = client.post("/api/images/sync", headers=bearer(token)).get_json()
    assert again == {"job_id": None, "queued": 0, "already_cached": 4}


def test_sync_with_the_session_needs_csrf(owner_client, app, origin):
    add_album(app, 1, serve_covers(origin, 1)[0])
    assert owner_client.post("/api/images/sync").status_code == 403
    response = owner_client.post("/api/images/sync", headers={"X-CSRF-Token": session_csrf(owner_client)})
    assert response.status_code == 202


def test_cleanup_removes_orphans_only(client, app, token, origin):
    kept_cover, kept_artist, orphan = serve_covers(origin, 3)
    add_album(app, 1, kept_cover, artist_image=kept_artist)
    for url in (kept_cover, kept_artist, orphan):
        assert _cache(app).get_image(url)
    orphan_files = [Path(_cache(app).lookup(orphan, size).path) for size in ("thumbnails", "detail")]
    assert client.post("/api/images/cleanup").status_code == 401
    response = client.post("/api/images/cleanup", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "success": True,
        "removed_sources": 1,
        "removed_files": 2,
        "kept": 2,
        "removed_photos": 0,
    }
    assert _cache(app).lookup(orphan, "detail") is None
    assert not any(path.exists() for path in orphan_files)
    for url in (kept_cover, kept_artist):
        assert Path(_cache(app).lookup(url, "thumbnails").path).exists()
    second = client.post("/api/images/cleanup", headers=bearer(token)).get_json()
    assert (second["removed_sources"], second["kept"]) == (0, 2)


@pytest.mark.parametrize("job_id, status, error", [("nothex", 400, "invalid_job_id"), ("a" * 32, 404, "unknown_job")])
def test_sync_status_validates_ids(client, job_id, status, error):
    response = client.get(f"/api/images/sync/{job_id}")
    assert (response.status_code, response.get_json()["error"]) == (status, error)
