"""Fixtures for the photo tests: the tests' real app (tests/support/apps.py) with two albums and a token."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.albums import album, fill
from tests.support.owner import bearer, create_token, set_owner_password
from tests.support.photos import ALBUM, OTHER_ALBUM


@pytest.fixture
def albums(app: Flask) -> Flask:
    """``app`` with albums ALBUM and OTHER_ALBUM and the owner's password set."""
    set_owner_password(app)
    fill(app, [album(ALBUM), album(OTHER_ALBUM)])
    return app


@pytest.fixture
def token(albums: Flask) -> str:
    return create_token(albums)


@pytest.fixture
def owner_headers(token: str) -> dict[str, str]:
    return bearer(token)
