"""Browser tests: Debian's chromium driven by Playwright against the real site.

One site per session (:func:`tests.support.demo_site.demo_site`): ``flask
--app vinylvault init`` on a temporary data directory (the demo collection,
as on a fresh Pi), an owner password, every cover converted ahead (a warm
cache), then the app under gunicorn with the project's gunicorn.conf.py.
Playwright never downloads a browser: it launches ``/usr/bin/chromium``,
which ./run_tests.sh installs with apt.

Every test module here sets ``pytestmark = pytest.mark.browser``.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.support.browser import launch_chromium, log_in, page_factory
from tests.support.demo_site import DemoSite, demo_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo site under gunicorn with a warm cache, shared by every browser test."""
    with demo_site(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture
def rewarm(site: DemoSite) -> Iterator[None]:
    """Put every cover back in the cache after a test that clears or removes some."""
    yield
    site.warm_covers()  # remove_source forgets the sources too: pages register them


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., object]]:
    """``new_page(viewport=PI_SCREEN, **context_options)`` -> a page in a fresh context."""
    with page_factory(browser) as factory:
        yield factory


@pytest.fixture(scope="session")
def owner_state(site: DemoSite, browser) -> dict:
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
