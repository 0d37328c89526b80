"""Writing files so that no reader ever sees a partial one.

A file is written under a temporary name in a folder on the same filesystem,
flushed to disk, and only then renamed to its final name: ``rename`` is atomic,
so a reader (or a process killed mid-write) sees either no file or a whole one.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


def write_synced_temp(temp_dir: Path, data: bytes, *, mode: int = 0o644, prefix: str = "") -> Path:
    """A new file in ``temp_dir`` holding ``data``, fsynced: ready to be renamed into place.

    The caller renames it (or removes it if it gives up); a leftover from a
    killed process is swept by its owner's clean-up (``ImageCache.reconcile``,
    ``PhotoStore.remove_orphans``).
    """
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


def write_atomically(path: Path, data: bytes, temp_dir: Path, *, mode: int = 0o644, prefix: str = "") -> None:
    """Write ``data`` to ``path`` through a synced temporary file in ``temp_dir``."""
    temp = write_synced_temp(temp_dir, data, mode=mode, prefix=prefix)
    try:
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
