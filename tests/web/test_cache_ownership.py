"""Each app owns its cover cache; emitting a cached cover's URL keeps its recency."""

from __future__ import annotations

import time

import image_cache
from tests.support.apps import cached_cover
from vinylvault import lifecycle


def test_a_second_app_leaves_the_first_apps_cache_open(make_app, tmp_path):
    first = make_app()
    second = make_app(DATA_DIR=tmp_path / "other")
    first_cache = first.extensions["image_cache"]
    assert image_cache.get_image_cache() is second.extensions["image_cache"]
    assert first_cache.get_cache_stats()["total_entries"] == 0  # still usable: not closed
    lifecycle.shutdown(second)
    assert image_cache.get_image_cache() is None
    assert first_cache.get_cache_stats()["total_entries"] == 0


def test_emitting_a_cached_covers_url_refreshes_recency_without_counting_a_hit(app, origin):
    entry = cached_cover(app, origin)
    cache = app.extensions["image_cache"]
    cache.flush()
    before = cache.lookup_key(entry.key, "thumbnails")
    hits_before = cache.get_cache_stats()["hits"]
    time.sleep(0.01)
    with app.test_request_context("/"):
        from vinylvault.covers.tags import cover_img

        html = str(cover_img({"cover_url": entry.url, "artist": "A", "title": "T"}))
    assert entry.key in html
    cache.flush()
    after = cache.lookup_key(entry.key, "thumbnails")
    assert after.last_access > before.last_access
    assert after.hits == before.hits
    assert cache.get_cache_stats()["hits"] == hits_before
