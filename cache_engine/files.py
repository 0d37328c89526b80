"""Writing files so that no reader ever sees a partial one, and never into the free-space reserve.

A file is written under a temporary name in a folder on the same filesystem,
flushed to disk, and only then renamed to its final name: ``rename`` is atomic,
so a reader (or a process killed mid-write) sees either no file or a whole one.

The disk's last ``MIN_FREE_DISK_MB`` belong to everything else on the machine
(the databases' journals, the system): :func:`free_bytes` reads the free space
with one ``statvfs`` call, and :class:`DiskReserveReached` is the ``ENOSPC``
raised when a write would go below the reserve. :class:`DiskFullNotice` says
so in the log once, however many writes fail until space is back.

A server must also *start* on a disk something else filled: SQLite deletes a
database's ``-wal`` and ``-shm`` files at its last close and has to create
them again at the next open. :func:`keep_startup_room` sets a small file aside
while space is plentiful; :func:`release_startup_room` deletes it when the
disk is full, just before the databases open.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import uuid
from pathlib import Path

log = logging.getLogger("vinylvault.image_cache.files")

#: Files take whole blocks (4 KiB on ext4 and tmpfs): what removing a file frees, at least.
BLOCK_BYTES = 4096
#: The start-up room: enough for the -wal and -shm files of every database a server opens (32 KiB
#: of -shm each, a few pages of -wal), many times over.
STARTUP_ROOM_NAME = ".startup-room"
STARTUP_ROOM_BYTES = 1024 * 1024


class DiskReserveReached(OSError):
    """Writing would leave less free space than the reserve; an ``ENOSPC``, raised before writing."""

    def __init__(self, free: int, reserve: int) -> None:
        super().__init__(
            errno.ENOSPC,
            f"the disk is nearly full ({free / 1024**2:.1f} MB free, {reserve / 1024**2:g} MB are always kept free)",
        )


def free_bytes(path: Path | str) -> int:
    """Bytes an unprivileged process may still write on the filesystem holding ``path``."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def disk_bytes(size: int) -> int:
    """The space a file of ``size`` bytes occupies: rounded up to whole blocks."""
    return -(-size // BLOCK_BYTES) * BLOCK_BYTES


def is_storage_full(exc: BaseException) -> bool:
    """True when ``exc`` says the disk is full: ``ENOSPC``/``EDQUOT``, or SQLite's ``SQLITE_FULL``."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    return False


def check_reserve(folder: Path | str, size: int, reserve_bytes: int) -> None:
    """:raises DiskReserveReached: writing ``size`` bytes in ``folder`` would go below ``reserve_bytes``."""
    if reserve_bytes <= 0:
        return
    free = free_bytes(folder)
    if free - disk_bytes(size) < reserve_bytes:
        raise DiskReserveReached(free, reserve_bytes)


def release_startup_room(folder: Path | str) -> bool:
    """On a disk with less free space than the start-up room, delete the room; whether it was deleted."""
    if free_bytes(folder) >= STARTUP_ROOM_BYTES:
        return False
    try:
        (Path(folder) / STARTUP_ROOM_NAME).unlink()
    except FileNotFoundError:
        return False  # never set aside, or another process released it first
    log.warning(
        "the disk is full: released the %d KiB kept for starting up; free some space "
        "(clearing the cover cache on the admin page does)",
        STARTUP_ROOM_BYTES // 1024,
    )
    return True


def keep_startup_room(folder: Path | str, reserve_bytes: int) -> None:
    """Set the start-up room aside in ``folder`` unless it is there, or the disk has little space to spare.

    Written only when twice its size is free beyond ``reserve_bytes``: the
    room must never be what fills a disk. Processes starting together race
    here: each writes a candidate, ``link`` keeps exactly one.
    """
    room = Path(folder) / STARTUP_ROOM_NAME
    try:
        if room.exists() or free_bytes(folder) < reserve_bytes + 2 * STARTUP_ROOM_BYTES:
            return
        candidate = write_synced_temp(Path(folder), bytes(STARTUP_ROOM_BYTES), mode=0o600, prefix=".startup-room.")
    except OSError as exc:  # a disk filling meanwhile, a read-only data folder: start without it
        log.info("no start-up room set aside: %s", exc)
        return
    try:
        os.link(candidate, room)
    except FileExistsError:
        pass
    finally:
        candidate.unlink()


def write_synced_temp(
    temp_dir: Path, data: bytes, *, mode: int = 0o644, prefix: str = "", reserve_bytes: int = 0
) -> Path:
    """A new file in ``temp_dir`` holding ``data``, fsynced: ready to be renamed into place.

    The caller renames it (or removes it if it gives up); a leftover from a
    killed process is swept by its owner's clean-up (``ImageCache.reconcile``,
    ``PhotoStore.remove_orphans``).

    :raises DiskReserveReached: the file would leave less than ``reserve_bytes`` free (nothing written).
    """
    check_reserve(temp_dir, len(data), reserve_bytes)
    temp = Path(temp_dir) / f"{prefix}{uuid.uuid4().hex}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_atomically(
    path: Path, data: bytes, temp_dir: Path, *, mode: int = 0o644, prefix: str = "", reserve_bytes: int = 0
) -> None:
    """Write ``data`` to ``path`` through a synced temporary file in ``temp_dir``.

    :raises DiskReserveReached: the file would leave less than ``reserve_bytes`` free (nothing written).
    """
    temp = write_synced_temp(temp_dir, data, mode=mode, prefix=prefix, reserve_bytes=reserve_bytes)
    try:
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


class DiskFullNotice:
    """Logs that the disk is full once, and once when space is back, however many writes fail between.

    :param consequence: what stops while the disk is full ("new images are not saved").
    :param resumed: what starts again once space is back.
    """

    def __init__(self, consequence: str, resumed: str) -> None:
        self.consequence = consequence
        self.resumed = resumed
        self._lock = threading.Lock()
        self._full = False

    @property
    def full(self) -> bool:
        """Whether the last write failed for lack of space (and none has succeeded since)."""
        return self._full

    def failed(self, exc: BaseException) -> None:
        """A write failed for lack of space (``exc``); logged only if the last one succeeded."""
        with self._lock:
            first, self._full = not self._full, True
        if first:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            log.warning("out of disk space: %s; %s until space is freed", reason, self.consequence)

    def recovered(self) -> None:
        """A write succeeded; logged only if the last one had failed for lack of space."""
        with self._lock:
            was_full, self._full = self._full, False
        if was_full:
            log.info("disk space is available again: %s", self.resumed)
