"""Fixtures for the phone tests: real apps on a temporary DATA_DIR (as tests/web builds them).

The chromium tests of phones live in tests/browser/test_phones_offline.py, beside the one browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import app_factory
from tests.web.conftest import BASE_SETTINGS, log_in, set_owner_password


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_app(**overrides)`` -> a fresh app on ``tmp_path/data`` whose owner password is set."""
    with app_factory(tmp_path / "data", BASE_SETTINGS) as factory:

        def make(**overrides) -> Flask:
            app = factory(**overrides)
            set_owner_password(app)
            return app

        yield make


@pytest.fixture
def owner_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """The owner, logged in, on an app with GUESTS_NEED_LINK on."""
    client = make_app(GUESTS_NEED_LINK=True).test_client()
    assert log_in(client).status_code == 302
    return client
