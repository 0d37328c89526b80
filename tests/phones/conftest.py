"""Fixtures for the phone tests: real apps on a temporary DATA_DIR (as tests/web builds them),
and the demo site served on 127.0.0.1 for chromium (service workers need a real origin)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.browser.conftest import PASSWORD, SITE_ENV, browser, screenshot  # noqa: F401 - fixtures
from tests.support.apps import app_factory
from tests.support.demo_site import prepare_demo_site
from tests.support.servers import free_port
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


# --- A real server for chromium ---------------------------------------------------

class _OneRequestPerConnection(WSGIRequestHandler):
    # A kept-alive connection would go on reaching the app it was opened to after a redeploy.
    protocol_version = "HTTP/1.0"


class LiveSite:
    """The app served by werkzeug on a fixed 127.0.0.1 port, so it can be redeployed in place.

    Service workers belong to an origin: a "new deployment" must answer on the
    same port, which :meth:`redeploy` does with a freshly built app.
    """

    def __init__(self, factory: Callable[..., Flask], settings: dict) -> None:
        self.factory = factory
        self.settings = settings
        self.port = free_port()
        self.app: Flask | None = None
        self._server: BaseWSGIServer | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self.app = self.factory(**self.settings)
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                   request_handler=_OneRequestPerConnection)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def redeploy(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The demo collection with a warm cover cache and GUESTS_NEED_LINK on, served on 127.0.0.1."""
    data_dir = tmp_path_factory.mktemp("phones") / "data"
    prepare_demo_site(data_dir, PASSWORD, SITE_ENV)
    with app_factory(data_dir, {"SYNC_INTERVAL_HOURS": 0, "ON_DEMAND_WAIT_SECONDS": 20}) as factory:
        site = LiveSite(factory, {"GUESTS_NEED_LINK": True})
        site.start()
        try:
            yield site
        finally:
            site.stop()
