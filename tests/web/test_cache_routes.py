"""GET|HEAD /cache/...: hits, 304 without the file, on-demand conversion,
placeholders, delivery modes and a path-traversal corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apps import cached_cover
from tests.support.images import jpeg
from vinylvault.covers import extension

IMMUTABLE = "public, max-age=31536000, immutable"


def _url(entry) -> str:
    return f"/cache/{entry.size_type}/{entry.key}.webp"


def test_hit_is_immutable_with_etag_and_length(app, client, origin):
    entry = cached_cover(app, origin)
    response = client.get(_url(entry))
    assert response.status_code == 200
    assert response.mimetype == "image/webp"
    assert response.data == entry.path.read_bytes()
    assert response.headers["Content-Length"] == str(entry.path.stat().st_size)
    assert response.headers["ETag"] == f'"{entry.content_hash}"'
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert "X-VinylVault-Placeholder" not in response.headers
    # Serving an image must not start a session (no cookie, no Vary: Cookie).
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")


def test_detail_size_is_served_too(app, client, origin):
    entry = cached_cover(app, origin)
    response = client.get(f"/cache/detail/{entry.key}.webp")
    assert response.status_code == 200 and response.mimetype == "image/webp"
    with app.app_context():
        detail = extension.get_cache().lookup_key(entry.key, "detail")
    assert response.data == detail.path.read_bytes()


def test_if_none_match_is_answered_without_the_file(app, client, origin):
    entry = cached_cover(app, origin)
    entry.path.unlink()  # 304 must come from the index alone
    for header in (f'"{entry.content_hash}"', f'W/"{entry.content_hash}"', f'"other", "{entry.content_hash}"'):
        response = client.get(_url(entry), headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.data == b""
        assert response.headers["ETag"] == f'"{entry.content_hash}"'
        assert response.headers["Cache-Control"] == IMMUTABLE
    assert origin.hits("/cover.jpg") == 1


def test_stale_etag_gets_the_image(app, client, origin):
    entry = cached_cover(app, origin)
    response = client.get(_url(entry), headers={"If-None-Match": '"0123"'})
    assert response.status_code == 200 and response.data == entry.path.read_bytes()


def test_head_has_headers_and_no_body(app, client, origin):
    entry = cached_cover(app, origin)
    response = client.head(_url(entry))
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(entry.bytes)
    assert response.headers["ETag"] == f'"{entry.content_hash}"'


def test_hits_are_batched_in_memory_then_flushed(app, client, origin):
    entry = cached_cover(app, origin)
    for _ in range(3):
        assert client.get(_url(entry)).status_code == 200
    assert client.get(_url(entry), headers={"If-None-Match": f'"{entry.content_hash}"'}).status_code == 304
    with app.app_context():
        cache = extension.get_cache()
        assert cache.lookup_key(entry.key, "thumbnails").hits == 0  # nothing written per hit
        cache.flush()
        assert cache.lookup_key(entry.key, "thumbnails").hits == 4


def test_images_ignore_the_session_cookie(app, client, origin):
    entry = cached_cover(app, origin)
    client.set_cookie("session", "not-a-signed-value")
    response = client.get(_url(entry))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_other_methods_are_405(app, client, origin):
    entry = cached_cover(app, origin)
    for method in ("POST", "PUT", "DELETE"):
        response = client.open(_url(entry), method=method)
        assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_unknown_key_is_404(client):
    response = client.get(f"/cache/thumbnails/{'ab' * 32}.webp")
    assert response.status_code == 404
    assert client.head(f"/cache/detail/{'cd' * 32}.webp").status_code == 404


def test_known_source_is_converted_on_demand_once(app, client, origin):
    url = origin.add_file("/new.jpg", jpeg(400, 300))
    with app.app_context():
        cache = extension.get_cache()
        cache.register_sources([url])
        key = cache.key_for(url)
    first = client.get(f"/cache/thumbnails/{key}.webp")
    assert first.status_code == 200 and "X-VinylVault-Placeholder" not in first.headers
    assert first.headers["Cache-Control"] == IMMUTABLE
    second = client.get(f"/cache/detail/{key}.webp")
    assert second.status_code == 200 and "X-VinylVault-Placeholder" not in second.headers
    assert origin.hits("/new.jpg") == 1


def test_failing_source_gets_placeholder_never_cached(app, client, origin):
    url = origin.add_status("/gone.jpg", 404)
    with app.app_context():
        cache = extension.get_cache()
        cache.register_sources([url])
        key = cache.key_for(url)
        placeholder = Path(cache.get_placeholder_path("thumbnails")).read_bytes()
    for _ in range(2):
        response = client.get(f"/cache/thumbnails/{key}.webp")
        assert response.status_code == 200
        assert response.headers["X-VinylVault-Placeholder"] == "1"
        assert response.headers["Cache-Control"] == "no-store"
        assert "ETag" not in response.headers
        assert response.data == placeholder
    assert origin.hits("/gone.jpg") == 1  # the negative cache holds the second request


def test_vanished_file_is_converted_again(app, client, origin):
    entry = cached_cover(app, origin)
    entry.path.unlink()
    response = client.get(_url(entry))
    assert response.status_code == 200 and "X-VinylVault-Placeholder" not in response.headers
    assert entry.path.is_file() and response.data == entry.path.read_bytes()
    assert origin.hits("/cover.jpg") == 2


@pytest.mark.parametrize("size_type", ["thumbnails", "detail"])
def test_placeholder_route(client, size_type):
    response = client.get(f"/cache/placeholders/placeholder_{size_type}.webp")
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.data[:4] == b"RIFF" and response.data[8:12] == b"WEBP"
    assert client.head(f"/cache/placeholders/placeholder_{size_type}.webp").data == b""


def test_x_accel_redirect_delivery(make_app, origin):
    app = make_app(FILE_DELIVERY="x-accel-redirect", X_ACCEL_PREFIX="/_covers/")
    entry = cached_cover(app, origin)
    response = app.test_client().get(_url(entry))
    assert response.status_code == 200 and response.data == b""
    relative = entry.path.relative_to(app.config["COVERS_DIR"]).as_posix()
    assert response.headers["X-Accel-Redirect"] == f"/_covers/{relative}"
    assert relative == f"thumbnails/{entry.key[:2]}/{entry.key}.webp"
    assert response.headers["ETag"] == f'"{entry.content_hash}"'
    assert response.headers["Cache-Control"] == IMMUTABLE
    placeholder = app.test_client().get("/cache/placeholders/placeholder_detail.webp")
    # Placeholders come from memory in every delivery mode: no file a full disk could keep from being written.
    assert "X-Accel-Redirect" not in placeholder.headers
    with app.app_context():
        assert placeholder.data == extension.get_cache().placeholder_bytes("detail")


def test_x_sendfile_delivery(make_app, origin):
    app = make_app(FILE_DELIVERY="x-sendfile")
    entry = cached_cover(app, origin)
    response = app.test_client().get(_url(entry))
    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Sendfile"] == str(entry.path)
    assert response.headers["Content-Type"] == "image/webp"


CANARY = b"CANARY-3f1d0c9e-must-never-be-served"


@pytest.fixture
def canaries(app) -> list[Path]:
    """Files a traversal would aim at, around and inside the cache."""
    covers = Path(app.config["COVERS_DIR"])
    places = [
        Path(app.config["DATA_DIR"]) / "secret.webp",
        covers.parent / "secret.webp",
        covers / "secret.webp",
        covers / "thumbnails" / "secret.webp",
    ]
    for place in places:
        place.write_bytes(CANARY)
    return places


def _traversal_corpus(key: str) -> list[str]:
    return [
        "/cache/thumbnails/..%2f..%2fsecret.webp",
        "/cache/thumbnails/%2e%2e%2f%2e%2e%2fsecret.webp",
        "/cache/thumbnails/%2e%2e/%2e%2e/secret.webp",
        "/cache/thumbnails/%252e%252e%252f%252e%252e%252fsecret.webp",
        "/cache/thumbnails/../../secret.webp",
        "/cache/thumbnails/../secret.webp",
        "/cache/../secret.webp",
        "/cache/thumbnails/secret.webp",
        "/cache/secret.webp",
        "/cache/thumbnails//etc/passwd",
        "/cache//etc/passwd",
        "/cache/thumbnails/%2fetc%2fpasswd",
        "/cache/thumbnails/..\\..\\secret.webp",
        "/cache/thumbnails/..%5c..%5csecret.webp",
        "/cache/thumbnails/C:%5csecret.webp",
        f"/cache/thumbnails/{key}.webp%00.png",
        f"/cache/thumbnails/{key}%00.webp",
        "/cache/thumbnails/%00.webp",
        f"/cache/thumbnails/{'a' * 5000}.webp",
        f"/cache/thumbnails/{key * 50}.webp",
        f"/cache/thumbnails/{key.upper()}.webp",
        f"/cache/thumbnails/{key[:63]}.webp",
        f"/cache/thumbnails/{key}0.webp",
        f"/cache/thumbnails/{key}.webp.php",
        f"/cache/thumbnails/{key}.php",
        f"/cache/thumbnails/{key}",
        f"/cache/thumbnails/{key[:2]}/{key}.webp",
        f"/cache/thumbnails/../../x/{key}.webp",
        f"/cache/thumbnails%2f..%2f..%2fsecret/{key}.webp",
        f"/cache/thumbnails/../../../etc/{key}.webp",
        f"/cache/square/{key}.webp",
        f"/cache/secret/{key}.webp",
        f"/cache/Thumbnails/{key}.webp",
        f"/cache/.tmp/{key}.webp",
        f"/cache/.locks/{key}.webp",
        "/cache/placeholders/placeholder_thumbnails/../../secret.webp",
        "/cache/placeholders/placeholder_..%2f..%2fsecret.webp",
        "/cache/placeholders/placeholder_square.webp",
        "/cache/placeholders/placeholder_thumbnails/../../x.webp",
        "/cache/placeholders/../secret.webp",
        "/cache/placeholders/secret.webp",
        "/cache/cache_index.db",
        "/cache/thumbnails/..%2f..%2fcache_index.db",
        "/cache/thumbnails/..%2f..%2f..%2fvinylvault.db",
    ]


def test_path_traversal_corpus_is_404_and_reads_nothing(app, client, origin, canaries):
    entry = cached_cover(app, origin)
    for path in _traversal_corpus(entry.key):
        for method in (client.get, client.head):
            response = method(path)
            # A NUL is refused at the edge (vinylvault/web/inputs.py) before any route looks.
            assert response.status_code == (400 if "%00" in path else 404), path
            assert CANARY not in response.data and b"SQLite format 3" not in response.data, path
    assert all(place.read_bytes() == CANARY for place in canaries)


def test_local_covers_come_from_the_demo_folder_only(app, client):
    """A ``local:`` cover URL (from a sync, say) cannot publish the owner's private files."""
    data_dir = Path(app.config["DATA_DIR"])
    planted = {
        "demo/covers/1.jpg": "ok",
        "photos/originals/1/private.jpg": "refused",
        "secret.jpg": "refused",
        "cache/covers/x.jpg": "refused",
    }
    for relative in planted:
        (data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / relative).write_bytes(jpeg())
    cache = app.extensions["image_cache"]
    outcome = {
        relative: "ok" if cache.get_image(f"local:{relative}", "thumbnails", wait=30) else "refused"
        for relative in planted
    }
    assert outcome == planted
    private = cache.key_for("local:photos/originals/1/private.jpg")
    assert cache.index.failure_state(private).last_error == "path_traversal"
    assert client.get(f"/cache/thumbnails/{private}.webp").headers.get("X-VinylVault-Placeholder") == "1"
