"""Slow clients ("slow loris"): connections that send a request a little at a time.

Each client sends a request line, then one more header line every
``interval`` seconds, and never the blank line that would end its head; with
``body=True`` it sends a whole head announcing a small form body instead, then
one byte of the body every ``interval`` seconds::

    with SlowClients(port, count=50, interval=2.0) as slow:
        ...                      # the server has 50 unfinished requests
        assert slow.still_waiting() == 50
"""

from __future__ import annotations

import socket
import threading
from typing import Self


class SlowClients:
    """``count`` connections to 127.0.0.1:``port`` that never finish their request head."""

    #: The announced body of ``body=True`` clients: far more than they ever send.
    BODY_LENGTH = 1000

    def __init__(
        self, port: int, *, count: int = 50, interval: float = 2.0, path: str = "/health", body: bool = False
    ) -> None:
        self.port = port
        self.count = count
        self.interval = interval
        self.path = path
        self.body = body
        self.sockets: list[socket.socket] = []
        self.lines_sent = 0  # header lines (or body bytes) sent to every client so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, name="slow-clients", daemon=True)

    def __enter__(self) -> Self:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(self._opening().encode("ascii"))
            self.sockets.append(sock)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()

    def _opening(self) -> str:
        if not self.body:
            return f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {self.BODY_LENGTH}\r\n\r\n"
        )

    def _drip(self) -> None:
        while not self._stop.wait(self.interval):
            for number, sock in enumerate(self.sockets):
                piece = "a" if self.body else f"X-Slow-{number}: {self.lines_sent}\r\n"
                try:
                    sock.sendall(piece.encode("ascii"))
                except OSError:
                    pass  # the server closed it: still_waiting() tells
            self.lines_sent += 1

    def still_waiting(self) -> int:
        """How many clients the server has neither answered nor closed."""
        waiting = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                sock.recv(1, socket.MSG_PEEK)  # bytes (an answer) or b"" (closed)
            except BlockingIOError:
                waiting += 1
            except OSError:
                pass  # reset
            finally:
                sock.settimeout(10)
        return waiting
