"""Fixtures for the cache API tests: the web tests' real app, plus API tokens and origin images.

The app, client and owner fixtures are tests/web/conftest.py's (a real app on
a temporary DATA_DIR, real SQLite, real cache folders); here the job runner
polls fast so background jobs finish within a test.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.engine.conftest import jpeg_bytes
from tests.support.origin import Origin
from tests.web.conftest import make_app, origin, owner_client, session_csrf
from vinylvault import db
from vinylvault.access import auth

#: Settings of the API tests on top of tests/web's BASE_SETTINGS.
API_SETTINGS: dict[str, Any] = {"JOB_POLL_SECONDS": 0.05}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**API_SETTINGS)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> str:
    """A valid API token of the app's owner."""
    with app.app_context():
        return auth.create_api_token(db.get_db(), "tests")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def serve_covers(origin: Origin, count: int, prefix: str = "/covers") -> list[str]:
    """``count`` distinct real JPEGs on the origin; their URLs."""
    return [origin.add_file(f"{prefix}/{n}.jpg", jpeg_bytes(320, 320, seed=n)) for n in range(count)]


def wait_for_job(client: FlaskClient, location: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job's status URL until it ends; the final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(location).get_json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job at {location} did not finish: {status}")
