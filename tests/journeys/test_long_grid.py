"""A guest flicks through 520 albums to the very end, on the Pi's screen and on a phone.

Every page after the first arrives through the infinite scroll (pages.js), so
these tests hold the lazy loader (app.js) to every card, not only the first
page's: each card ends up showing its own cached cover, each cover is asked
for once and only when its card comes near the screen, nothing shifts and
nothing sticks out sideways. Filters, sorts and search results go the same way.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import FIRST_SCREEN_PAINTED, VIEWPORTS, first_screen_without_app_js
from tests.support.collection_site import ALBUMS, expected_total, most_common_genre
from tests.support.grid_journey import (
    EVERY_CARD_REAL,
    LAYOUT_SHIFTS,
    SIDEWAYS_OVERFLOW,
    CoverRequests,
    cards,
    not_showing,
    scroll_by_flicks,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Beyond app.js's 200 px look-ahead, with room to spare: covers this far below must wait.
FAR_BELOW_PX = 600
#: Loading the last screens' covers after the last flick.
SETTLE_MS = 30_000
#: app.js starts loading a cover this far above or below the screen.
LOOK_AHEAD_PX = 200
#: JS: jump ``screens`` screens down in one task, so that no frame is rendered in between (what a
#: fast flick does on a busy Pi), then let two frames render. For each card the jump carried from
#: wholly below the lazy loader's band to wholly above it (never near the screen in any frame):
#: whether its cover has been asked for.
JUMP_PAST_ROWS = """async ({screens, lookAhead}) => {
    const frames = async n => { for (let i = 0; i < n; i++) await new Promise(r => requestAnimationFrame(r)); };
    await frames(2);
    const covers = [...document.querySelectorAll('[data-album-grid] img[data-size-type]')];
    const before = covers.map(img => img.getBoundingClientRect());
    const distance = Math.round(innerHeight * screens);
    scrollBy(0, distance);
    await frames(2);
    return covers.filter((img, i) => before[i].top > innerHeight + lookAhead && before[i].bottom - distance < -lookAhead)
        .map(img => !img.hasAttribute('data-src'));
}"""


def wait_for_every_card(page) -> None:
    """Give the last covers time to arrive; the assertions after it say what is missing."""
    try:
        page.wait_for_function(EVERY_CARD_REAL, timeout=SETTLE_MS, polling=250)
    except PlaywrightTimeout:
        pass


def assert_every_card_shows_its_cover(page, expected: int) -> None:
    shown = cards(page)
    assert len(shown) == expected, f"{len(shown)} cards in the page, the collection holds {expected}"
    missing = not_showing(shown)
    assert not missing, f"{len(missing)} of {expected} cards show no real cover:\n" + "\n".join(missing[:10])
    assert len({card.href for card in shown}) == expected, "a card appears twice"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_guest_scrolls_to_the_end_and_every_card_shows_its_cover(big_site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.add_init_script(LAYOUT_SHIFTS)
    requests = CoverRequests(page)
    origin_before = len(big_site.origin.requests)
    page.goto(big_site.url("/"))

    scroll_by_flicks(page)
    wait_for_every_card(page)

    assert_every_card_shows_its_cover(page, ALBUMS)
    shown = cards(page)
    assert {card.asked for card in shown} <= set(requests.counts()), "a cover was never asked for"
    assert requests.repeated() == {}, "covers downloaded more than once"
    assert all(card.images == 1 for card in shown), "a card holds a second (hidden) cover image"
    assert len({(card.width, card.height) for card in shown}) == 1, "cards of different sizes"
    assert page.evaluate("() => window.__cardShifts") == [], "cards moved while covers loaded"
    assert page.evaluate(SIDEWAYS_OVERFLOW) == 0
    # Every cover came from the cache: nothing was downloaded from the image host meanwhile.
    assert len(big_site.origin.requests) == origin_before


def test_the_pi_first_screen_of_a_collection_comes_from_the_html_alone(big_site, new_page):
    """Without the demo's notice above the grid, the Pi's screen reaches into a third row: no cover there waits for app.js."""
    page = new_page(VIEWPORTS["pi"])
    on_screen = first_screen_without_app_js(page, big_site.url("/"))
    assert len(on_screen) > 12, "the first screen should show more than two rows"
    assert not any(on_screen), f"{sum(on_screen)} covers on the first screen wait for the script"
    page.wait_for_function(FIRST_SCREEN_PAINTED)


#: JS (init script): when the infinite scroll first appends a page, jump ``window.__jumpScreens``
#: screens down in the same task, before the new cards' first frame (a flick still going on a
#: busy Pi); ``window.__jumped`` keeps the new covers wholly above the lazy loader's band after it.
JUMP_AS_A_PAGE_ARRIVES = """
window.__jumped = null;
addEventListener('DOMContentLoaded', () => {
    const grid = document.querySelector('[data-album-grid]');
    new MutationObserver((records, observer) => {
        observer.disconnect();
        const added = records.flatMap(record => [...record.addedNodes]).filter(node => node.tagName === 'LI');
        const distance = Math.round(innerHeight * window.__jumpScreens);
        window.__jumped = added.map(li => li.querySelector('img[data-size-type]'))
            .filter(img => img.getBoundingClientRect().bottom - distance < -window.__lookAhead);
        scrollBy(0, distance);
    }).observe(grid, {childList: true});
});
"""
#: JS: whether each cover kept by JUMP_AS_A_PAGE_ARRIVES has been asked for, once two frames rendered.
JUMPED_ASKED = """async () => {
    for (let i = 0; i < 2; i++) await new Promise(r => requestAnimationFrame(r));
    return window.__jumped.map(img => !img.hasAttribute('data-src'));
}"""


def test_rows_flicked_past_between_two_frames_load_their_covers(big_site, new_page):
    """A flick of three screens between two frames skips rows the observer never saw; they load all the same."""
    page = new_page(VIEWPORTS["pi"])
    page.goto(big_site.url("/?limit=96"))
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    skipped = page.evaluate(JUMP_PAST_ROWS, {"screens": 3, "lookAhead": LOOK_AHEAD_PX})
    assert len(skipped) >= 6, "the jump should carry at least a row past the screen"
    assert all(skipped), f"{skipped.count(False)} of {len(skipped)} covers flicked past were never asked for"


def test_a_page_flicked_past_as_it_arrives_loads_its_covers(big_site, new_page):
    """Cards the infinite scroll inserts and a flick carries past before their first frame load all the same."""
    page = new_page(VIEWPORTS["pi"])
    page.add_init_script(f"window.__jumpScreens = 2.5; window.__lookAhead = {LOOK_AHEAD_PX};")
    page.add_init_script(JUMP_AS_A_PAGE_ARRIVES)
    page.goto(big_site.url("/"))
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    scroll_by_flicks(page, until_cards=49)
    page.wait_for_function("() => window.__jumped !== null")
    skipped = page.evaluate(JUMPED_ASKED)
    assert len(skipped) >= 6, "the jump should carry at least a row of the new page past the screen"
    assert all(skipped), f"{skipped.count(False)} of {len(skipped)} covers flicked past were never asked for"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_covers_far_below_the_screen_wait_even_on_later_pages(big_site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    requests = CoverRequests(page)
    page.goto(big_site.url("/"))
    in_page = scroll_by_flicks(page, until_cards=3 * 48)
    assert in_page >= 3 * 48, "the infinite scroll stopped before the third page"
    page.wait_for_timeout(500)  # lets requests already started reach the log; asserts nothing about time

    far_below = [card for card in cards(page) if card.top > page.viewport_size["height"] + FAR_BELOW_PX]
    assert far_below, "the next page should already be in the document, below the screen"
    asked_early = [card.asked for card in far_below if card.asked in requests.counts()]
    assert asked_early == [], f"{len(asked_early)} covers far below the screen were downloaded ahead"


GRID_QUERIES = {
    "sorted by year, newest first": ("/?sort=year&order=desc", {"sort": "year", "order": "desc"}),
    "sorted by date added": ("/?sort=added", {"sort": "added"}),
    "filtered by the commonest genre": (None, None),
    "search results": ("/search?q=Root", {"q": "Root"}),
}


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("journey", GRID_QUERIES)
def test_sorts_filters_and_search_load_more_pages_with_covers(big_site, new_page, viewport, journey):
    path, query = GRID_QUERIES[journey]
    if path is None:
        genre = most_common_genre(big_site)
        path, query = f"/?genre={genre}", {"genre": genre}
    expected = expected_total(big_site, **query)
    assert expected > 48, f"{journey}: one page only ({expected} albums); the journey needs more"
    page = new_page(VIEWPORTS[viewport])
    requests = CoverRequests(page)
    page.goto(big_site.url(path))

    scroll_by_flicks(page)
    wait_for_every_card(page)

    assert_every_card_shows_its_cover(page, expected)
    assert requests.repeated() == {}
    assert page.evaluate(SIDEWAYS_OVERFLOW) == 0
