"""How the pages sit on the Pi's 800x480 screen and on a 390x844 phone, as guest and as owner.

Nothing scrolls sideways; now playing fits the screen exactly; two full rows
of covers show under the grid's controls on the Pi; a card's year is never cut;
every control is a touch target of at least 44 px; the login and upload forms
are styled like the rest of the site.
"""

from __future__ import annotations

import pytest
from PIL import Image

from tests.support.browser import PI_SCREEN, VIEWPORTS, screenshot

pytestmark = pytest.mark.browser

ROLES = ("guest", "owner")
MIN_TARGET = 44
#: Pages for everyone; ``{album}`` is an album in the middle of the collection.
GUEST_PAGES = [
    "/",
    "/?genre=Rock&sort=year",
    "/login",
    "/album/{album}",
    "/now-playing/{album}",
    "/search",
    "/search?q=a",
    "/spin",
    "/stats",
    "/album/999999",
]
OWNER_PAGES = [
    "/",
    "/album/{album}",
    "/now-playing/{album}",
    "/search?q=a",
    "/spin",
    "/stats",
    "/sync",
    "/admin",
    "/setup",
]
#: Pages whose every control this module holds to MIN_TARGET.
TOUCH_PAGES = {
    "guest": ["/", "/login", "/album/{album}", "/now-playing/{album}", "/search?q=a", "/spin"],
    "owner": ["/", "/album/{album}", "/now-playing/{album}", "/search?q=a", "/admin"],
}

PAGE_SIZE = """() => ({scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight, width: innerWidth, height: innerHeight})"""
#: Visible controls smaller than 44x44 px. A control's target is its box, grown by an
#: absolutely placed ::before (the pills' invisible halo); a radio or checkbox counts
#: through its label. Links inside running text (a sentence, the footer) are exempt.
SMALL_TARGETS = """minimum => {
    const small = [];
    const controls = document.querySelectorAll(
        'a[href], button, input:not([type=hidden]), select, textarea, summary');
    for (const el of controls) {
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || el.closest('[hidden], .visually-hidden, .skip-link')) continue;
        let box = el.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        if (el.matches('a') && el.closest('p, dd, li.heading, .site-footer, .attribution')
            && !el.matches('.button')) continue;
        if (el.matches('input[type=radio], input[type=checkbox]') && el.closest('label')) {
            box = el.closest('label').getBoundingClientRect();
        }
        let {top, bottom, left, right} = box;
        const halo = getComputedStyle(el, '::before');
        if (halo.content !== 'none' && halo.position === 'absolute') {
            const outset = side => -(parseFloat(halo[side]) || 0);  // inset: -9px grows the target by 9
            top -= outset('top'); bottom += outset('bottom'); left -= outset('left'); right += outset('right');
        }
        if (bottom - top < minimum - 0.5 || right - left < minimum - 0.5) {
            small.push(`${el.outerHTML.slice(0, 90)} ${Math.round(right - left)}x${Math.round(bottom - top)}`);
        }
    }
    return small;
}"""
#: Cards whose year is cut off or pushed outside the card.
CUT_YEARS = """() => [...document.querySelectorAll('[data-album-grid] .card')].flatMap(card => {
    const line = card.querySelector('.card__title');
    const match = line.textContent.match(/(\\d{4})\\s*$/);
    if (!match) return [];
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    let node, range = null;
    while ((node = walker.nextNode())) {
        const at = node.data.lastIndexOf(match[1]);
        if (at >= 0) { range = document.createRange(); range.setStart(node, at); range.setEnd(node, at + 4); }
    }
    const shown = line.getBoundingClientRect(), year = range.getBoundingClientRect();
    const clipped = [...line.querySelectorAll('*'), line].some(el => {
        const box = el.getBoundingClientRect();
        return el.contains(range.startContainer) && el.scrollWidth > el.clientWidth + 0.5
            && year.right > box.right + 0.5;
    });
    return clipped || year.right > shown.right + 0.5 || year.width === 0 ? [line.textContent] : [];
})"""


@pytest.fixture
def page_for(new_page, owner_state):
    """``page_for(role, viewport)`` -> a page seen by a guest or by the logged-in owner."""

    def factory(role: str, viewport: str):
        return new_page(VIEWPORTS[viewport], **({"storage_state": owner_state} if role == "owner" else {}))

    return factory


def album_path(site, path: str) -> str:
    return path.format(album=site.album_ids[len(site.album_ids) // 2])


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("role", ROLES)
def test_no_page_is_wider_than_the_screen(site, page_for, role, viewport):
    page = page_for(role, viewport)
    too_wide = {}
    for path in GUEST_PAGES if role == "guest" else OWNER_PAGES:
        page.goto(site.url(album_path(site, path)))
        size = page.evaluate(PAGE_SIZE)
        if size["scrollWidth"] > size["width"]:
            too_wide[path] = size["scrollWidth"]
    assert too_wide == {}, f"wider than {VIEWPORTS[viewport]['width']} px"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_now_playing_fits_the_screen_exactly(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    response = page.goto(site.url(album_path(site, "/now-playing/{album}")))
    assert response.status == 200
    size = page.evaluate(PAGE_SIZE)
    assert size["scrollHeight"] <= size["height"] and size["scrollWidth"] <= size["width"], size
    cover = page.locator("img[data-size-type=detail]").bounding_box()
    short_side = min(size["width"], size["height"])
    assert cover["width"] >= 0.75 * short_side, "the cover should fill the screen"
    for element in page.locator(".now-playing .button, .now-playing img, .site-footer").all():
        box = element.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], element.inner_text()
    screenshot(page, f"now-playing-{viewport}")


@pytest.mark.parametrize("role", ROLES)
def test_two_full_rows_of_covers_on_the_pi_screen(site, page_for, role):
    page = page_for(role, "pi")
    page.goto(site.url("/"))
    assert page.locator(".notice").count() == 1, "the demo banner is part of what must fit"
    # The cover's frame, not its <img>: a cover still loading is drawn scaled up by 5 % under its
    # blur, so measuring the <img> made the rows depend on how far loading had got (a busy machine).
    rows = page.evaluate("""() => {
        const rows = {};
        for (const frame of document.querySelectorAll('[data-album-grid] .cover')) {
            const box = frame.getBoundingClientRect();
            const key = Math.round(box.top);
            rows[key] = rows[key] || {count: 0, whole: 0};
            rows[key].count++;
            if (box.top >= 0 && box.bottom <= innerHeight + 0.5) rows[key].whole++;
        }
        return Object.entries(rows).sort((a, b) => a[0] - b[0]).map(([top, row]) => row);
    }""")
    full_rows = [row for row in rows if row["whole"] == row["count"] == rows[0]["count"]]
    assert len(full_rows) >= 2, rows[:3]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_year_on_a_card_is_never_cut(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    page.goto(site.url("/"))
    assert page.locator("[data-album-grid] .card").count() > 0
    assert page.evaluate(CUT_YEARS) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_control_is_a_touch_target(site, page_for, role, viewport):
    page = page_for(role, viewport)
    small = {}
    for path in TOUCH_PAGES[role]:
        page.goto(site.url(album_path(site, path)))
        found = page.evaluate(SMALL_TARGETS, MIN_TARGET)
        if found:
            small[path] = found
    assert small == {}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_login_form_is_styled_like_the_site(site, new_page, viewport):
    page = new_page(VIEWPORTS[viewport])
    response = page.goto(site.url("/login"))
    assert response.status == 200
    label = page.locator("label[for=password]").bounding_box()
    field = page.locator("#password").bounding_box()
    button = page.locator("form button[type=submit]")
    box = button.bounding_box()
    assert label["y"] + label["height"] <= field["y"], "the label sits above its field"
    assert field["height"] >= MIN_TARGET and box["height"] >= MIN_TARGET
    assert box["width"] >= field["width"] * 0.9, "the button spans the form"
    style = button.evaluate("""b => ({radius: parseFloat(getComputedStyle(b).borderTopLeftRadius),
        background: getComputedStyle(b).backgroundColor,
        accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()})""")
    accent = style["accent"].lstrip("#")
    assert style["background"] == "rgb({}, {}, {})".format(*(int(accent[i : i + 2], 16) for i in (0, 2, 4)))
    assert style["radius"] >= 6
    screenshot(page, f"login-{viewport}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_album_page_controls_fit_and_match(site, page_for, viewport):
    page = page_for("owner", viewport)
    page.goto(site.url(album_path(site, "/album/{album}")))
    back = page.get_by_role("link", name="Back to the grid")
    lines = back.evaluate("""a => {
        const range = document.createRange(); range.selectNodeContents(a);
        return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
    }""")
    assert lines == 1, "Back to the grid wraps"
    for link in page.locator(".pager a").all():
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORTS[viewport]["width"]
    # The upload form: the file picker's button and the choices are real touch targets.
    picker = page.locator("#photo-files").evaluate("""input => ({
        box: input.getBoundingClientRect().height,
        button: parseFloat(getComputedStyle(input, '::file-selector-button').minHeight) || 0})""")
    assert picker["box"] >= MIN_TARGET and picker["button"] >= MIN_TARGET, picker
    radio = page.locator("input[name=visibility][value=public]")
    assert radio.bounding_box()["height"] >= 20
    page.locator("label", has=radio).click(position={"x": 4, "y": 4})
    assert radio.is_checked(), "the whole choice is the touch target"
    backgrounds = page.evaluate("""() => ['#photo-title', '#photo-description'].map(
        selector => getComputedStyle(document.querySelector(selector)).backgroundColor)""")
    assert backgrounds[0] == backgrounds[1]
    if viewport == "phone":
        page.set_viewport_size({"width": PI_SCREEN["width"], "height": 1600})
        screenshot(page, "album-owner-800-full")


def test_photo_editor_controls_are_touch_targets(site, page_for, tmp_path):
    """A photo of the owner's copy: its Edit control and the open editor are 44 px targets, in owner words."""
    photo = tmp_path / "sleeve.jpg"
    Image.new("RGB", (640, 480), (150, 80, 40)).save(photo, "JPEG")
    page = page_for("owner", "phone")
    page.on("dialog", lambda dialog: dialog.accept())
    album = site.url(album_path(site, "/album/{album}"))
    page.goto(album)
    page.set_input_files("#photo-files", str(photo))
    page.locator(".photos__upload button[type=submit]").click()
    # photos.js reloads the page at #photos once the upload is stored; only the reloaded page lists
    # the photo, so waiting for it also waits out that navigation (a goto during it is interrupted).
    page.wait_for_function("() => document.querySelectorAll('.photos__item').length === 1")
    page.wait_for_load_state()
    page.goto(album)
    try:
        item = page.locator(".photos__item")
        assert item.count() == 1
        assert item.locator(".photos__badge").inner_text() == "Only me"
        item.locator("summary").click()
        assert page.evaluate(SMALL_TARGETS, MIN_TARGET) == []
        editor = item.locator("form").bounding_box()
        assert editor["width"] >= 0.8 * page.locator(".photos").bounding_box()["width"], "the editor is squeezed"
    finally:
        page.goto(album)
        page.locator(".photos__item summary").click()
        page.locator(".photos__item button[value=delete]").click()
        page.wait_for_load_state()
    assert page.locator(".photos__item").count() == 0
