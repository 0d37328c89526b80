"""The owner's evening with a real collection: log in, open an album, add a photo, play it, clear the cache.

Runs on both screens against the shared 520-album site; emptying the cache
is the last step, and ``rewarm`` converts every cover again afterwards.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import VIEWPORTS, log_in
from tests.support.collection_site import cover_jpeg
from tests.support.demo_site import cover_cache
from tests.support.grid_journey import SIDEWAYS_OVERFLOW, cards, scroll_by_flicks
from vinylvault import db
from vinylvault.library import collection

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The cover <img> of an album or now-playing page, which renders it eagerly.
DETAIL_COVER = "main .cover > img[data-size-type=detail]"
#: Converting the first screen again from the image host after the cache was emptied.
COLD_SCREEN_TIMEOUT_MS = 60_000


def shows_real_image(page, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        """img => img.complete && img.naturalWidth > 0
        && !img.currentSrc.startsWith('data:') && !img.currentSrc.includes('/placeholders/')""",
    )


def play_count(site, album_path: str) -> int:
    conn = db.connect(site.settings().DATABASE_PATH)
    try:
        return collection.get_album(conn, int(album_path.rsplit("/", 1)[-1])).play_count
    finally:
        conn.close()


def open_album_from_a_later_page(page, site) -> str:
    """Scroll to the grid's third page and open the first card there; the album's path."""
    page.goto(site.url("/"))
    scroll_by_flicks(page, until_cards=3 * 48)
    card = page.locator("[data-album-grid] > li").nth(2 * 48)
    card.scroll_into_view_if_needed()
    href = cards(page)[2 * 48].href
    card.locator("a").click()
    page.wait_for_url(f"**{href}")
    return href


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_owner_opens_an_album_adds_a_photo_plays_it_and_clears_the_cache(big_site, new_page, viewport, rewarm):
    page = new_page(VIEWPORTS[viewport])
    log_in(page, big_site, big_site.password)

    album_path = open_album_from_a_later_page(page, big_site)
    expect(page.locator(DETAIL_COVER)).to_be_visible()
    page.wait_for_function(f"() => document.querySelector('{DETAIL_COVER}').complete")
    assert shows_real_image(page, DETAIL_COVER)
    assert page.evaluate(SIDEWAYS_OVERFLOW) == 0

    page.set_input_files(
        "#photo-files",
        files=[{"name": "sleeve.jpg", "mimeType": "image/jpeg", "buffer": cover_jpeg(10_000 + len(viewport))}],
    )
    photos = page.locator(".photos__grid img")
    before = photos.count()
    page.locator("form[data-photo-upload] button[type=submit]").click()
    expect(photos).to_have_count(before + 1)
    page.wait_for_load_state("load")
    photos.last.scroll_into_view_if_needed()
    page.wait_for_function("""() => [...document.querySelectorAll('.photos__grid img')]
        .every(img => img.complete && img.naturalWidth > 0)""")
    assert page.url.split("?")[0].split("#")[0].endswith(album_path)

    plays = play_count(big_site, album_path)
    page.get_by_role("button", name="Now playing").click()
    page.wait_for_url("**/now-playing/**")
    expect(page.locator("main")).to_contain_text(f"Played {plays + 1} time")
    assert play_count(big_site, album_path) == plays + 1
    page.wait_for_function(f"() => document.querySelector('{DETAIL_COVER}').complete")
    assert shows_real_image(page, DETAIL_COVER)
    assert page.evaluate(SIDEWAYS_OVERFLOW) == 0

    origin_before = len(big_site.origin.requests)
    page.goto(big_site.url("/admin"))
    button = page.locator("form[data-clear-cache] button")
    button.click()
    expect(button).to_have_attribute("data-confirm", "armed")
    button.click()
    expect(page.locator("[data-actions-status]")).to_contain_text("Cover cache cleared")
    with cover_cache(big_site.settings()) as cache:
        assert cache.get_cache_stats()["total_entries"] == 0

    # The grid still shows covers: converted again from the image host as they are viewed.
    page.goto(big_site.url("/"))
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-album-grid] > li .cover > img')]
        .slice(0, 4).every(img => img.complete && img.currentSrc.includes('/cache/thumbnails/')
                                   && !img.classList.contains('lazy-load'))""",
        timeout=COLD_SCREEN_TIMEOUT_MS,
    )
    assert len(big_site.origin.requests) > origin_before
