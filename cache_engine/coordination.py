"""Cross-process coordination on ``fcntl.flock``.

Every acquisition opens a FRESH file descriptor: a flock belongs to the open
file description, so two threads of one process exclude each other exactly as
two processes do. Lock files are tiny, created lazily under one folder
(``COVERS_DIR/.locks``) and never deleted while the cache runs (deleting a lock
file another process holds open would split the lock in two).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import struct
import threading
import time
from pathlib import Path
from typing import Iterator

from .errors import CacheTimeout

#: Poll interval bounds for bounded waits: short first (a single-flight lock is
#: usually held for one conversion), then backing off so waiters stay cheap.
_POLL_FIRST = 0.002
_POLL_MAX = 0.05

_KEY_PREFIX = re.compile(r"[0-9a-f]{4,}")


def _open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """An exclusive lock on one file, across threads and processes.

    Not re-entrant. ``with lock:`` waits without limit; ``acquire(timeout)``
    bounds the wait and says whether the lock was taken.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        """The descriptor of the held lock file (to keep small state in it)."""
        if self._fd is None:
            raise RuntimeError(f"{self.path} is not held")
        return self._fd

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock; wait at most ``timeout`` seconds (``None``: no limit)."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        fd = _open_lock_file(self.path)
        try:
            if timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            elif not self._poll(fd, time.monotonic() + timeout):
                os.close(fd)
                return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    @staticmethod
    def _poll(fd: int, deadline: float) -> bool:
        # flock has no timed wait: poll with LOCK_NB and growing sleeps.
        pause = _POLL_FIRST
        while not _try_flock(fd):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX)
        return True

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases the flock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> "FileLock":
        self.acquire(None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class KeyedLocks:
    """One lock per cache key, hashed into ``slots`` lock files.

    Two keys may share a slot (they then serialize, which is harmless); one key
    always maps to the same slot, which is what single-flight needs.
    """

    def __init__(self, lock_dir: Path | str, slots: int = 4096) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.slots = slots

    def lock(self, key: str) -> FileLock:
        """A fresh, not yet acquired :class:`FileLock` for ``key`` (a hex digest)."""
        if not _KEY_PREFIX.match(key):
            raise ValueError("key must be a lowercase hex digest")
        slot = int(key[:8], 16) % self.slots
        return FileLock(self.lock_dir / f"key-{slot:04x}.lock")


class Slots:
    """``count`` interchangeable slots shared by every process (a counting semaphore)."""

    def __init__(self, lock_dir: Path | str, name: str, count: int) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise ValueError("slot name must be [a-z0-9_-]+")
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.paths = [self.lock_dir / f"slot-{name}-{i}.lock" for i in range(count)]

    @contextlib.contextmanager
    def acquire(self, timeout: float | None = None) -> Iterator[int]:
        """Hold one free slot for the ``with`` block; yields its number.

        Raises :class:`CacheTimeout` if none frees up within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # Start at a per-process offset so processes do not all probe slot 0 first.
        start = os.getpid() % len(self.paths)
        order = self.paths[start:] + self.paths[:start]
        pause = _POLL_FIRST
        while True:
            for path in order:
                fd = _open_lock_file(path)
                if _try_flock(fd):
                    try:
                        yield self.paths.index(path)
                    finally:
                        os.close(fd)
                    return
                os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                raise CacheTimeout(f"no free slot among {len(self.paths)} within {timeout}s")
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX)


class SingleFlight:
    """One producer per key at a time, across the threads of this process and every other process.

    Threads of this process first take one of ``stripes`` thread locks (so
    they wait without polling), then the key's flock excludes other processes.
    """

    def __init__(self, lock_dir: Path | str, stripes: int = 256) -> None:
        self.locks = KeyedLocks(lock_dir)
        self._stripes = [threading.Lock() for _ in range(stripes)]

    @contextlib.contextmanager
    def hold(self, key: str, wait: float | None) -> Iterator[None]:
        """Be the only holder of ``key`` for the ``with`` block.

        ``wait`` bounds the wait for the current holder in seconds; ``None``
        waits until it is done, however long that takes.

        :raises CacheTimeout: the key was still held after ``wait`` seconds.
        """
        deadline = None if wait is None else time.monotonic() + wait
        stripe = self._stripes[int(key[:4], 16) % len(self._stripes)]
        if not stripe.acquire(timeout=-1 if wait is None else max(wait, 0)):
            raise CacheTimeout(f"another thread is producing this source (waited {wait}s)")
        try:
            lock = self.locks.lock(key)
            if not lock.acquire(None if deadline is None else max(deadline - time.monotonic(), 0)):
                raise CacheTimeout(f"another process is producing this source (waited {wait}s)")
            try:
                yield
            finally:
                lock.release()
        finally:
            stripe.release()


_TIME = struct.Struct("<d")


class HostPacer:
    """Spaces requests to one host by ``min_interval`` across every process.

    Each caller reserves the next free moment under the host file's lock and
    sleeps outside it, so waiters queue up without holding any lock. Times are
    stored as wall-clock seconds (the file outlives reboots; a monotonic clock
    does not).
    """

    def __init__(self, lock_dir: Path | str) -> None:
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)

    def _host_path(self, host: str) -> Path:
        # Host names never reach a path: only their digest does.
        digest = hashlib.sha256(host.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.lock_dir / f"host-{digest}.lock"

    def reserve(self, host: str, min_interval: float, deadline: float | None = None) -> float:
        """Reserve this host's next turn; return how many seconds to wait for it.

        ``deadline`` is a :func:`time.monotonic` value; a turn later than it
        raises :class:`CacheTimeout` and reserves nothing.
        """
        with FileLock(self._host_path(host)) as lock:
            fd = lock.fileno()
            raw = os.pread(fd, _TIME.size, 0)
            now = time.time()
            next_allowed = _TIME.unpack(raw)[0] if len(raw) == _TIME.size else 0.0
            turn = max(now, next_allowed)
            wait = turn - now
            if deadline is not None and time.monotonic() + wait > deadline:
                raise CacheTimeout(f"host turn is {wait:.1f}s away, beyond the deadline")
            os.pwrite(fd, _TIME.pack(turn + min_interval), 0)
        return wait

    def wait_turn(self, host: str, min_interval: float, deadline: float | None = None) -> None:
        """Block until this process may send its next request to ``host``."""
        if min_interval <= 0:
            return
        wait = self.reserve(host, min_interval, deadline)
        if wait > 0:
            time.sleep(wait)
