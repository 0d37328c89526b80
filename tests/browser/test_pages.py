"""Album, random, admin, stats and sync pages in chromium, with screenshots for review."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import VIEWPORTS, log_in, screenshot, swipe

pytestmark = pytest.mark.browser

ALBUM_URL = re.compile(r".*/album/-?\d+(\?.*)?$")
NAV_LINK = "a[rel~={}][data-nav]"


def album_with_neighbours(site) -> str:
    return site.url(f"/album/{site.album_ids[len(site.album_ids) // 2]}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_album_cover_loads(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.goto(album_with_neighbours(site))
    cover = page.locator("img[data-size-type=detail]").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=cover.element_handle())
    assert "/cache/detail/" in cover.evaluate("img => img.currentSrc")
    if viewport == "pi":
        screenshot(page, "album-800x480")


def test_arrow_keys_turn_the_page(site, new_page):
    page = new_page()
    page.goto(album_with_neighbours(site))
    start = page.url
    next_href = page.locator(NAV_LINK.format("next")).get_attribute("href")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda url: url != start)
    assert page.url.endswith(next_href)
    previous_href = page.locator(NAV_LINK.format("prev")).get_attribute("href")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(lambda url: url.endswith(previous_href))


def test_swipes_turn_the_page(site, new_page):
    page = new_page(has_touch=True)
    page.goto(album_with_neighbours(site))
    start = page.url
    next_href = page.locator(NAV_LINK.format("next")).get_attribute("href")
    swipe(page, -200)  # finger moves left: the next album
    page.wait_for_url(lambda url: url.endswith(next_href))
    swipe(page, 200)
    page.wait_for_url(start)


def test_random_button_spins_then_opens_an_album(site, new_page):
    page = new_page()
    page.goto(site.url("/spin"))
    button = page.locator("[data-spin]")
    button.click()
    assert "spinning" in button.get_attribute("class")
    assert page.evaluate("() => getComputedStyle(document.querySelector('[data-spin] svg')).animationName") != "none"
    page.wait_for_url(ALBUM_URL)


def test_cache_helpers_work_for_the_owner(site, new_page, rewarm):
    page = new_page()
    log_in(page, site)
    page.goto(site.url("/admin"))
    stats = page.evaluate("() => window.VinylVault.getCacheStats()")
    assert stats["total_entries"] > 0
    assert page.evaluate("() => window.VinylVault.clearImageCache()") is True
    assert page.evaluate("() => window.VinylVault.getCacheStats()")["total_entries"] == 0

    # Preloading the grid's covers converts them again through the app.
    page.goto(site.url("/"))
    result = page.evaluate("() => window.VinylVault.preloadCurrentPageImages()")
    assert result["total"] > 0 and result["loaded"] == result["total"] and result["failed"] == 0
    assert page.evaluate("() => window.VinylVault.getCacheStats()")["total_entries"] >= result["total"]


def test_clearing_the_cache_needs_the_owner(site, new_page):
    page = new_page()
    page.goto(site.url("/"))
    assert page.evaluate("() => window.VinylVault.clearImageCache()") is False


@pytest.mark.parametrize("path,name", [("/stats", "stats"), ("/sync", "sync"), ("/admin", "admin")])
def test_owner_pages_render_for_review(site, new_page, path, name):
    page = new_page()
    log_in(page, site)
    response = page.goto(site.url(path))
    assert response.status == 200
    screenshot(page, f"{name}-800x480")
