"""Fixtures for spinning a record: the small collection with Kind of Blue's tracklist, its owner."""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.owner import logged_in
from tests.support.spins import ready_to_spin


@pytest.fixture
def spin_app(make_page_app: Callable[..., Flask]) -> Flask:
    return ready_to_spin(make_page_app())


@pytest.fixture
def owner(spin_app: Flask) -> FlaskClient:
    return logged_in(spin_app)
