"""Fixtures for the kiosk tests.

The view tests reuse the page tests' real apps (temporary DATA_DIRs, the small collection). The browser
tests run their own demo site under gunicorn, like tests/browser's, but with an attract screen that
comes after 3 idle seconds (``KIOSK_IDLE_MINUTES=0.05``) instead of minutes, dimmed from 3 to 4 a.m.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.browser.conftest import SITE_ENV, Site, browser, demo_site, new_page  # noqa: F401
from tests.pages.conftest import (demo_app, demo_covers, empty_app, guest, make_app, owner,  # noqa: F401
                                  small_app)

KIOSK_ENV = {**SITE_ENV, "VINYL_VAULT_KIOSK_IDLE_MINUTES": "0.05",
             # An hour the dim test sets the browser's clock to (and a test run is unlikely to meet).
             "VINYL_VAULT_KIOSK_DIM_FROM_HOUR": "3", "VINYL_VAULT_KIOSK_DIM_UNTIL_HOUR": "4"}


@pytest.fixture(scope="session")
def kiosk_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site under gunicorn with a warm cache, a 3-second idle time and a night from 3 to 4."""
    with demo_site(tmp_path_factory.mktemp("kiosk-site"), KIOSK_ENV) as running:
        yield running
