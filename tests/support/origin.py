"""A real, deliberately misbehaving HTTP origin for tests.

:class:`Origin` is a threaded HTTP/1.1 server on ``127.0.0.1`` (port chosen by
the OS) running in a background thread. Routes are added at run time; every
request is recorded so a test can assert, for example, that several workers
caused exactly one GET per URL.

Use it as a context manager, or through the :func:`origin` fixture (this
module is a pytest plugin that tests/conftest.py registers). ``Origin(tls=context)``
serves HTTPS with a server-side :class:`ssl.SSLContext` instead::

    def test_download(origin):
        origin.add_file("/a.jpg", jpeg_bytes)
        fetch(origin.url("/a.jpg"))
        assert origin.hits("/a.jpg") == 1

Routes (``path`` excludes the query string; any query is accepted):

==============================================  =================================================
``add_file(path, body, content_type, delay)``   200 with the body, after ``delay`` seconds
``add_directory(prefix, folder)``               every file of a folder (the image corpus)
``add_status(path, status, body, headers)``     any status, e.g. 404 or 500
``add_html(path, content_type)``                an HTML page (also "HTML as image/jpeg")
``add_flaky(path, body, failures, status,       ``failures`` answers of ``status`` (503, 429 ...)
retry_after)``                                  with an optional ``Retry-After``, then 200
``add_slow_drip(path, size, chunk, interval)``  ``chunk`` bytes every ``interval`` seconds
``add_oversize(path, size, framing)``           ``size`` bytes framed by ``"length"``,
                                                ``"chunked"`` or ``"close"`` (no length)
``add_redirect(path, location, status)``        one redirect (absolute or relative location,
                                                e.g. ``http://169.254.169.254/`` or a loop)
``add_redirect_chain(prefix, hops, target)``    ``prefix/0 -> prefix/1 -> ... -> target``
==============================================  =================================================

Request log: :meth:`Origin.hits` counts GETs of one target (path plus query,
exactly as requested), :attr:`Origin.requests` lists every
:class:`RecordedRequest` (method, target, headers).
"""

from __future__ import annotations

import mimetypes
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import pytest

#: A route writes a whole response; ``attempt`` counts GETs of the path, from 1.
Route = Callable[["_Handler", int], None]

_HTML = b"<!DOCTYPE html>\n<html><head><title>Not found</title></head><body>Nope</body></html>\n"
_FILL_BLOCK = b"\xff" * 65536


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the origin received it."""

    method: str
    target: str
    headers: Mapping[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections must not pin handler threads forever.
    timeout = 10
    server: "_Server"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        attempt = self.server.origin._record(self)
        route = self.server.origin._routes.get(urlsplit(self.path).path)
        if route is None:
            self.send_body(404, b"no such route\n", "text/plain")
        else:
            route(self, attempt)

    def send_body(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send a complete response with a Content-Length."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The request log replaces access lines on stderr.
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    origin: "Origin"

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hang up on purpose (byte caps, deadlines): not an error here.
        pass


class Origin:
    """A threaded HTTP origin on 127.0.0.1 with configurable misbehaviours."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if tls else "http"
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._attempts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.origin = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        # A short poll interval keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="test-origin", daemon=True
        )

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "Origin":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "Origin":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """Absolute URL of ``path``; ``host`` may be a name a test resolver maps here."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    # -- request log -------------------------------------------------------
    def _record(self, handler: _Handler) -> int:
        request = RecordedRequest(handler.command, handler.path, dict(handler.headers.items()))
        with self._lock:
            self._requests.append(request)
            self._attempts[request.path] = self._attempts.get(request.path, 0) + 1
            return self._attempts[request.path]

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def hits(self, target: str) -> int:
        """Number of GETs of ``target`` (path plus query, exactly as requested)."""
        return sum(1 for r in self.requests if r.method == "GET" and r.target == target)

    def reset_log(self) -> None:
        """Forget recorded requests and restart per-path attempt counts."""
        with self._lock:
            self._requests.clear()
            self._attempts.clear()

    # -- routes ------------------------------------------------------------
    def add_route(self, path: str, route: Route) -> str:
        """Register a custom route; returns its URL."""
        self._routes[path] = route
        return self.url(path)

    def add_file(self, path: str, body: bytes, content_type: str | None = "image/jpeg", delay: float = 0.0) -> str:
        """Serve ``body`` with status 200, ``delay`` seconds after the request arrives."""

        def route(handler: _Handler, attempt: int) -> None:
            if delay:
                self._stopping.wait(delay)
            handler.send_body(200, body, content_type)

        return self.add_route(path, route)

    def add_directory(self, prefix: str, folder: Path) -> dict[str, str]:
        """Serve every file of ``folder`` under ``prefix``; returns ``{file name: URL}``."""
        urls = {}
        for file in sorted(p for p in Path(folder).iterdir() if p.is_file()):
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            urls[file.name] = self.add_file(f"{prefix.rstrip('/')}/{file.name}", file.read_bytes(), content_type)
        return urls

    def add_status(
        self,
        path: str,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/plain",
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Always answer ``status`` (404, 500, 403 ...)."""
        return self.add_route(path, lambda handler, attempt: handler.send_body(status, body, content_type, headers))

    def add_html(self, path: str, content_type: str = "text/html; charset=utf-8") -> str:
        """An HTML page, optionally mislabelled (``content_type="image/jpeg"``)."""
        return self.add_status(path, 200, _HTML, content_type)

    def add_flaky(
        self,
        path: str,
        body: bytes,
        failures: int,
        status: int = 503,
        retry_after: str | None = None,
        content_type: str = "image/jpeg",
    ) -> str:
        """Answer ``status`` to the first ``failures`` GETs, then serve ``body``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}

        def route(handler: _Handler, attempt: int) -> None:
            if attempt <= failures:
                handler.send_body(status, b"try later\n", "text/plain", headers)
            else:
                handler.send_body(200, body, content_type)

        return self.add_route(path, route)

    def add_slow_drip(
        self, path: str, size: int, chunk: int = 1, interval: float = 0.1, content_type: str = "image/jpeg"
    ) -> str:
        """Send ``size`` bytes (Content-Length announced), ``chunk`` bytes every ``interval`` s."""

        def route(handler: _Handler, attempt: int) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            sent = 0
            while sent < size and not self._stopping.wait(interval):
                piece = min(chunk, size - sent)
                handler.wfile.write(b"\xff" * piece)
                handler.wfile.flush()
                sent += piece

        return self.add_route(path, route)

    def add_oversize(self, path: str, size: int, framing: str = "length", content_type: str = "image/jpeg") -> str:
        """Stream ``size`` bytes without holding them in memory.

        ``framing`` is ``"length"`` (Content-Length announced), ``"chunked"``
        (Transfer-Encoding: chunked) or ``"close"`` (no length: the body ends
        when the connection closes).
        """
        if framing not in ("length", "chunked", "close"):
            raise ValueError(f"unknown framing {framing!r}")

        def route(handler: _Handler, attempt: int) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            if framing == "length":
                handler.send_header("Content-Length", str(size))
            elif framing == "chunked":
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            for block in _blocks(size):
                if self._stopping.is_set():
                    return
                if framing == "chunked":
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                else:
                    handler.wfile.write(block)
            if framing == "chunked":
                handler.wfile.write(b"0\r\n\r\n")

        return self.add_route(path, route)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        """Redirect ``path`` to ``location`` (absolute, or relative to this origin)."""
        return self.add_status(path, status, b"", None, {"Location": location})

    def add_redirect_chain(self, prefix: str, hops: int, target: str) -> str:
        """``hops`` redirects ``prefix/0 -> prefix/1 -> ... -> target``; returns the first URL."""
        for hop in range(hops):
            location = f"{prefix}/{hop + 1}" if hop + 1 < hops else target
            self.add_redirect(f"{prefix}/{hop}", location)
        return self.url(f"{prefix}/0")


def _blocks(size: int) -> Iterator[bytes]:
    """``size`` filler bytes in blocks of at most 64 KiB."""
    remaining = size
    while remaining > 0:
        block = _FILL_BLOCK[:remaining]
        remaining -= len(block)
        yield block


@pytest.fixture
def origin() -> Iterator[Origin]:
    """A running :class:`Origin`, stopped after the test."""
    with Origin() as server:
        yield server
