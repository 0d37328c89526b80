"""With the memory tier on, cover hits are accounted to the page that shows them."""

from __future__ import annotations

from tests.support.apps import cached_cover
from tests.support.owner import log_in, session_csrf, set_owner_password


def _cover_url(entry) -> str:
    return f"/cache/{entry.size_type}/{entry.key}.webp"


def test_hits_fill_the_scope_of_the_referring_page_and_one_scope_clears_alone(make_app, origin):
    app = make_app(MEMORY_CACHE_ENABLED=True)
    grid_cover = cached_cover(app, origin, "/grid.jpg")
    album_cover = cached_cover(app, origin, "/album.jpg", width=500, height=400)
    client = app.test_client()
    on_grid = client.get(_cover_url(grid_cover), headers={"Referer": "http://pi.local/?sort=year"})
    on_album = client.get(_cover_url(album_cover), headers={"Referer": "http://pi.local/album/7"})
    assert on_grid.status_code == on_album.status_code == 200
    assert on_grid.data == grid_cover.path.read_bytes()
    assert on_grid.headers["ETag"] == f'"{grid_cover.content_hash}"'
    hostile = client.get(_cover_url(grid_cover), headers={"Referer": "http://x/" + "z" * 5000})
    assert hostile.status_code == 200

    scopes = client.get("/api/cache/stats").get_json()["memory_tier"]["scopes"]
    assert scopes["grid"] == {"bytes": grid_cover.bytes, "items": 1}
    assert scopes["album"] == {"bytes": album_cover.bytes, "items": 1}
    assert set(scopes) <= {"grid", "album", "search", "stats", "admin", "other"}

    set_owner_password(app)
    log_in(client)
    cleared = client.post("/api/cache/scopes/grid/clear", headers={"X-CSRF-Token": session_csrf(client)})
    assert cleared.status_code == 200 and cleared.get_json()["freed_bytes"] == grid_cover.bytes
    scopes = client.get("/api/cache/stats").get_json()["memory_tier"]["scopes"]
    assert scopes.get("grid", {"bytes": 0})["bytes"] == 0
    assert scopes["album"]["bytes"] == album_cover.bytes


def test_a_vanished_file_is_converted_again_from_memory_mode_too(make_app, origin):
    app = make_app(MEMORY_CACHE_ENABLED=True)
    entry = cached_cover(app, origin)
    entry.path.unlink()
    response = app.test_client().get(_cover_url(entry), headers={"Referer": "http://pi.local/"})
    assert response.status_code == 200 and "X-VinylVault-Placeholder" not in response.headers
    assert origin.hits("/cover.jpg") == 2
