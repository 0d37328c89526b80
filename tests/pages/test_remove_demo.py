"""Removing the demo takes its cached images with it: the cache's numbers describe what is left."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.support.demo_site import cache_local_cover
from tests.support.owner import form_csrf, logged_in
from vinylvault import db
from vinylvault.library import collection, demo


def cache_the_demo(app: Flask) -> list[Path]:
    """Convert every demo cover through the app's cache, as browsing the grid would; their files."""
    cache = app.extensions["image_cache"]
    with app.app_context():
        urls = [album.image_url for album in collection.list_albums(db.get_db(), limit=100).albums]
    files = []
    for url in urls:
        assert cache.get_image(url, "detail", wait=30) is not None, url
        files += [cache.lookup(url, size).path for size in ("thumbnails", "detail")]
    return files


def test_remove_demo_removes_its_cached_images_and_keeps_the_owners(demo_app: Flask):
    demo_files = cache_the_demo(demo_app)
    mine = cache_local_cover(Path(demo_app.config["DATA_DIR"]), "mine", (20, 90, 200))
    cache = demo_app.extensions["image_cache"]
    assert cache.get_cache_stats()["total_entries"] == 2 * 48 + 2

    owner = logged_in(demo_app)
    response = owner.post("/demo/remove", data={"csrf_token": form_csrf(owner, "/")})
    assert response.status_code == 303
    assert "48 albums and their 96 cached cover images" in owner.get("/").get_data(as_text=True)

    stats = cache.get_cache_stats()
    assert (stats["total_entries"], stats["thumbnail_count"], stats["detail_count"]) == (2, 1, 1)
    assert stats["total_size_bytes"] == sum(e.bytes for e in cache.index.iter_entries())
    assert not any(path.exists() for path in demo_files)
    assert cache.index.get(mine, "thumbnails").path.is_file()
    assert not (Path(demo_app.config["DATA_DIR"]) / demo.DEMO_COVERS).exists()  # the drawn sources too
    assert '<span data-stat="total_entries">2</span> images' in owner.get("/stats").get_data(as_text=True)


def test_remove_demo_command_removes_its_cached_images(demo_app: Flask):
    cache_the_demo(demo_app)
    result = demo_app.test_cli_runner().invoke(args=["remove-demo"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Removed 48 demo albums and 96 cached cover images."
    assert demo_app.extensions["image_cache"].get_cache_stats()["total_entries"] == 0


def test_images_left_by_an_earlier_removal_go_with_the_next_one(demo_app: Flask):
    """A demo removed before its images were tracked left them cached: removing by prefix finds them."""
    cache_the_demo(demo_app)
    with demo_app.app_context():
        assert demo.remove_demo(db.get_db(), demo_app.config["DATA_DIR"]).cached_images == 0  # no cache given
        assert demo.remove_demo(
            db.get_db(), demo_app.config["DATA_DIR"], demo_app.extensions["image_cache"]
        ) == demo.RemovedDemo(0, 96)
