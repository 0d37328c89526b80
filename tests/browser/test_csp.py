"""The Content-Security-Policy in chromium: every page works under it and reports no violation.

The policy allows no inline script, no inline style and no ``style=``
attribute; a page that still had one would report a ``securitypolicyviolation``
event (and a console error), which the tests collect on every page, as a guest
and as the owner, with the page's scripts running.
"""

from __future__ import annotations

import pytest

from tests.support.browser import COLLECT_VIOLATIONS, log_in, screenshot
from vinylvault.web.security_headers import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

#: Installed before any page script: records every violation the page reports.
GUEST_PAGES = [
    "/",
    "/?sort=year&limit=6",
    "/spin",
    "/search",
    "/search?q=a",
    "/stats",
    "/sync",
    "/login",
    "/no-such-page",
]
OWNER_PAGES = GUEST_PAGES[:-2] + ["/admin", "/setup"]


def _album_pages(site) -> list[str]:
    album = site.album_ids[len(site.album_ids) // 2]
    return [f"/album/{album}", f"/now-playing/{album}"]


def _violations(page, console: list[str], site, path: str) -> list[str]:
    response = page.goto(site.url(path))
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
    page.wait_for_load_state("networkidle")
    page.mouse.wheel(0, 4000)  # lazy covers and "Load more" run their scripts
    page.wait_for_load_state("networkidle")
    return page.evaluate("() => window.__cspViolations") + console


def _watched_page(new_page, **options):
    page = new_page(**options)
    console: list[str] = []
    page.on(
        "console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.add_init_script(COLLECT_VIOLATIONS)
    return page, console


@pytest.mark.parametrize("owner", [False, True], ids=["guest", "owner"])
def test_no_page_breaks_the_policy(site, new_page, owner):
    page, console = _watched_page(new_page)
    if owner:
        log_in(page, site)
    paths = (OWNER_PAGES if owner else GUEST_PAGES) + _album_pages(site)
    found = {path: _violations(page, console, site, path) for path in paths}
    assert {path: seen for path, seen in found.items() if seen} == {}


def test_bars_icons_and_backdrop_draw_without_inline_styles(site, new_page):
    page, console = _watched_page(new_page)
    log_in(page, site)
    page.goto(site.url("/admin"))
    bar = page.locator("[data-stats-used]")
    expected = float(bar.get_attribute("aria-valuenow"))
    track, fill = bar.bounding_box(), bar.locator(".progress__bar").bounding_box()
    assert expected > 0 and abs(fill["width"] / (track["width"] - 2) * 100 - min(expected, 100)) < 2
    assert fill["height"] > 10
    # The icon sprite takes no room, and the icons drawn from it have their size.
    assert (
        page.evaluate("() => document.querySelector('svg > symbol').ownerSVGElement.getBoundingClientRect().height")
        == 0
    )
    assert page.locator(".brand svg").bounding_box()["width"] == 28
    page.locator("#api-tokens-h").scroll_into_view_if_needed()
    screenshot(page, "admin-access-800x480")

    page.goto(site.url(_album_pages(site)[1]))
    backdrop = page.locator(".now-playing__backdrop image")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(entry => entry.name.includes('/cache/detail/'))"
    )
    assert "/cache/detail/" in backdrop.get_attribute("href")
    assert page.locator(".now-playing__backdrop svg").bounding_box()["width"] > 800
    screenshot(page, "now-playing-800x480")
    assert page.evaluate("() => window.__cspViolations") + console == []


def test_without_javascript_the_noscript_stylesheet_hides_previews(site, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(site.url("/"))
    assert page.locator("img.lazy-load").count() > 0
    assert page.evaluate(
        "() => [...document.querySelectorAll('img.lazy-load')].every(img => getComputedStyle(img).display === 'none')"
    )
