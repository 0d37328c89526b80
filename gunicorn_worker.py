"""A gunicorn sync worker that waits for a request's whole head before serving it.

gunicorn's own sync worker accepts a connection and then blocks reading its
head: a client that sends one header line every few seconds holds the worker
(and, with two workers, the whole site) for as long as it likes. This worker
keeps the sync worker's model (one request at a time, connections closed after
the answer, so the two cores share the load evenly) but accepts connections
into an edge-triggered epoll set and peeks (``MSG_PEEK``) at their bytes
without consuming them. Only once the blank line ending the head is in the
kernel's receive buffer is the untouched socket handed to the sync worker's
own request handling, which then parses a head that is already there::

    # gunicorn.conf.py
    worker_class = "gunicorn_worker.HeadBufferingWorker"

A small request body (up to :data:`MAX_BUFFERED_BODY_BYTES`: a login form, a
small JSON request) is waited for the same way. A connection whose request
has not arrived within ``REQUEST_HEAD_TIMEOUT_SECONDS`` is answered 408; a
head larger than :data:`MAX_HEAD_BYTES` is answered 431. At most
``worker_connections`` connections wait per worker; beyond that the worker
stops accepting until some finish, and the rest queue in the kernel's listen
backlog (where the other worker may take them).

Linux only (epoll), like the Pi it is written for. Larger bodies (photo
uploads) are read by the sync worker as they come, as before; nginx, when in
front, buffers those too.
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import time
from dataclasses import dataclass

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from config import load_or_exit

#: Largest request head accepted. A browser's head, cookies included, is
#: under 2 KiB; nginx's default header buffers hold 32 KiB.
MAX_HEAD_BYTES = 32 * 1024

#: A body announced up to this size (a form, a small JSON request) is waited
#: for like the head, so a slow one cannot hold a worker either. Larger bodies
#: (photo uploads, the owner's) are read by the sync worker as they come: head
#: and body must fit the receive window a new connection starts with (64 KiB).
MAX_BUFFERED_BODY_BYTES = 16 * 1024

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,18})[ \t]*(?=\r\n)", re.IGNORECASE)
#: A client that sends this waits for "100 Continue" before its body.
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)
#: Events of a connection still sending its head: each new segment (EPOLLET)
#: and the peer hanging up.
_WAITING_EVENTS = select.EPOLLIN | select.EPOLLET | select.EPOLLRDHUP
_HANG_UP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
#: Reads of a refused client's unread bytes before closing (non-blocking).
_DRAIN_READS = 4
#: How often the loop wakes at the latest, to tell the arbiter it is alive.
_HEARTBEAT_SECONDS = 1.0


def _refusal(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode("ascii")


_TIMED_OUT = _refusal("408 Request Timeout")
_TOO_LARGE = _refusal("431 Request Header Fields Too Large")


@dataclass
class _Waiting:
    """An accepted connection whose request head has not fully arrived."""

    sock: socket.socket
    addr: object
    listener: socket.socket
    deadline: float


class HeadBufferingWorker(SyncWorker):
    """Serves one request at a time, like ``sync``, but only requests whose head has arrived."""

    def init_process(self) -> None:
        """Read the head timeout, then run (gunicorn's ``init_process`` ends by calling :meth:`run`)."""
        self.head_timeout = load_or_exit().REQUEST_HEAD_TIMEOUT_SECONDS
        self.waiting: dict[int, _Waiting] = {}  # by file descriptor, oldest first
        self.listeners: dict[int, socket.socket] = {}
        self.accepting = False
        super().init_process()

    def run(self) -> None:
        """Accept, wait for heads and serve until told to stop or the arbiter goes away."""
        self.poller = select.epoll()
        try:
            self.poller.register(self.PIPE[0], select.EPOLLIN)  # signals wake the loop
            for listener in self.sockets:
                listener.setblocking(False)
                self.listeners[listener.fileno()] = listener
            self._set_accepting(True)
            while self.alive and self.is_parent_alive():
                self.notify()
                self._dispatch(self.poller.poll(self._poll_timeout()))
                self._expire(time.monotonic())
                self._set_accepting(len(self.waiting) < self.cfg.worker_connections)
        finally:
            for waiting in list(self.waiting.values()):
                self._drop(waiting)
            self.poller.close()

    # --- Event loop ---------------------------------------------------------

    def _poll_timeout(self) -> float:
        """Seconds until the oldest waiting head expires, at most the heartbeat period."""
        if not self.waiting:
            return _HEARTBEAT_SECONDS
        oldest = next(iter(self.waiting.values()))
        return max(0.0, min(_HEARTBEAT_SECONDS, oldest.deadline - time.monotonic()))

    def _dispatch(self, events: list[tuple[int, int]]) -> None:
        for fd, mask in events:
            if not self.alive:  # SIGTERM or max_requests: no new request
                return
            if fd == self.PIPE[0]:
                self._drain_wakeups()
            elif fd in self.listeners:
                self._accept(self.listeners[fd])
            elif fd in self.waiting:
                self._check_head(self.waiting[fd], hung_up=bool(mask & _HANG_UP))

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.PIPE[0], 64):
                pass
        except BlockingIOError:
            pass

    def _set_accepting(self, accepting: bool) -> None:
        """Watch the listeners or stop (too many heads waiting); the kernel queues the rest."""
        if accepting == self.accepting:
            return
        for fd in self.listeners:
            if accepting:
                self.poller.register(fd, select.EPOLLIN)
            else:
                self.poller.unregister(fd)
        self.accepting = accepting

    def _accept(self, listener: socket.socket) -> None:
        """Accept one connection and serve it at once if its head is already in."""
        try:
            client, addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                return  # the other worker took it, or the client gave up
            raise
        client.setblocking(False)
        util.close_on_exec(client)
        self._check_head(_Waiting(client, addr, listener, time.monotonic() + self.head_timeout))

    # --- One connection -------------------------------------------------------

    def _check_head(self, waiting: _Waiting, hung_up: bool = False) -> None:
        """Serve ``waiting`` if its request has arrived, refuse it if too large, else keep waiting."""
        try:
            received = waiting.sock.recv(MAX_HEAD_BYTES + MAX_BUFFERED_BODY_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            received = None  # nothing sent yet
        except OSError:
            self._drop(waiting)  # reset by the client
            return
        if received is not None and _has_arrived(received):
            self._forget(waiting)
            waiting.sock.setblocking(True)
            self.handle(waiting.listener, waiting.sock, waiting.addr)  # closes the socket
        elif received == b"" or hung_up:
            self._drop(waiting)  # the client went away before finishing its request
        elif received is not None and _HEAD_END not in received[:MAX_HEAD_BYTES] and len(received) >= MAX_HEAD_BYTES:
            self._refuse(waiting, _TOO_LARGE, f"request head larger than {MAX_HEAD_BYTES} bytes")
        elif waiting.sock.fileno() not in self.waiting:
            # Registering reports data that is already there, so nothing is missed
            # between the peek above and this call.
            self.waiting[waiting.sock.fileno()] = waiting
            self.poller.register(waiting.sock.fileno(), _WAITING_EVENTS)

    def _expire(self, now: float) -> None:
        """Answer 408 to every connection whose request did not arrive in time (oldest first)."""
        while self.waiting:
            oldest = next(iter(self.waiting.values()))
            if oldest.deadline > now:
                return
            self._refuse(oldest, _TIMED_OUT, f"request not complete after {self.head_timeout:g} s")

    def _refuse(self, waiting: _Waiting, answer: bytes, reason: str) -> None:
        """Send a one-line refusal and close, never blocking on the client.

        What the client sent is read away first: closing a socket with unread
        bytes makes the kernel reset the connection, and the client would
        then lose the answer.
        """
        self.log.info("Refused a request from %s: %s", _host(waiting.addr), reason)
        self._forget(waiting)
        try:
            waiting.sock.send(answer)
            waiting.sock.shutdown(socket.SHUT_WR)
            for _ in range(_DRAIN_READS):
                if not waiting.sock.recv(MAX_HEAD_BYTES):
                    break
        except OSError:  # BlockingIOError once drained, or the client is gone
            pass
        util.close(waiting.sock)

    def _forget(self, waiting: _Waiting) -> None:
        if self.waiting.pop(waiting.sock.fileno(), None) is not None:
            self.poller.unregister(waiting.sock.fileno())

    def _drop(self, waiting: _Waiting) -> None:
        self._forget(waiting)
        util.close(waiting.sock)


def _has_arrived(received: bytes) -> bool:
    """Whether ``received`` holds a whole head and the small body it announces.

    A body is waited for when its Content-Length is at most
    :data:`MAX_BUFFERED_BODY_BYTES` and the client is not waiting for
    "100 Continue"; larger and chunked bodies are the sync worker's to read.
    """
    head_end = received.find(_HEAD_END, 0, MAX_HEAD_BYTES)
    if head_end < 0:
        return False
    head = received[: head_end + 2]
    match = _CONTENT_LENGTH.search(head)
    body = int(match.group(1)) if match and not _EXPECT_CONTINUE.search(head) else 0
    if body > MAX_BUFFERED_BODY_BYTES:
        body = 0
    return len(received) >= head_end + len(_HEAD_END) + body


def _host(addr: object) -> str:
    """The client's address for a log line (a Unix socket has none)."""
    return str(addr[0]) if isinstance(addr, tuple) and addr else "a local client"
