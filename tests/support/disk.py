"""A small filesystem to fill up: a tmpfs mounted for one test, and a filler that fills it.

Mounting needs root (CI runs as root); elsewhere the tests that need it skip,
saying why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def mounted_tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"8m"``) on ``mount`` until the block ends; skips the test where mounting fails."""
    mount.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up ({result.stderr.strip()[:100]})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(disk: Path, leave: int = 0) -> Path:
    """Write ``disk/filler`` until the filesystem refuses another byte, or until about ``leave`` bytes are free."""
    filler = disk / "filler"
    with open(filler, "ab", buffering=0) as handle:
        for chunk in (1 << 20, 1 << 12) + ((1,) if not leave else ()):
            with contextlib.suppress(OSError):
                while free_bytes(disk) - chunk >= leave and handle.write(b"\0" * chunk):
                    pass
    assert free_bytes(disk) == 0 if not leave else leave <= free_bytes(disk) < leave + 4096
    return filler
