"""The app served by werkzeug in this process on a fixed 127.0.0.1 port, for tests that redeploy it.

Service workers belong to an origin, so a "new deployment" must answer on the
same port: :meth:`LiveSite.redeploy` builds a fresh app and serves it there.
"""

from __future__ import annotations

import threading
from typing import Callable

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.servers import free_port


class _OneRequestPerConnection(WSGIRequestHandler):
    # A kept-alive connection would go on reaching the app it was opened to after a redeploy.
    protocol_version = "HTTP/1.0"


class LiveSite:
    """``factory(**settings)`` served on 127.0.0.1:``port`` until :meth:`stop`."""

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
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=_OneRequestPerConnection
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def redeploy(self) -> None:
        self.stop()
        self.start()
