"""Launching Debian's chromium through Playwright, and what the page is asked about covers.

Shared by tests/browser and bench/bench_browser.py. Playwright never
downloads a browser here: it is pointed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PI_SCREEN = {"width": 800, "height": 480}
PHONE = {"width": 390, "height": 844}

#: JS: the cover <img>s (cover_img marks them with data-size-type) whose box
#: intersects the viewport.
COVERS_ON_SCREEN = """() => [...document.querySelectorAll('img[data-size-type]')].filter(img => {
    const box = img.getBoundingClientRect();
    return box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth
        && getComputedStyle(img).visibility !== 'hidden' && box.width > 0;
})"""

#: JS: true once every cover on screen shows its real image (decoded, not the
#: blur-up preview, not the placeholder).
FIRST_SCREEN_PAINTED = f"""() => {{
    const covers = ({COVERS_ON_SCREEN})();
    return covers.length > 0 && covers.every(img =>
        img.complete && img.naturalWidth > 0 && !img.classList.contains('lazy-load')
        && !img.currentSrc.startsWith('data:') && !img.currentSrc.includes('/placeholders/'));
}}"""


def launch_chromium(playwright, bfcache: bool = False):
    """Headless Debian chromium with the flags a sandboxed test machine needs.

    ``bfcache`` keeps the back/forward cache every real chromium has, which
    Playwright turns off by default.
    """
    ignored = ["--disable-back-forward-cache"] if bfcache else None
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=ignored)
