"""Accessibility in chromium: alt text, visible focus, AA contrast in both themes, reduced motion."""

from __future__ import annotations

import pytest

from tests.support.browser import log_in

pytestmark = pytest.mark.browser

PAGES = ["/", "/spin", "/search?q=a", "/stats"]
#: The first opaque background behind ``body``, and the body's text colour, as [r, g, b].
BODY_COLOURS = """() => {
    const rgb = value => value.match(/[\\d.]+/g).map(Number);
    let element = document.body, background = null;
    while (element) {
        const colour = rgb(getComputedStyle(element).backgroundColor);
        if (colour.length < 4 || colour[3] > 0) { background = colour.slice(0, 3); break; }
        element = element.parentElement;
    }
    return {text: rgb(getComputedStyle(document.body).color).slice(0, 3), background: background || [255, 255, 255]};
}"""


def luminance(rgb: list[float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_luminance_contrast_formula():
    assert contrast([0, 0, 0], [255, 255, 255]) == pytest.approx(21.0)
    assert contrast([118, 118, 118], [255, 255, 255]) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("path", PAGES + ["/album/{album}"])
def test_every_image_has_alt_text(site, new_page, path):
    page = new_page()
    page.goto(site.url(path.format(album=site.album_ids[0])))
    missing = page.evaluate("() => [...document.querySelectorAll('img:not([alt])')].map(img => img.outerHTML)")
    assert missing == []


def test_admin_images_have_alt_text(site, new_page):
    page = new_page()
    log_in(page, site)
    page.goto(site.url("/admin"))
    assert page.evaluate("() => document.querySelectorAll('img:not([alt])').length") == 0


@pytest.mark.parametrize("path", PAGES)
def test_keyboard_focus_is_visible(site, new_page, path):
    page = new_page()
    page.goto(site.url(path))
    page.keyboard.press("Tab")
    style = page.evaluate("""() => {
        const style = getComputedStyle(document.activeElement);
        return {tag: document.activeElement.tagName, outline: style.outlineStyle,
                width: parseFloat(style.outlineWidth), shadow: style.boxShadow};
    }""")
    assert style["tag"] != "BODY", "Tab focused nothing"
    assert (style["outline"] != "none" and style["width"] > 0) or style["shadow"] != "none", style


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("path", PAGES)
def test_body_text_contrast_is_aa_in_both_themes(site, new_page, theme, path):
    page = new_page()
    page.goto(site.url(f"/theme/{theme}"))  # sets the theme cookie, as the toggle does
    page.goto(site.url(path))
    assert page.evaluate("() => document.documentElement.dataset.theme") == theme
    colours = page.evaluate(BODY_COLOURS)
    assert contrast(colours["text"], colours["background"]) >= 4.5, colours


def spinning_animation(page) -> dict:
    return page.evaluate("""() => {
        const button = document.querySelector('[data-spin]');
        button.classList.add('spinning');
        const style = getComputedStyle(button.querySelector('svg'));
        return {name: style.animationName, duration: parseFloat(style.animationDuration)};
    }""")


def test_reduced_motion_stops_the_spinning_record(site, new_page):
    page = new_page()
    page.goto(site.url("/spin"))
    moving = spinning_animation(page)
    assert moving["name"] != "none" and moving["duration"] > 0

    page.emulate_media(reduced_motion="reduce")
    still = spinning_animation(page)
    assert still["name"] == "none" or still["duration"] < 0.01, still
