"""Fixtures for the phone tests: the tests' real apps, each with its owner's password set.

The chromium tests of phones live in tests/browser/test_phones_offline.py, beside the one browser.
"""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.owner import logged_in, set_owner_password


@pytest.fixture
def make_app(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """``make_app(**overrides)`` -> a fresh app on ``tmp_path/data`` whose owner password is set."""

    def make(**overrides) -> Flask:
        app = make_app(**overrides)
        set_owner_password(app)
        return app

    return make


@pytest.fixture
def owner_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """The owner, logged in, on an app with GUESTS_NEED_LINK on."""
    return logged_in(make_app(GUESTS_NEED_LINK=True))
