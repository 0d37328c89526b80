"""The stylesheet's colours meet WCAG AA in both themes.

Reads the theme variables out of static/style.css, so a colour change that
breaks contrast fails here instead of on someone's touchscreen.
"""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT

CSS = (ROOT / "vinylvault" / "static" / "style.css").read_text()

#: (foreground, background, minimum ratio): 4.5 for text, 3 for focus rings,
#: input borders and chart marks (WCAG 1.4.3 and 1.4.11). --border only
#: separates surfaces that also differ in colour, so it is decorative.
PAIRS = [
    ("text", "bg", 4.5),
    ("text", "surface", 4.5),
    ("text", "surface-2", 4.5),
    ("muted", "bg", 4.5),
    ("muted", "surface", 4.5),
    ("muted", "surface-2", 4.5),
    ("accent", "bg", 4.5),
    ("accent", "surface", 4.5),
    ("on-accent", "accent", 4.5),
    ("danger", "bg", 4.5),
    ("danger", "surface", 4.5),
    ("star", "surface", 4.5),
    ("star", "bg", 4.5),
    ("focus", "bg", 3),
    ("focus", "surface", 3),
    ("field-border", "bg", 3),
    ("field-border", "surface", 3),
    ("chart-bar", "surface", 3),
    ("ok", "surface", 3),
]


def theme_variables(selector: str) -> dict[str, str]:
    block = re.search(re.escape(selector) + r"\s*\{(.*?)\}", CSS, re.S)
    assert block, f"no {selector} block in style.css"
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})", block.group(1)))


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("selector", ['[data-theme="dark"]', '[data-theme="light"]'])
@pytest.mark.parametrize("fg,bg,minimum", PAIRS)
def test_theme_contrast(selector, fg, bg, minimum):
    colours = theme_variables(selector)
    ratio = contrast(colours[fg], colours[bg])
    assert ratio >= minimum, f"{selector} --{fg} on --{bg}: {ratio:.2f} < {minimum}"


def test_touch_targets_and_reduced_motion():
    assert "--touch: 44px" in CSS
    assert "@media (prefers-reduced-motion: reduce)" in CSS
    assert ":focus-visible" in CSS


#: Words for the people who wrote the cache, not for the people who own the records.
DEVELOPER_WORDS = re.compile(
    r"memory tier|negative cache|\bscopes?\b|\bworker\b|\bentries\b|\bhit rate\b|"
    r"MEMORY_CACHE_ENABLED\)|\bthumbnails\b",
    re.I,
)


def visible_text(html: str) -> str:
    """The page's words as shown: no tags, attributes, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("settings", [{}, {"MEMORY_CACHE_ENABLED": True}])
def test_admin_page_speaks_to_the_owner(make_page_app, settings):
    from tests.support.owner import logged_in, set_owner_password

    app = make_page_app(**settings)
    set_owner_password(app)
    client = logged_in(app)
    response = client.get("/admin")
    assert response.status_code == 200
    words = visible_text(response.get_data(as_text=True))
    assert "Covers kept in memory" in words
    assert "failed recently, retried later" in words
    assert DEVELOPER_WORDS.findall(words) == []
