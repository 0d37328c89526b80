"""The grid at the Pi's 800x480 and at a phone's size: lazy covers, no layout shift, blur-up, no-JS."""

from __future__ import annotations

import pytest

from tests.support.browser import (
    COVERS_ON_SCREEN,
    FIRST_SCREEN_PAINTED,
    VIEWPORTS,
    first_screen_without_app_js,
    screenshot,
)
from tests.support.grid_journey import LAYOUT_SHIFT_TOTAL, LAYOUT_SHIFTS, SCROLL_TO_END, CoverRequests
from tests.support.servers import http_get

pytestmark = pytest.mark.browser

#: Covers whose real image has not been asked for yet (app.js removes data-src when it does).
UNREVEALED = """() => [...document.querySelectorAll('img[data-src]')].map(img => ({
    url: new URL(img.dataset.src, location.href).pathname,
    top: img.getBoundingClientRect().top - innerHeight}))"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_covers_below_the_fold_load_only_when_scrolled_to(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    requests = CoverRequests(page)
    page.goto(site.url("/"))
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    waiting = page.evaluate(UNREVEALED)
    far_below = [c["url"] for c in waiting if c["top"] > 400]  # beyond app.js's 200 px margin
    assert far_below, "the demo grid should reach well below the first screen"
    asked = set(requests.paths)
    assert not asked & set(far_below)
    if viewport == "pi":
        screenshot(page, "grid-800x480")

    page.evaluate(SCROLL_TO_END)
    page.wait_for_function(f"() => ({UNREVEALED})().length === 0")
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    asked = set(requests.paths)
    assert set(far_below) <= asked


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_layout_shift_while_covers_load(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.add_init_script(LAYOUT_SHIFTS)
    page.goto(site.url("/"))
    sizes = page.evaluate("""() => [...document.querySelectorAll('img[data-size-type]')]
        .map(img => [img.getAttribute('width'), img.getAttribute('height')])""")
    assert sizes and all(width and height for width, height in sizes)
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    page.evaluate(SCROLL_TO_END)
    page.wait_for_function("() => !document.querySelector('img.lazy-load')")
    assert page.evaluate(LAYOUT_SHIFT_TOTAL) < 0.01


def test_blur_up_preview_comes_first_then_the_cover(site, new_page):
    status, _, body = http_get(site.url("/"))
    html = body.decode()
    assert status == 200
    # Served: a tiny preview inline, the real cover only as data-src.
    assert 'src="data:image/webp;base64,' in html
    assert 'data-src="/cache/thumbnails/' in html

    page = new_page()
    page.goto(site.url("/"))
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    # The first screen's covers come straight from the HTML: the blur-up starts on the next screen.
    page.evaluate("() => scrollBy(0, innerHeight)")
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    swapped = page.evaluate(f"""() => ({COVERS_ON_SCREEN})().filter(img => img.classList.contains('loaded'))
        .map(img => img.currentSrc)""")
    assert swapped and all("/cache/thumbnails/" in src or "/cache/detail/" in src for src in swapped)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_cover_on_the_first_screen_shows_without_javascript(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport], java_script_enabled=False)
    page.goto(site.url("/"))
    page.wait_for_load_state("load")
    # Without scripting, each cover's <noscript> twin is a real <img> (no lazy-load class).
    covers = page.evaluate(f"""() => ({COVERS_ON_SCREEN})().filter(img => !img.classList.contains('lazy-load'))
        .map(img => ({{src: img.currentSrc, width: img.naturalWidth, complete: img.complete}}))""")
    # Each cover shows once: the real image, not also its blurred preview beside it.
    previews_shown = page.evaluate(f"() => ({COVERS_ON_SCREEN})().filter(img => img.dataset.src).length")
    assert covers and previews_shown == 0
    for cover in covers:
        assert cover["complete"] and cover["width"] > 0, cover
        assert "/cache/" in cover["src"] and "/placeholders/" not in cover["src"], cover
    if viewport == "pi":
        screenshot(page, "grid-no-javascript-800x480")


def test_the_pi_first_screen_of_covers_comes_from_the_html_alone(site, new_page):
    """Every cover on the 800x480 first screen loads straight from the HTML, none waits for app.js."""
    page = new_page(VIEWPORTS["pi"])
    waiting = sum(first_screen_without_app_js(page, site.url("/")))
    assert waiting == 0, f"{waiting} covers on the first screen wait for the script"
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    first_row = page.evaluate("""() => [...document.querySelectorAll('[data-album-grid] img[data-size-type]')]
        .slice(0, 18).map(img => img.getAttribute('fetchpriority'))""")
    assert first_row == ["high"] * 6 + [None] * 12, "the top row comes first"
