"""deploy/vinylvault.conf under a real nginx in front of a real gunicorn."""

from __future__ import annotations

import gzip
import re
import ssl

import pytest

from tests.support.servers import http_get
from tests.support.stack import running_stack

KEY = "ab" + "0123456789abcdef" * 3 + "0123456789abcd"
OTHER_KEY = "cd" + "f" * 62
NGINX_ERROR_PAGE = b"<center>nginx</center>"
CANARY = b"CANARY-must-never-be-served"


@pytest.fixture(scope="module")
def cached_key(stack) -> str:
    return stack.cache_cover("red")


@pytest.mark.parametrize("size_type", ["thumbnails", "detail"])
def test_cached_cover_is_sent_by_nginx_with_the_apps_headers(stack, cached_key, size_type):
    url = stack.web.url(f"/cache/{size_type}/{cached_key}.webp")
    status, headers, body = http_get(url)
    assert status == 200
    assert body == stack.cover_path(cached_key, size_type).read_bytes()
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["ETag"]

    status, _, body = http_get(url, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")


def test_cached_cover_is_served_with_the_app_stopped(own_stack):
    """Proof that nginx, not the app, sends hits: they survive the app's absence, misses do not."""
    key = own_stack.cache_cover("blue", (30, 30, 200))
    own_stack.app.stop()
    status, _, body = http_get(own_stack.web.url(f"/cache/detail/{key}.webp"))
    assert (status, body) == (200, own_stack.cover_path(key, "detail").read_bytes())
    status, _, _ = http_get(own_stack.web.url(f"/cache/detail/{OTHER_KEY}.webp"))
    assert status == 502  # a miss goes to the app, which is gone


def test_a_miss_falls_through_to_the_app(stack):
    status, headers, body = http_get(stack.web.url(f"/cache/thumbnails/{OTHER_KEY}.webp"))
    # The app knows no source for this key: its 404, not nginx's own page.
    assert status == 404
    assert NGINX_ERROR_PAGE not in body
    assert "immutable" not in headers.get("Cache-Control", "")


@pytest.fixture(scope="module")
def canaries(stack) -> None:
    """Files in the cache and data folders that must never leave through nginx."""
    (stack.covers_dir / ".tmp").mkdir(exist_ok=True)
    (stack.covers_dir / ".tmp" / f"{KEY}.webp").write_bytes(CANARY)
    (stack.covers_dir / ".locks").mkdir(exist_ok=True)
    (stack.covers_dir / ".locks" / "key").write_bytes(CANARY)
    # A file at a real cover's place: reachable only by its one public URL.
    stack.cover_path(KEY).parent.mkdir(parents=True, exist_ok=True)
    stack.cover_path(KEY).write_bytes(CANARY)
    (stack.covers_dir / "thumbnails" / "ab" / f"{KEY}.webp.php").write_bytes(CANARY)
    (stack.covers_dir / "thumbnails" / "ab" / "index.html").write_bytes(CANARY)
    (stack.covers_dir.parent / "cache_index.db.canary").write_bytes(CANARY)
    photos = stack.data_dir / "photos" / "originals" / "1"
    photos.mkdir(parents=True, exist_ok=True)
    (photos / "1.jpg").write_bytes(CANARY)
    (stack.static_dir / ".env").write_bytes(CANARY)


@pytest.mark.parametrize(
    "path, status",
    [
        # nginx: no such file, a dot file, or the internal location asked for from outside.
        (f"/cache/thumbnails/ab/{KEY}.webp", 404),  # the on-disk layout is not a URL
        (f"/cache/thumbnails/{KEY.upper()}.webp", 404),
        (f"/cache/thumbnails/{KEY}.webp.php", 404),
        (f"/cache/thumbnails/{KEY}.webp/", 404),
        (f"/cache/thumbnails/{KEY[:63]}.webp", 404),
        (f"/cache/originals/{KEY}.webp", 404),
        (f"/cache/.tmp/{KEY}.webp", 404),
        ("/cache/.locks/key", 404),
        ("/cache/thumbnails/ab/", 404),
        ("/cache/thumbnails/ab/index.html", 404),
        ("/cache/", 404),
        ("/cache/../cache_index.db.canary", 404),
        ("/cache/thumbnails/..%2f..%2fcache_index.db.canary", 404),
        ("/cache/thumbnails/%252e%252e%252fcache_index.db.canary", 404),
        (f"/_cache_files/thumbnails/ab/{KEY}.webp", 404),  # internal: only for X-Accel-Redirect
        (f"/_cache_files/.tmp/{KEY}.webp", 404),
        ("/static/.env", 404),
        ("/static/../static/.env", 404),
        # nginx refuses a path that climbs above the root, or holds a NUL byte.
        ("/cache/%2e%2e/%2e%2e/photos/originals/1/1.jpg", 400),
        (f"/cache/thumbnails/{KEY}%00.webp", 400),
        ("/static/..%2f..%2fdata/photos/originals/1/1.jpg", 400),
        # Proxied: the app, not set up yet, sends every page to /setup.
        ("/photos/originals/1/1.jpg", 302),
        ("/data/photos/originals/1/1.jpg", 302),
    ],
)
def test_nothing_else_leaves_the_cache_or_data_folders(stack, canaries, path, status):
    answered, _, body = http_get(stack.web.url(path))
    assert answered == status, path
    assert CANARY not in body


def test_static_files_are_compressed_and_cached(stack):
    status, headers, body = http_get(stack.web.url("/static/style.css"), {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/css")
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == (stack.static_dir / "style.css").read_bytes()
    max_age = re.search(r"max-age=(\d+)", headers["Cache-Control"])
    assert max_age and int(max_age.group(1)) >= 86400


def test_covers_are_not_recompressed(stack, cached_key):
    _, headers, _ = http_get(stack.web.url(f"/cache/thumbnails/{cached_key}.webp"), {"Accept-Encoding": "gzip"})
    assert headers["Content-Type"] == "image/webp"
    assert "Content-Encoding" not in headers


# --- security headers on what nginx sends itself ------------------------------------


def _header_values(
    url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, list[str]]]:
    """(status, every value of each security header): a header sent twice shows twice."""
    import urllib.error
    import urllib.request

    from vinylvault.web.security_headers import security_headers

    request = urllib.request.Request(url, headers=headers or {})
    try:
        response = urllib.request.urlopen(request, timeout=10, context=context)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        return response.status, {name: response.headers.get_all(name) or [] for name in security_headers(False)}


def _expected_headers() -> dict[str, list[str]]:
    from vinylvault.web.security_headers import security_headers

    return {name: [value] for name, value in security_headers(False).items()}


def test_nginx_sends_the_apps_security_headers_once(stack, cached_key):
    cover = stack.web.url(f"/cache/thumbnails/{cached_key}.webp")
    _, headers, _ = http_get(cover)
    for url, extra, status in [
        (cover, {}, 200),  # sent by nginx from disk
        (cover, {"If-None-Match": headers["ETag"]}, 304),
        (stack.web.url("/static/style.css"), {}, 200),
        (stack.web.url("/static/missing.css"), {}, 404),
        (stack.web.url("/login"), {}, 200),  # proxied: the app's, not doubled
        (stack.web.url(f"/cache/thumbnails/{OTHER_KEY}.webp"), {}, 404),
    ]:
        assert _header_values(url, extra) == (status, _expected_headers()), url


def test_files_sent_by_x_accel_redirect_carry_the_headers(tmp_path):
    with running_stack(tmp_path, VINYL_VAULT_FILE_DELIVERY="x-accel-redirect") as accel:
        key = accel.cache_cover("teal", (20, 140, 140))
        cover = f"/cache/detail/{key}.webp"
        _, app_headers, _ = http_get(accel.app.url(cover))  # the app checks, nginx sends the file
        assert app_headers["X-Accel-Redirect"] == f"/_cache_files/detail/{key[:2]}/{key}.webp"
        status, headers, body = http_get(accel.web.url(cover))
        assert (status, body) == (200, accel.cover_path(key, "detail").read_bytes())
        assert "X-Accel-Redirect" not in headers
        assert _header_values(accel.web.url(cover)) == (200, _expected_headers())
