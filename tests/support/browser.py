"""Launching Debian's chromium through Playwright, pages in fresh contexts, and what a page is asked.

Shared by tests/browser, tests/journeys, tools/screenshots.py and
bench/bench_browser.py. Playwright never downloads a browser here: it is
pointed at ``/usr/bin/chromium``. Screenshots for review go to
``test-artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from tests.support.owner import PASSWORD
from tests.support.paths import ROOT

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
VIEWPORTS = {"pi": PI_SCREEN, "phone": PHONE}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

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

#: JS (an init script): every Content-Security-Policy violation of the page, in ``window.__cspViolations``.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


def spki_sha256(cert: Path) -> str:
    """The base64 sha256 of a PEM certificate's public key, as ``--ignore-certificate-errors-spki-list`` takes it."""
    public_key = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key, capture_output=True, check=True
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def launch_chromium(playwright, bfcache: bool = False, trusted_cert: Path | None = None):
    """Headless Debian chromium with the flags a sandboxed test machine needs.

    ``bfcache`` keeps the back/forward cache every real chromium has, which
    Playwright turns off by default. ``trusted_cert``: a server certificate
    chromium takes as valid, as a phone that trusts its authority does (a
    secure context: service workers allowed), where Playwright's
    ``ignore_https_errors`` only lets the page load.
    """
    ignored = ["--disable-back-forward-cache"] if bfcache else None
    trust = [f"--ignore-certificate-errors-spki-list={spki_sha256(trusted_cert)}"] if trusted_cert else []
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + trust, ignore_default_args=ignored)


@contextlib.contextmanager
def page_factory(browser: Any, **defaults: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=PI_SCREEN, **options)`` -> a page in a fresh context made with ``defaults``
    and ``options``; every context is closed on exit."""
    contexts = []

    def new_page(viewport: dict[str, int] = PI_SCREEN, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, **defaults, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield new_page
    finally:
        for context in contexts:
            context.close()


class Served(Protocol):
    """A site a browser can open: ``url(path)``."""

    def url(self, path: str = "/") -> str: ...


def log_in(page: Any, site: Served, password: str = PASSWORD) -> None:
    """Log in as the owner through the real form, as a person would."""
    page.goto(site.url("/login"))
    page.fill("input[name=password]", password)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit], input[type=submit]"
    ).first.click()
    page.wait_for_load_state()
    assert "/login" not in page.url, "login failed"


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot for review under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def first_screen_without_app_js(page: Any, url: str) -> list[bool]:
    """Open ``url`` with app.js blocked; per cover on the first screen, whether it waits for the script
    (it still holds ``data-src``, the preview shown until app.js swaps in the real image)."""
    page.route("**/static/app.js*", lambda route: route.abort())
    page.goto(url)
    page.wait_for_load_state("load")
    return page.evaluate(f"() => ({COVERS_ON_SCREEN})().map(img => Boolean(img.dataset.src))")


def swipe(page: Any, dx: int) -> None:
    """A one-finger horizontal swipe across the middle of the screen."""
    page.evaluate(
        """dx => {
        const point = x => new Touch({identifier: 1, target: document.body, clientX: x, clientY: 240});
        const start = point(400), end = point(400 + dx);
        document.dispatchEvent(new TouchEvent('touchstart', {touches: [start], changedTouches: [start], bubbles: true}));
        document.dispatchEvent(new TouchEvent('touchend', {touches: [], changedTouches: [end], bubbles: true}));
    }""",
        dx,
    )
