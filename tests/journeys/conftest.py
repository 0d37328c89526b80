"""Journeys through a real collection: 520 albums synced from the fake Discogs, in chromium.

One site per session (:func:`tests.support.collection_site.collection_site`):
covers served by a test image origin, the collection synced over HTTP from
the fake Discogs by ``flask sync``, every cover converted ahead (the cache's
preload, so what a test sees never depends on conversion speed), then
gunicorn with gunicorn.conf.py. The collection holds eleven grid pages, so
everything after the first page goes through the infinite scroll.

Every test module here sets ``pytestmark = [pytest.mark.browser, pytest.mark.slow]``.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.support.browser import launch_chromium, page_factory
from tests.support.collection_site import CollectionSite, collection_site


@pytest.fixture(scope="session")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectionSite]:
    """The 520-album site under gunicorn, its covers all cached."""
    with collection_site(tmp_path_factory.mktemp("journeys")) as site:
        yield site


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """Debian's chromium with its back/forward cache, as on the Pi's kiosk (``new_page`` uses it)."""
    launched = launch_chromium(playwright_driver, bfcache=True)
    yield launched
    launched.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., object]]:
    """``new_page(viewport, **context_options)`` -> a page in a fresh context, service workers blocked.

    The journeys count what the page itself asks the server for; the phones'
    service worker (tests/browser/test_phones_offline.py) would fetch each
    cover a second time on the page's behalf.
    """
    with page_factory(browser, service_workers="block") as factory:
        yield factory


@pytest.fixture
def rewarm(big_site: CollectionSite) -> Iterator[None]:
    """Convert every cover again after a test that empties the cache."""
    yield
    big_site.warm_covers()
