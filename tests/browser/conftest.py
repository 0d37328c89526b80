"""Browser tests: Debian's chromium driven by Playwright against the real site.

One site per session: ``flask --app vinylvault init`` on a temporary data
directory (the demo collection, as on a fresh Pi), an owner password, every
cover converted ahead (a warm cache), then the app under gunicorn with the
project's gunicorn.conf.py. Playwright never downloads a browser: it launches
``/usr/bin/chromium``, which ./run_tests.sh installs with apt.

Screenshots for review go to ``test-artifacts/screenshots/`` (gitignored).
Every test module here sets ``pytestmark = pytest.mark.browser``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

import config
from tests.support.browser import PHONE, PI_SCREEN, launch_chromium
from tests.support.demo_site import cover_cache, prepare_demo_site
from tests.support.servers import ROOT, GunicornServer

VIEWPORTS = {"pi": PI_SCREEN, "phone": PHONE}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"

SITE_ENV = {
    "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
    "VINYL_VAULT_ON_DEMAND_WAIT_SECONDS": "20",
}


@dataclass
class Site:
    """The running site and what the tests know about its data."""

    server: GunicornServer
    data_dir: Path
    album_ids: list[int]
    cover_urls: list[str]

    def url(self, path: str = "/") -> str:
        return self.server.url(path)


@contextlib.contextmanager
def demo_site(root: Path, env: Mapping[str, str]) -> Iterator[Site]:
    """The demo site in ``root`` under gunicorn with a warm cache and the settings in ``env``."""
    data_dir = root / "data"
    albums = prepare_demo_site(data_dir, PASSWORD, env)
    with GunicornServer(data_dir, log_path=root / "gunicorn.log", workers=2, env=env) as server:
        yield Site(
            server, data_dir, [album.id for album in albums], [album.image_url for album in albums if album.image_url]
        )


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site under gunicorn with a warm cache, shared by every browser test."""
    with demo_site(tmp_path_factory.mktemp("site"), SITE_ENV) as running:
        yield running


@pytest.fixture
def rewarm(site: Site) -> Iterator[None]:
    """Put every cover back in the cache after a test that clears or removes some."""
    yield
    with cover_cache(config.load(DATA_DIR=site.data_dir)) as cache:
        cache.register_sources(site.cover_urls)  # forgotten by remove_source; pages register them
        cache.preload_images(site.cover_urls)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., object]]:
    """``new_page(viewport=PI_SCREEN, **context_options)`` -> a page in a fresh context."""
    contexts = []

    def factory(viewport: dict[str, int] = PI_SCREEN, **options):
        context = browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def log_in(page, site: Site, password: str = PASSWORD) -> None:
    """Log in as the owner through the real form, as a person would."""
    page.goto(site.url("/login"))
    page.fill("input[name=password]", password)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit], input[type=submit]"
    ).first.click()
    page.wait_for_load_state()
    assert "/login" not in page.url, "login failed"


@pytest.fixture(scope="session")
def owner_state(site: Site, browser) -> dict:
    """The owner's logged-in browser state, from one real login: ``new_page(storage_state=...)``.

    Logging in once keeps the many owner pages under the per-client login rate limit.
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        log_in(page, site)
        return context.storage_state()
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot for review under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
