"""The admin view shows the memory tier per page scope and clears one scope alone."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from tests.support.owner import csrf_in, logged_in, set_owner_password


def _cached_local_cover(cache, data_dir: Path, name: str, colour: str):
    source = Path(data_dir) / "demo" / "covers" / f"{name}.jpg"  # where the app reads local covers
    source.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 300), colour).save(source, "JPEG")
    url = f"local:demo/covers/{name}.jpg"
    assert cache.get_image(url, "thumbnails", wait=30)
    return cache.lookup(url, "thumbnails")


def _scope_rows(html: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><td>(\w+)</td><td class=\"num\">(\d+)</td>", html))


def test_admin_lists_scopes_and_clears_one(make_page_app):
    app = make_page_app(MEMORY_CACHE_ENABLED=True)
    set_owner_password(app)
    client = logged_in(app)
    cache = app.extensions["image_cache"]
    for name, colour, scope in (("a", "red", "grid"), ("b", "blue", "album")):
        entry = _cached_local_cover(cache, app.config["DATA_DIR"], name, colour)
        cache.read_bytes(entry, scope=scope)

    page = client.get("/admin").get_data(as_text=True)
    assert _scope_rows(page) == {"album": "1", "grid": "1"}
    token = csrf_in(page)

    cleared = client.post("/admin/memory/grid/clear", data={"csrf_token": token})
    assert cleared.status_code == 303
    assert _scope_rows(client.get("/admin").get_data(as_text=True)) == {"album": "1"}
    assert client.post("/admin/memory/nope/clear", data={"csrf_token": token}).status_code == 404
    guest = app.test_client().post("/admin/memory/album/clear")
    assert guest.status_code == 302 and guest.location.startswith("/login")


def test_admin_says_when_the_memory_tier_is_off(make_page_app):
    app = make_page_app()
    set_owner_password(app)
    client = logged_in(app)
    assert "Covers are not kept in memory" in client.get("/admin").get_data(as_text=True)
