"""A spin from the Pi screen through both sides in Debian's chromium, with the clock moved in the database.

The site is this folder's (the demo collection under gunicorn). The
server's "now" is the real one; the tests move the side's ``started_at``
back instead, which is the same to every screen. With JavaScript off every
step is a form; with it on, the live clock moves the highlight (Playwright's
clock fast-forwards the page) and a flip made on a phone reaches the Pi screen.
"""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect

from tests.support.browser import COLLECT_VIOLATIONS, PHONE, PI_SCREEN, screenshot

pytestmark = pytest.mark.browser


def _db(site) -> sqlite3.Connection:
    return sqlite3.connect(site.data_dir / "vinylvault.db", timeout=10)


def _shift(site, seconds: float) -> None:
    with _db(site) as conn:
        conn.execute("UPDATE spins SET started_at = started_at - ? WHERE state = 'playing'", (seconds,))


def _side_seconds(page) -> float:
    return page.evaluate(
        "() => [...document.querySelectorAll('[data-tracks] li')]"
        ".reduce((sum, li) => sum + parseFloat(li.dataset.seconds), 0)"
    )


def _fits(page) -> None:
    overflow = page.evaluate(
        "() => [document.documentElement.scrollHeight - innerHeight, document.documentElement.scrollWidth - innerWidth]"
    )
    assert overflow[0] <= 0 and overflow[1] <= 0, f"scrolls by {overflow}"
    for locator in page.locator(".turntable .button, .turntable .cover img").all():
        box = locator.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"] + 0.5


def _stop_any(site) -> None:
    with _db(site) as conn:
        conn.execute("UPDATE spins SET state = 'abandoned', ended_at = started_at WHERE state = 'playing'")


def _album_with_two_sides(site) -> int:
    return site.album_ids[len(site.album_ids) // 3]


def test_a_spin_moves_through_both_sides_without_javascript(site, new_page, owner_state):
    _stop_any(site)
    album = _album_with_two_sides(site)
    page = new_page(PI_SCREEN, storage_state=owner_state, java_script_enabled=False)
    page.goto(site.url(f"/album/{album}"))
    page.get_by_role("button", name="Spin A").click()
    page.wait_for_url("**/spinning")
    assert page.locator(".spinning__side").inner_text().startswith("Side A")
    assert page.locator("[data-tracks] li").first.get_attribute("aria-current") == "true"
    _fits(page)
    _shift(site, _side_seconds(page) + 5)
    page.reload()
    expect(page.locator(".spinning__side")).to_contain_text("side over")
    page.get_by_role("button", name="Flip to Side B").click()
    expect(page.locator(".spinning__side")).to_contain_text("Side B")
    screenshot(page, "spinning-side-b-nojs-800x480")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("heading", name="Nothing on the turntable")).to_be_visible()
    with _db(site) as conn:
        states = conn.execute(
            "SELECT side, state FROM spins WHERE album_id = ? ORDER BY id DESC LIMIT 2", (album,)
        ).fetchall()
    assert states == [("B", "abandoned"), ("A", "ended")]


@pytest.mark.parametrize("viewport", [PI_SCREEN, PHONE], ids=["800x480", "390x844"])
def test_the_spinning_screen_fills_the_screen_and_keeps_time(site, new_page, owner_state, viewport):
    _stop_any(site)
    page = new_page(viewport, storage_state=owner_state)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(COLLECT_VIOLATIONS)
    page.clock.install()
    page.goto(site.url(f"/album/{_album_with_two_sides(site)}"))
    page.get_by_role("button", name="Spin A").click()
    page.wait_for_url("**/spinning")
    _fits(page)
    screenshot(page, f"spinning-{viewport['width']}x{viewport['height']}")
    first = float(page.locator("[data-tracks] li").first.get_attribute("data-seconds"))
    page.clock.fast_forward(int((first + 2) * 1000))
    current = page.locator("[data-tracks] li.is-current")
    assert current.count() == 1 and current.get_attribute("data-start") == page.locator("[data-tracks] li").nth(
        1
    ).get_attribute("data-start")
    assert page.locator("[data-tracks] li").first.get_attribute("class") == "is-played"
    assert page.evaluate("() => window.__cspViolations") + violations == []


def test_a_flip_on_the_phone_reaches_the_pi_screen(site, new_page, owner_state):
    _stop_any(site)
    pi = new_page(PI_SCREEN, storage_state=owner_state)
    pi.goto(site.url(f"/album/{_album_with_two_sides(site)}"))
    pi.get_by_role("button", name="Spin A").click()
    pi.wait_for_url("**/spinning")
    phone = new_page(PHONE, storage_state=owner_state)
    phone.goto(site.url("/spinning"))
    phone.get_by_role("button", name="Flip to Side B").click()
    expect(phone.locator(".spinning__side")).to_contain_text("Side B")
    # The Pi screen polls the server's turntable and follows (every 10 s).
    pi.wait_for_function(
        "() => document.querySelector('.spinning__side')?.innerText.startsWith('Side B')", timeout=30_000
    )


def test_history_and_stats_show_the_spins(site, new_page, owner_state):
    for viewport in (PI_SCREEN, PHONE):
        page = new_page(viewport, storage_state=owner_state)
        page.goto(site.url("/history"))
        assert page.locator(".history-list li").count() >= 1
        width = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert width <= 0
        screenshot(page, f"history-{viewport['width']}x{viewport['height']}")
        page.goto(site.url("/stats"))
        assert page.locator("#chart-spins").is_visible()
        page.locator("#spins-h").scroll_into_view_if_needed()
        screenshot(page, f"stats-listening-{viewport['width']}x{viewport['height']}")


def test_one_tap_on_a_grid_cover_spins_it(site, new_page, owner_state):
    _stop_any(site)
    page = new_page(PI_SCREEN, storage_state=owner_state)
    page.goto(site.url("/"))
    button = page.locator(".card__spin button").first
    box = button.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    screenshot(page, "grid-owner-spin-800x480")
    name = button.get_attribute("aria-label")
    button.click()
    page.wait_for_url("**/spinning")
    expect(page.locator(".spinning__title")).to_be_visible()
    assert page.locator(".spinning__title").inner_text() in name
