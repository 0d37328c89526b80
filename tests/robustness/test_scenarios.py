"""Hostile situations the route walk cannot reach: bad sources, damaged files, a full disk, huge bodies.

Each test sets the situation up for real (a misbehaving origin on 127.0.0.1,
garbage bytes in a database file, a 2 MB tmpfs, a raw socket announcing a
1 GB body) and checks that the app answers clearly, loses nothing and keeps
serving.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support.albums import album
from tests.support.albums import fill as fill_albums
from tests.support.apps import cache_path, cached_cover
from tests.support.disk import fill, mounted_tmpfs
from tests.support.images import jpeg_bytes
from tests.support.owner import bearer
from tests.support.paths import ROOT
from tests.support.photos import upload
from tests.support.robust_site import ALBUM, ROBUST_SETTINGS, fill_site
from tests.support.servers import GunicornServer
from vinylvault import db, lifecycle
from vinylvault.covers import extension
from vinylvault.db import CorruptDatabase

GARBAGE = b"this is not a database\x00\xff" * 2000


def _set_cover(app: Flask, url: str) -> None:
    fill_albums(app, [album(ALBUM, cover_url=url)])


# --- damaged databases ----------------------------------------------------------------------


def test_corrupt_cache_index_is_moved_aside_and_rebuilt(make_app, origin, caplog):
    app = make_app()
    fill_site(app)
    entry = cached_cover(app, origin)
    settings = app.config["SETTINGS"]
    lifecycle.shutdown(app)
    index_path = Path(settings.CACHE_DATABASE_PATH)
    index_path.write_bytes(GARBAGE)
    for suffix in ("-wal", "-shm"):
        Path(f"{index_path}{suffix}").unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING):
        app = make_app()
    warnings = [r for r in caplog.records if "is corrupt" in r.getMessage()]
    assert len(warnings) == 1 and not warnings[0].exc_info and "\n" not in warnings[0].getMessage()
    aside = list(index_path.parent.glob(f"{index_path.name}.corrupt-*"))
    assert [p.read_bytes() for p in aside if p.name.endswith(tuple("0123456789"))] == [GARBAGE]
    # The rebuilt index starts empty, and the files it no longer knows are gone (the budget holds).
    assert not entry.path.exists()
    client = app.test_client()
    assert client.get("/").status_code == 200
    health = client.get("/api/cache/health")
    assert health.status_code == 200 and health.get_json()["status"] == "healthy"
    assert cached_cover(app, origin, "/again.jpg") is not None


def test_corrupt_collection_database_refuses_to_start_and_keeps_the_file(make_app, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "vinylvault.db").write_bytes(GARBAGE)
    with pytest.raises(CorruptDatabase) as raised:
        make_app()
    message = str(raised.value)
    assert "\n" not in message and "vinylvault.db" in message and "damaged" in message
    assert (data / "vinylvault.db").read_bytes() == GARBAGE


# --- misbehaving sources --------------------------------------------------------------------


def test_html_served_as_jpeg_renders_the_page_and_serves_a_placeholder(make_app, origin):
    app = make_app(ON_DEMAND_WAIT_SECONDS=10)
    fill_site(app)
    url = origin.add_html("/cover.jpg", content_type="image/jpeg")
    _set_cover(app, url)
    client = app.test_client()
    assert client.get(f"/album/{ALBUM}").status_code == 200
    response = client.get(cache_path(app, url))
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert extension.get_cache().is_failed(url)
    assert client.get(f"/album/{ALBUM}").status_code == 200  # and again, from the negative cache


def test_a_dripping_origin_does_not_hold_up_page_renders(make_app, origin):
    # Several MB at one byte per tick: a render that downloaded would still be waiting.
    app = make_app(DOWNLOAD_DEADLINE_SECONDS=3, READ_TIMEOUT_SECONDS=3)
    fill_site(app)
    url = origin.add_slow_drip("/drip.jpg", size=5_000_000, chunk=1, interval=0.05)
    _set_cover(app, url)
    client = app.test_client()
    for path in ("/", f"/album/{ALBUM}", f"/now-playing/{ALBUM}", "/search?q=Band", "/api/collection"):
        assert client.get(path).status_code == 200, path
    with app.app_context():
        cache = extension.get_cache()
        # Rendered while the download had neither finished nor given up.
        assert cache.lookup(url, "thumbnails") is None and not cache.is_failed(url)


# --- a full disk ----------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, or a skip where mounting is not permitted."""
    with mounted_tmpfs(tmp_path / "tiny", "2m") as mount:
        yield mount


def test_full_disk_fails_the_conversion_cleanly_and_the_app_keeps_serving(make_app, origin, tiny_disk, caplog):
    app = make_app(COVERS_DIR=tiny_disk / "covers", ON_DEMAND_WAIT_SECONDS=10)
    fill_site(app)
    client = app.test_client()
    assert client.get("/cache/placeholders/placeholder_thumbnails.webp").status_code == 200
    fill(tiny_disk, leave=2048)
    url = origin.add_file("/big.jpg", _noisy_jpeg())
    _set_cover(app, url)
    caplog.clear()
    with app.app_context():
        assert extension.get_cache().get_image(url, "thumbnails", wait=30) is None
    tracebacks = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert not tracebacks, tracebacks[0].getMessage()
    assert any("No space" in r.getMessage() or "space" in r.getMessage() for r in caplog.records)
    assert list((tiny_disk / "covers" / ".tmp").iterdir()) == []
    assert list((tiny_disk / "covers" / "thumbnails").rglob("*.webp")) == []
    assert client.get("/").status_code == 200
    response = client.get(cache_path(app, url))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("room", [2048, 160 * 1024], ids=["original-fails", "derivatives-fail"])
def test_a_photo_upload_on_a_full_disk_answers_507_and_keeps_nothing(make_app, tiny_disk, room, caplog):
    """Whether the original or its derivatives hit the full disk: a clear 507, nothing kept."""
    app = make_app(PHOTOS_DIR=tiny_disk / "photos")
    token = fill_site(app)
    client = app.test_client()
    fill(tiny_disk, leave=room)
    response = upload(client, [("copy.jpg", _noisy_jpeg())], ALBUM, bearer(token))
    assert response.status_code == 507, response.get_json()
    assert response.get_json()["error"] == "storage_full"
    with app.app_context():
        assert db.get_db().execute("SELECT count(*) FROM photos").fetchone()[0] == 0
    photos_dir = tiny_disk / "photos"
    assert [p for p in (photos_dir / "originals").rglob("*") if p.is_file()] == []
    assert list((photos_dir / "derived").rglob("*.webp")) == []
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]


def _noisy_jpeg() -> bytes:
    """A JPEG whose WebP renditions are far bigger than a few KB (noise does not compress)."""
    return jpeg_bytes(600, 600, noise=True)


# --- bodies that never come -----------------------------------------------------------------


@pytest.fixture
def live_site(make_app) -> Iterator[tuple[str, int, str]]:
    """The app behind a real HTTP server on 127.0.0.1: (host, port, API token)."""
    app = make_app(**ROBUST_SETTINGS)
    token = fill_site(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port, token
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize(
    "path, content_type, auth",
    [
        (f"/api/albums/{ALBUM}/photos", "multipart/form-data; boundary=x", True),
        ("/api/cache/preload", "application/json", True),
        ("/api/photos/0123/", "application/json", True),
        ("/login", "application/x-www-form-urlencoded", False),
        (f"/album/{ALBUM}/photos", "multipart/form-data; boundary=x", True),
    ],
)
def test_a_1_gb_content_length_is_refused_up_front(live_site, path, content_type, auth):
    host, port, token = live_site
    method = "PATCH" if path.startswith("/api/photos/") else "POST"
    head = (
        f"{method} {path.rstrip('/')} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {1 << 30}\r\nConnection: close\r\n"
        + (f"Authorization: Bearer {token}\r\n" if auth else "")
        + "\r\n"
    )
    with socket.create_connection((host, port), timeout=20) as sock:
        sock.sendall(head.encode() + b"only the first bytes")
        # The answer comes although the body never will: nothing waited to read it.
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]


def test_refused_text_is_a_400_through_gunicorn(make_app, tmp_path):
    """What the app refuses is a 400 naming the reason through the production server too."""
    app = make_app(**ROBUST_SETTINGS)
    token = fill_site(app)
    lifecycle.shutdown(app)
    requests = [
        (b"GET /search?q=%00 HTTP/1.1", b""),
        (b"GET /album/%00 HTTP/1.1", b""),
        (b"POST /api/cache/preload HTTP/1.1", b'{"urls": ["http://example.com/\\ud800.jpg"]}'),
    ]
    env = {"VINYL_VAULT_SYNC_INTERVAL_HOURS": "0", "VINYL_VAULT_DEMO_WHEN_EMPTY": "false"}
    with GunicornServer(
        app.config["SETTINGS"].DATA_DIR, log_path=tmp_path / "gunicorn.log", workers=1, env=env
    ) as server:
        for request_line, body in requests:
            head = (
                request_line
                + f"\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
                sock.sendall(head + body)
                reply = b"".join(iter(lambda: sock.recv(65536), b"")).decode("latin-1")
            assert reply.startswith("HTTP/1.1 400"), (request_line, reply[:300])
            assert "cannot be used" in reply, reply[-600:]
        assert "Traceback" not in server.log_text()


# --- several processes writing at once -------------------------------------------------------


def test_concurrent_writer_processes_never_meet_a_locked_database(site, tmp_path):
    """Three processes upload and edit photos on one DATA_DIR at once: every answer is 2xx."""
    data_dir = site.app.config["SETTINGS"].DATA_DIR
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.robustness.writer", str(data_dir), site.token, site.photo_id, "8"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
        assert "database is locked" not in err and "Traceback" not in err, err[-2000:]
        assert out.split() == ["201", "200"] * 8, out
    with site.app.app_context():
        assert db.get_db().execute("SELECT count(*) FROM photos").fetchone()[0] == 1 + 3 * 8
