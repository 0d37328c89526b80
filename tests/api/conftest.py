"""Fixtures for the cache API tests: the tests' real app with a fast job runner, and an API token."""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask

from tests.support.cache_api import API_SETTINGS
from tests.support.owner import create_token


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**API_SETTINGS)


@pytest.fixture
def token(app: Flask) -> str:
    """A valid API token of the app's owner."""
    return create_token(app)
