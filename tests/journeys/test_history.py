"""Back, forward and reload deep in a long grid: the same place, the same covers, nothing fetched again.

A guest scrolls to the grid's fourth page, opens an album and comes back: the
grid comes back from the back/forward cache exactly where it was, covers
shown. After a reload the album looked at is on screen again with its cover.
"""

from __future__ import annotations

import pytest

from tests.support.browser import FIRST_SCREEN_PAINTED, VIEWPORTS
from tests.support.grid_journey import CoverRequests, cards, scroll_by_flicks

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: JS: remember how each showing of the page came about (bfcache restores say persisted).
PAGE_SHOWS = """
window.__shows = [];
addEventListener('pageshow', event => window.__shows.push(event.persisted));
"""
#: Which card the guest looks at: the first of the grid's fourth page.
LOOKED_AT = 3 * 48
#: JS: is the card at this index on screen?
CARD_ON_SCREEN = """index => {
    const li = document.querySelectorAll('[data-album-grid] > li')[index];
    if (!li) return false;
    const box = li.getBoundingClientRect();
    return box.bottom > 0 && box.top < innerHeight;
}"""


def scroll_to_card(page, index: int) -> str:
    """Flick down until card ``index`` exists, centre it, wait for its screen of covers; its link."""
    scroll_by_flicks(page, until_cards=index + 1)
    page.evaluate(
        """index => document.querySelectorAll('[data-album-grid] > li')[index]
        .scrollIntoView({block: 'center'})""",
        index,
    )
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    return cards(page)[index].href


#: JS: why chromium did not restore this page from the back/forward cache (null when it did).
NOT_RESTORED = "() => JSON.stringify(performance.getEntriesByType('navigation')[0].notRestoredReasons)"


def go(page, direction: str, shows: int) -> None:
    """Back or forward; a page restored from bfcache fires no load, so wait for its pageshow
    (or for a page loaded afresh instead, which the caller's assertions then report).

    A restored page keeps the navigation entry of its first load; only a page
    loaded afresh by this back or forward has one of type ``back_forward``.
    """
    getattr(page, f"go_{direction}")(wait_until="commit")
    page.wait_for_function(
        """n => window.__shows && (window.__shows.length >= n
               || (performance.getEntriesByType('navigation')[0].type === 'back_forward'
                   && document.readyState === 'complete' && window.__shows.length === 1))""",
        arg=shows,
    )


def restored_from_bfcache(page, shows: list[bool]) -> None:
    assert page.evaluate("() => window.__shows") == shows, f"not restored from bfcache: {page.evaluate(NOT_RESTORED)}"


def find_card(page, href: str) -> int:
    return next(i for i, card in enumerate(cards(page)) if card.href == href)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_back_and_forward_return_to_the_same_place_with_covers(big_site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.add_init_script(PAGE_SHOWS)
    page.goto(big_site.url("/"))
    href = scroll_to_card(page, LOOKED_AT)
    scrolled = page.evaluate("() => scrollY")
    requests = CoverRequests(page)
    # The guest looks at the screen before tapping: what it was loading has arrived. (A page
    # leaving with a request in flight may not be kept in the back/forward cache.)
    page.wait_for_load_state("networkidle")

    page.locator(f"[data-album-grid] > li >> nth={LOOKED_AT}").locator("a").click()
    page.wait_for_url(f"**{href}")
    grid_requests_before = len([p for p in requests.paths if "/thumbnails/" in p])
    go(page, "back", shows=2)

    assert page.url == big_site.url("/")
    restored_from_bfcache(page, [False, True])
    assert page.evaluate("() => scrollY") == scrolled
    assert page.evaluate(CARD_ON_SCREEN, LOOKED_AT)
    assert page.evaluate(FIRST_SCREEN_PAINTED)
    assert len([p for p in requests.paths if "/thumbnails/" in p]) == grid_requests_before

    page.go_forward(wait_until="commit")
    assert page.url.endswith(href)
    go(page, "back", shows=3)
    restored_from_bfcache(page, [False, True, True])
    assert page.evaluate("() => scrollY") == scrolled
    assert page.evaluate(FIRST_SCREEN_PAINTED)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_reload_deep_in_the_grid_keeps_the_album_on_screen_with_covers(big_site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.goto(big_site.url("/"))
    href = scroll_to_card(page, LOOKED_AT)
    in_page = len(cards(page))
    page.wait_for_timeout(400)  # lets pages.js note the scroll position; asserts nothing about time
    requests = CoverRequests(page)

    page.reload()
    page.wait_for_load_state("load")
    page.wait_for_function("n => document.querySelectorAll('[data-album-grid] > li').length >= n", arg=in_page)
    page.wait_for_function(FIRST_SCREEN_PAINTED)

    shown = cards(page)
    assert href in [card.href for card in shown], "after the reload the grid no longer holds the album"
    assert len({card.href for card in shown}) == len(shown), "a card appears twice after the reload"
    index = find_card(page, href)
    assert page.evaluate(CARD_ON_SCREEN, index), "after the reload the album looked at is off screen"
    assert shown[index].shows_real_cover
    assert requests.repeated() == {}, "covers downloaded more than once after the reload"
    # Only the screen the reader is on (and the first page's eager row) is asked for, not every page.
    assert len(requests.paths) < in_page / 2
    # The browser scrolls again by itself on later reloads of other pages.
    assert page.evaluate("() => history.scrollRestoration") == "auto"
