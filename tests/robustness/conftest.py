"""Fixtures for the robustness tests: a populated app (tests/support/robust_site.py), its callers, its logs."""

from __future__ import annotations

import logging
import threading
from typing import Callable

import pytest
from flask import Flask

from tests.support.robust_site import ROBUST_SETTINGS, Caller, Site, fill_site, owner_session, upload_photo


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Site:
    app = make_app(**ROBUST_SETTINGS)
    token = fill_site(app)
    cookie, csrf = owner_session(app)
    return Site(app=app, token=token, photo_id=upload_photo(app, token), owner_cookie=cookie, csrf=csrf)


@pytest.fixture
def callers(site: Site) -> dict[str, Caller]:
    return {name: Caller(name, site) for name in ("guest", "owner", "bearer")}


@pytest.fixture
def request_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """Records logged by the test's own thread since the last call (background threads excluded)."""
    caplog.set_level(logging.INFO)
    me = threading.get_ident()

    def take() -> list[logging.LogRecord]:
        records = [record for record in caplog.records if record.thread == me]
        caplog.clear()
        return records

    return take
