"""A cache's renditions on disk: where each one lives, and storing them so that index and files agree.

Layout: ``<cache_dir>/<size_type>/<key[:2]>/<key>.webp``, built only from a key
matching :data:`KEY` and one of the cache's size types (nothing taken from a
URL reaches a path). A rendition is written to ``.tmp`` and fsynced, then
renamed into place inside the index transaction that evicts for it and adds its
row, so a row only ever points at a complete file and the budget holds across
processes. What a killed writer leaves behind (a temp file, a file without a
row) is found by :meth:`Renditions.files_on_disk` and
:meth:`Renditions.remove_stale_temps` for the cache's ``reconcile``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Iterator

import config

from .convert import ConvertOptions, convert, make_preview
from .files import write_synced_temp
from .index import CacheIndex, Entry
from .sources import normalize_url

log = logging.getLogger("vinylvault.image_cache.renditions")

#: A cache key: the sha256 hex digest of a normalized source URL.
KEY = re.compile(r"[0-9a-f]{64}")
#: Temp files older than this are leftovers of a killed writer (a live one renames within seconds).
STALE_TEMP_SECONDS = 60.0


class Renditions:
    """Converts a source into every size type of ``options`` and stores the results under ``cache_dir``.

    :param index: the cache index the entries are added to (within its byte budget).
    :param settings: the budget (``max_cache_bytes``, ``CACHE_LOW_WATER_FRACTION``).
    :param file_mode: permissions of the stored files.
    """

    def __init__(
        self,
        cache_dir: Path,
        index: CacheIndex,
        options: ConvertOptions,
        settings: config.Settings,
        *,
        file_mode: int,
    ) -> None:
        self.cache_dir = cache_dir
        self.index = index
        self.options = options
        self.settings = settings
        self.file_mode = file_mode
        self.size_types = tuple(spec.size_type for spec in options.specs)
        self.temp_dir = cache_dir / ".tmp"
        for folder in (self.temp_dir, *(cache_dir / name for name in self.size_types)):
            folder.mkdir(parents=True, exist_ok=True)

    def check_size_type(self, size_type: str) -> None:
        """:raises ValueError: ``size_type`` is not one of this cache's size types."""
        if size_type not in self.size_types:
            raise ValueError(f"unknown size type {size_type!r}; expected one of {', '.join(self.size_types)}")

    def path_for(self, key: str, size_type: str) -> Path:
        """Where the ``size_type`` rendition of ``key`` lives; ``key`` and ``size_type`` are checked first.

        :raises ValueError: ``key`` is not 64 lowercase hex digits or ``size_type`` is not one of these.
        """
        self.check_size_type(size_type)
        if not KEY.fullmatch(key):
            raise ValueError("key must be 64 lowercase hex digits")
        return self.cache_dir / size_type / key[:2] / f"{key}.webp"

    def make(self, url: str, key: str, data: bytes) -> dict[str, Entry]:
        """Convert ``data`` once; store each rendition as it is encoded, smallest first.

        :raises SourceRefused: ``data`` cannot be converted (not an image, too big, corrupt...).
        :raises EntryTooLarge: a rendition is bigger than the whole budget.
        :raises OSError: writing failed (a full disk is a ``DiskReserveReached`` or ``ENOSPC``).
        """
        normalized = normalize_url(url)
        # Whatever is cached can be served by key from any process, even after a
        # clear or a removal forgot the source (a read, no write, when known).
        self.index.register_sources({key: normalized})
        started = time.perf_counter()
        entries: dict[str, Entry] = {}
        preview = None
        for variant in convert(data, self.options):
            if preview is None:
                preview = make_preview(variant.data)
            entry = Entry(
                key=key,
                size_type=variant.size_type,
                url=normalized,
                path=self.path_for(key, variant.size_type),
                bytes=len(variant.data),
                width=variant.width,
                height=variant.height,
                content_hash=hashlib.sha256(variant.data).hexdigest(),
                preview=preview,
                process_ms=(time.perf_counter() - started) * 1000,
            )
            self._store(entry, variant.data)
            entries[variant.size_type] = entry
        self.index.count("conversions")
        return entries

    def _store(self, entry: Entry, data: bytes) -> None:
        """Write to ``.tmp``, fsync, and rename into place inside the index transaction."""
        temp = write_synced_temp(self.temp_dir, data, mode=self.file_mode, prefix=f"{entry.key}.{entry.size_type}.")
        try:

            def place() -> None:
                entry.path.parent.mkdir(exist_ok=True)
                os.replace(temp, entry.path)

            limit = self.settings.max_cache_bytes
            evicted = self.index.add_entry(entry, place, limit, int(limit * self.settings.CACHE_LOW_WATER_FRACTION))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        if evicted:
            log.info(
                "evicted %d entries (%d bytes) for %s", len(evicted), sum(e.bytes for e in evicted), entry.key[:12]
            )

    def files_on_disk(self) -> Iterator[tuple[str, str, Path]]:
        """``(key, size_type, path)`` of every file in the layout, with or without a row."""
        for size_type in self.size_types:
            for path in (self.cache_dir / size_type).glob("*/*.webp"):
                if KEY.fullmatch(path.stem) and path.parent.name == path.stem[:2]:
                    yield path.stem, size_type, path

    def remove_stale_temps(self) -> int:
        """Delete temp files older than :data:`STALE_TEMP_SECONDS` (a killed writer's); return how many."""
        removed = 0
        cutoff = time.time() - STALE_TEMP_SECONDS
        for temp in self.temp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
        return removed
