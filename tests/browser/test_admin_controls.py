"""The admin page's cover cache controls (admin.js over window.VinylVault) at 800x480.

Each test changes the cache of the shared site, so each asks for ``rewarm``,
which converts every cover again afterwards. The server side is checked
through the cache index itself (the same files, as cache_monitor.py reads them).
"""

from __future__ import annotations

import re
from typing import Iterator

import pytest
from playwright.sync_api import expect

import config
from image_cache import ImageCache
from tests.support.browser import log_in, screenshot
from tests.support.demo_site import cover_cache

pytestmark = pytest.mark.browser

THUMBNAIL_URL = re.compile(r"/cache/thumbnails/([0-9a-f]{64})\.webp")
#: Converting a whole grid page on a cold cache takes a while on two cores.
COLD_PAGE_TIMEOUT_MS = 60_000


@pytest.fixture
def cache(site, rewarm) -> Iterator[ImageCache]:
    """The site's cover cache, opened beside the running server; rewarmed afterwards."""
    with cover_cache(config.load(DATA_DIR=site.data_dir)) as opened:
        yield opened


def admin_page(site, new_page, **options):
    page = new_page(**options)
    log_in(page, site)
    page.goto(site.url("/admin"))
    return page


def shown(page, stat: str):
    """The element showing one statistic of the cover cache block."""
    return page.locator(f"[data-cache-stats] [data-stat={stat}]")


def test_refresh_updates_the_numbers_in_place(site, new_page, cache):
    page = admin_page(site, new_page)
    before = int(shown(page, "total_entries").inner_text())
    page.evaluate("() => { window.sameDocument = true; }")

    removed = cache.remove_source(site.cover_urls[0])
    assert removed > 0
    page.get_by_role("link", name="Refresh the statistics").click()

    expect(page.locator("[data-stats-status]")).to_contain_text("Statistics updated")
    expect(shown(page, "total_entries")).to_have_text(str(before - removed))
    assert page.evaluate("() => window.sameDocument") is True, "Refresh reloaded the page"


def first_page_keys(page, site) -> list[str]:
    """The thumbnail keys of the grid's first page, in order (rendering it registers their sources)."""
    fragment = page.request.get(site.url("/?fragment=1")).text()
    return list(dict.fromkeys(THUMBNAIL_URL.findall(fragment)))


def test_clear_needs_a_second_press_then_empties_the_cache(site, new_page, cache):
    page = admin_page(site, new_page)
    key = first_page_keys(page, site)[0]
    assert cache.lookup_key(key, "thumbnails") is not None
    button = page.locator("form[data-clear-cache] button")
    status = page.locator("[data-actions-status]")

    button.click()
    expect(button).to_have_text("Press again to clear")
    expect(status).to_contain_text("again")
    assert cache.lookup_key(key, "thumbnails") is not None, "the first press cleared already"

    expect(button).to_have_attribute("data-confirm", "armed")
    button.click()
    expect(status).to_contain_text("Cover cache cleared")
    expect(shown(page, "total_entries")).to_have_text("0")
    expect(button).to_have_text("Clear cover cache")
    assert cache.lookup_key(key, "thumbnails") is None

    # The previously cached key is converted again on request, not answered with the placeholder.
    response = page.request.get(site.url(f"/cache/thumbnails/{key}.webp"))
    assert response.status == 200
    assert response.headers["content-type"] == "image/webp"
    assert "immutable" in response.headers["cache-control"]
    assert cache.lookup_key(key, "thumbnails") is not None


def test_preload_shows_progress_and_caches_the_first_grid_page(site, new_page, cache):
    assert cache.clear_cache()
    page = admin_page(site, new_page)
    page.get_by_role("button", name="Preload covers of the first grid page").click()

    keys = first_page_keys(page, site)
    assert keys
    expect(page.locator("[data-preload-count]")).to_have_text(
        f"{len(keys)} of {len(keys)}", timeout=COLD_PAGE_TIMEOUT_MS
    )
    expect(page.locator("[data-actions-status]")).to_have_text(
        f"Preloaded all {len(keys)} covers of the first grid page."
    )
    assert [key for key in keys if cache.lookup_key(key, "thumbnails") is None] == []
    assert int(shown(page, "thumbnail_count").inner_text()) >= len(keys)
    screenshot(page, "admin-controls-800x480")


def test_without_javascript_the_forms_still_work(site, new_page, cache):
    page = admin_page(site, new_page, java_script_enabled=False)
    expect(page.get_by_role("button", name="Preload covers of the first grid page")).to_be_hidden()
    expect(page.get_by_role("link", name="Refresh the statistics")).to_have_attribute("href", "/admin")

    page.get_by_role("button", name="Clear cover cache").click()
    expect(page.locator(".flash")).to_contain_text("Cover cache cleared")
    expect(shown(page, "total_entries")).to_have_text("0")
    assert cache.get_cache_stats()["total_entries"] == 0
