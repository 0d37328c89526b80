"""Screenshots of every page, on the Pi's 800x480 screen and a 390x844 phone, as a guest and as the owner.

    .venv/bin/python tools/screenshots.py                       # demo and 520-album sites, started here
    .venv/bin/python tools/screenshots.py --sites demo          # only the 48-album demo
    .venv/bin/python tools/screenshots.py --url http://pi.local:8080 --password '...'   # a running site

Without ``--url`` it builds its own sites from the test support code, each on
127.0.0.1 under gunicorn (gunicorn.conf.py): ``demo`` (``flask init``'s demo
collection, covers converted ahead), ``big`` (520 albums synced from the fake
Discogs, covers from a test image origin, converted ahead) and a fresh data
directory for the first-run set-up page. Each page is shown once its covers
have arrived; the pictures go to ``test-artifacts/screenshots/pages/`` as
``<site>-<role>-<page>-<width>x<height>.png``, one screen each (``--full-page``
for the whole page).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.browser import FIRST_SCREEN_PAINTED, VIEWPORTS, launch_chromium, log_in  # noqa: E402
from tests.support.collection_site import collection_site  # noqa: E402
from tests.support.demo_site import prepare_demo_site  # noqa: E402
from tests.support.servers import GunicornServer  # noqa: E402

OUT = ROOT / "test-artifacts" / "screenshots" / "pages"
WORK = ROOT / "test-artifacts" / "screenshots" / ".work"
DEMO_PASSWORD = "screenshots-owner-password"
SITE_ENV = {"VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"}
#: The demo site as if nginx served HTTPS beside it, so /secure has something to show.
SECURE_ENV = {"VINYL_VAULT_HTTPS_PORT": "8443"}
#: How long a page may take to show its covers before it is taken as it is.
PAINT_TIMEOUT_MS = 15_000
#: JS: every <img> on the page that is not waiting for the lazy loader has finished.
IMAGES_SETTLED = """() => [...document.images].every(img => img.complete
    || img.classList.contains('lazy-load') || img.loading === 'lazy')"""
#: JS: resolves once every finite animation has finished (the blur-up fading into the cover).
ANIMATIONS_DONE = """() => Promise.all(document.getAnimations()
    .filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
    .map(a => a.finished.catch(() => null))).then(() => true)"""


@dataclass(frozen=True)
class Target:
    """A site to photograph: its base URL, the owner's password, a name for the files."""

    name: str
    base_url: str
    password: str

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def pages_of(page, target: Target) -> dict[str, str]:
    """{name: path} of every page of a configured site; the album is the grid's first card."""
    page.goto(target.url("/"))
    album = page.eval_on_selector("[data-album-grid] > li a", "a => new URL(a.href).pathname")
    album_id = album.rsplit("/", 1)[-1]
    artist = page.eval_on_selector("[data-album-grid] .card__artist", "el => el.textContent.trim()")
    word = next((w for w in artist.split() if w.isalpha()), artist.split()[0] if artist else "a")
    return {
        "grid": "/",
        "search": f"/search?q={word}",
        "album": album,
        "now-playing": f"/now-playing/{album_id}",
        "spin": "/spin",
        "spinning": "/spinning",
        "history": "/history",
        "wants": "/wants",
        "random": "/random",
        "stats": "/stats",
        "sync": "/sync",
        "admin": "/admin",
        "secure": "/secure",
        "offline": "/offline",
        "login": "/login",
        "setup": "/setup",
        "error": "/album/999999999",
        "kiosk": "/?kiosk=1",  # last: the kiosk view is kept by a cookie
    }


def settle(page) -> None:
    """Wait until the covers on screen show (grid-like pages) and other images have finished."""
    if page.locator("img[data-size-type]").count():
        with contextlib.suppress(PlaywrightError):
            page.wait_for_function(FIRST_SCREEN_PAINTED, timeout=PAINT_TIMEOUT_MS)
    with contextlib.suppress(PlaywrightError):
        page.wait_for_function(IMAGES_SETTLED, timeout=PAINT_TIMEOUT_MS)
    page.evaluate(ANIMATIONS_DONE)


def shoot(
    browser,
    target: Target,
    role: str,
    viewport: str,
    out: Path,
    full_page: bool,
    only: dict[str, str] | None = None,
    names: set[str] | None = None,
) -> list[Path]:
    """The pages of ``target`` (``only``, else every page, kept to ``names`` if given) seen by
    ``role`` ('guest' or 'owner') at ``viewport``; the files."""
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    try:
        page = context.new_page()
        if role == "owner":
            log_in(page, target, target.password)
        paths = only or pages_of(page, target)
        size = f"{VIEWPORTS[viewport]['width']}x{VIEWPORTS[viewport]['height']}"
        files = []
        for name, path in paths.items():
            if names and name not in names:
                continue
            page.goto(target.url(path))
            page.wait_for_load_state("load")
            settle(page)
            file = out / f"{target.name}-{role}-{name}-{size}.png"
            page.screenshot(path=str(file), full_page=full_page)
            files.append(file)
        return files
    finally:
        context.close()


def shoot_site(browser, target: Target, out: Path, full_page: bool, names: set[str] | None) -> list[Path]:
    files = []
    for viewport in VIEWPORTS:
        for role in ("guest", "owner"):
            files += shoot(browser, target, role, viewport, out, full_page, names=names)
    return files


@contextlib.contextmanager
def demo_target(work: Path) -> Iterator[Target]:
    prepare_demo_site(work / "data", DEMO_PASSWORD, SITE_ENV)
    env = {**SITE_ENV, **SECURE_ENV}
    with GunicornServer(work / "data", log_path=work / "gunicorn.log", env=env) as server:
        yield Target("demo", server.base_url, DEMO_PASSWORD)


@contextlib.contextmanager
def big_target(work: Path) -> Iterator[Target]:
    with collection_site(work, albums=520) as site:
        yield Target("big", site.server.base_url, site.password)


@contextlib.contextmanager
def first_run_target(work: Path) -> Iterator[Target]:
    """A data directory with nothing in it: every page leads to the set-up form."""
    (work / "data").mkdir(parents=True)
    env = {**SITE_ENV, "VINYL_VAULT_DEMO_WHEN_EMPTY": "false"}
    with GunicornServer(work / "data", log_path=work / "gunicorn.log", env=env) as server:
        yield Target("first-run", server.base_url, "")


SITES = {"demo": demo_target, "big": big_target}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="photograph this running site instead of starting one")
    parser.add_argument("--password", default="", help="the owner's password of --url")
    parser.add_argument("--sites", default="demo,big", help="sites to start: demo, big (comma-separated)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--full-page", action="store_true", help="the whole page, not one screen")
    parser.add_argument("--pages", help="only these pages (comma-separated names, e.g. grid,album)")
    args = parser.parse_args(argv)
    names = set(args.pages.split(",")) if args.pages else None
    args.out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        if args.url:
            files += shoot_site(browser, Target("site", args.url, args.password), args.out, args.full_page, names)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
            for name in args.sites.split(","):
                with SITES[name.strip()](WORK / name.strip()) as target:
                    files += shoot_site(browser, target, args.out, args.full_page, names)
            if not names or "setup" in names:
                with first_run_target(WORK / "first-run") as target:
                    for viewport in VIEWPORTS:
                        files += shoot(
                            browser, target, "guest", viewport, args.out, args.full_page, only={"setup": "/setup"}
                        )
        browser.close()
    for file in files:
        print(file.relative_to(ROOT) if file.is_relative_to(ROOT) else file)


if __name__ == "__main__":
    main()
