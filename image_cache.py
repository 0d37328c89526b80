"""The VinylVault cover cache: source URLs in, small WebP files out.

:class:`ImageCache` orchestrates the parts in :mod:`cache_engine`: a source is
read (:mod:`cache_engine.sources`: downloaded, or read from the data
directory) once, converted once into every size type of the cache, and stored
as ``<size_type>/<key[:2]>/<key>.webp`` under ``cache_dir``, indexed in
SQLite (:mod:`cache_engine.renditions`). Several processes share one cache_dir safely: single-flight and the
download bound use ``flock``, the byte budget and the free-space reserve
(``MIN_FREE_DISK_MB``) are enforced inside the index's write transaction, and
hits are batched in memory (:mod:`cache_engine.work` writes them, and runs the
background downloads). On a full disk the cache keeps serving what it has: a
failed write is logged once (and once more when space is back), placeholders
come from memory, and clearing frees space first.

The process-wide instance has module-level functions:
:func:`initialize_image_cache`, :func:`get_image_cache`,
:func:`shutdown_image_cache` (and :func:`install_image_cache` for an app that
owns its cache). No Flask here.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import config
from cache_engine.convert import SIZE_TYPES, ConvertOptions
from cache_engine.coordination import SingleFlight
from cache_engine.errors import CacheTimeout, EntryTooLarge, ImageCacheError, SourceRefused
from cache_engine.files import DiskFullNotice, is_storage_full
from cache_engine.index import CacheIndex, Entry
from cache_engine.memory_tier import MemoryTier
from cache_engine.placeholder import ensure_placeholder, render_placeholder
from cache_engine.renditions import KEY, Renditions
from cache_engine.sources import (
    LOCAL_PREFIX,
    Downloads,
    LocalFiles,
    Sources,
    key_for,
    log_refusal,
    normalize_url,
)
from cache_engine.work import QUEUE_LIMIT, SAMPLE_INTERVAL_SECONDS, DownloadQueue, IndexFlusher

__all__ = [
    "ImageCache",
    "Entry",
    "SIZE_TYPES",
    "LOCAL_PREFIX",
    "QUEUE_LIMIT",
    "SAMPLE_INTERVAL_SECONDS",
    "key_for",
    "normalize_url",
    "initialize_image_cache",
    "install_image_cache",
    "get_image_cache",
    "shutdown_image_cache",
]

log = logging.getLogger("vinylvault.image_cache")


class ImageCache:
    """A cache of WebP renditions of source images, shared by every process using ``cache_dir``.

    :param settings: validated :class:`config.Settings` (default ``config.load()``).
    :param size_types: renditions produced for every source (``ConvertOptions``
        names: thumbnails, detail, square).
    :param local_root: folder that ``local:`` URLs are resolved in; ``None``
        refuses them.
    :param local_folders: the folders (relative to ``local_root``) that
        ``local:`` sources may be read from; default the whole root. The data
        folder also holds databases, keys and private photos.
    :param file_mode: permissions of the cached files: readable by all for
        covers (nginx sends them), ``0o600`` for private photos' derivatives.
    :param rebuild_corrupt_index: move a corrupt index aside and start empty
        (the files it described are removed and made again on demand) instead
        of raising ``sqlite3.DatabaseError``.
    :param fetcher: an object with ``fetch(url)`` and ``close()``; default a
        :class:`cache_engine.fetch.Fetcher` paced across processes.
    """

    def __init__(
        self,
        cache_dir: Path | str,
        database_path: Path | str,
        settings: config.Settings | None = None,
        *,
        size_types: Iterable[str] = SIZE_TYPES,
        local_root: Path | str | None = None,
        local_folders: Iterable[Path | str] = (".",),
        file_mode: int = 0o644,
        fetcher: Any = None,
        rebuild_corrupt_index: bool = False,
    ) -> None:
        self.settings = settings or config.load()
        self.size_types = tuple(size_types)
        self.options = ConvertOptions.from_settings(self.settings, self.size_types)
        self._box = {spec.size_type: spec.box for spec in self.options.specs}
        # The smallest rendition is stored first: the one worth waiting for.
        self._first_size_type = min(self._box, key=self._box.__getitem__)
        self.cache_dir = Path(cache_dir)
        self.placeholder_dir = self.cache_dir / "placeholders"
        lock_dir = self.cache_dir / ".locks"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.index = CacheIndex(
            database_path,
            self.cache_dir,
            rebuild_corrupt=rebuild_corrupt_index,
            reserve_bytes=self.settings.min_free_disk_bytes,
        )
        self.renditions = Renditions(self.cache_dir, self.index, self.options, self.settings, file_mode=file_mode)
        self.temp_dir = self.renditions.temp_dir
        self.storage = DiskFullNotice("new images are not saved", "saving new images again")
        self.single_flight = SingleFlight(lock_dir)
        self.sources = Sources(
            LocalFiles(local_root, local_folders, self.settings.max_download_bytes),
            Downloads(
                self.settings,
                lock_dir,
                slot_wait=self._background_wait,
                on_download=lambda: self.index.count("downloads"),
                fetcher=fetcher,
            ),
        )
        self.memory = (
            MemoryTier(
                int(self.settings.MEMORY_CACHE_SIZE_MB * 1024 * 1024), self.settings.IMAGE_CACHE_TTL_HOURS * 3600
            )
            if self.settings.MEMORY_CACHE_ENABLED
            else None
        )
        self.download_queue = DownloadQueue(self._ensure, self._worth_queueing, self.settings.MAX_CONCURRENT_DOWNLOADS)
        self.flusher = IndexFlusher(self.index, self.settings.ACCESS_FLUSH_INTERVAL_SECONDS)
        self._closed = False
        self._close_lock = threading.Lock()
        self.flusher.start()
        if self.index.moved_aside is not None:
            # The files of the lost index have no rows: remove them so the byte
            # budget holds; they are fetched or converted again on demand.
            self.reconcile()

    # -- names and paths ------------------------------------------------------
    key_for = staticmethod(key_for)

    def _check_size_type(self, size_type: str) -> None:
        self.renditions.check_size_type(size_type)

    def path_for(self, key: str, size_type: str) -> Path:
        """Where the ``size_type`` rendition of ``key`` lives (built only from checked parts)."""
        return self.renditions.path_for(key, size_type)

    @property
    def limit_bytes(self) -> int:
        return self.settings.max_cache_bytes

    # -- look-ups (no fetch) ------------------------------------------------------
    def lookup_key(self, key: str, size_type: str) -> Entry | None:
        """The stored entry for ``key``, or None; records no access."""
        self._check_size_type(size_type)
        return self.index.get(key, size_type) if KEY.fullmatch(key) else None

    def lookup(self, url: str, size_type: str) -> Entry | None:
        return self.lookup_key(key_for(url), size_type)

    def lookup_many(self, urls: Iterable[str], size_type: str) -> dict[str, Entry | None]:
        self._check_size_type(size_type)
        keys = {url: key_for(url) for url in urls}
        found = self.index.get_many(keys.values(), size_type)
        return {url: found.get(key) for url, key in keys.items()}

    def record_access(self, key: str, size_type: str) -> None:
        """Count a hit served elsewhere (the HTTP route); batched, no disk write."""
        self.index.record_access(key, size_type)

    def touch(self, key: str, size_type: str) -> None:
        """Refresh recency only: a page emitted this entry's URL, and a front server
        (nginx) may serve the file without the app seeing the request. Batched."""
        self.index.touch(key, size_type)

    def register_sources(self, urls: Iterable[str]) -> int:
        """Remember ``key -> url`` so any process can map a key back to its source."""
        return self.index.register_sources({key_for(url): normalize_url(url) for url in urls})

    def source_url(self, key: str) -> str | None:
        return self.index.source_url(key) if KEY.fullmatch(key) else None

    def is_failed(self, url: str) -> bool:
        """True while ``url`` is in the negative cache."""
        return self._blocked(key_for(url))

    def failure_reason(self, url: str) -> str | None:
        """The reason code the negative cache holds for ``url`` (``http_404``, ...), or None."""
        state = self.index.failure_state(key_for(url))
        return state.last_error if state is not None and state.last_error else None

    def cached_source_urls(self) -> Iterator[str]:
        return self.index.iter_source_urls()

    # -- the main path ---------------------------------------------------------------
    def get_image(self, url: str, size_type: str = "detail", wait: float | None = None) -> str | None:
        """Absolute path of the cached ``size_type`` WebP of ``url``, producing it on a miss.

        A miss downloads (or reads) and converts the source once for every
        size type, unless it is in the negative cache. When another worker
        (thread or process) is already producing it, ``wait`` bounds the wait
        for it in seconds: request code passes its short
        ``ON_DEMAND_WAIT_SECONDS``; ``None`` (a script, a test) waits as long
        as that worker takes (its download has its own deadline).
        Returns None for a refused source or when the wait runs out.

        :raises ValueError: ``size_type`` is not one of this cache's size types.
        """
        self._check_size_type(size_type)
        key = key_for(url)
        entry = self.index.get(key, size_type)
        if entry is not None and entry.path.exists():
            self.index.record_access(key, size_type)
            return str(entry.path)
        self.index.count("misses")
        entry = self._produce(url, key, wait, source=None).get(size_type)
        return None if entry is None else str(entry.path)

    def store_source_bytes(self, url: str, data: bytes) -> bool:
        """Convert and store ``data`` as the source of ``url`` (a caller already holds the bytes)."""
        return bool(self._produce(url, key_for(url), self._background_wait, source=data))

    @property
    def _background_wait(self) -> float:
        # Background work may wait for a whole download by another worker, not forever.
        return self.settings.DOWNLOAD_DEADLINE_SECONDS * 2

    def _produce(self, url: str, key: str, wait: float | None, source: bytes | None) -> dict[str, Entry]:
        """Single-flight production of every size type of ``key``; {} if refused or timed out.

        ``wait`` bounds the wait for another producer (``None``: until it is done).
        """
        if source is None and self._blocked(key):
            return {}
        try:
            with self.single_flight.hold(key, wait):
                stored = self._stored(key)
                if source is None and len(stored) == len(self.size_types):
                    return stored  # another worker finished it while we waited
                if source is None and self._blocked(key):
                    return {}
                return self._fetch_convert_store(url, key, source)
        except CacheTimeout as exc:
            log.info("gave up waiting for %s: %s", key[:12], exc)
            return {}

    def _stored(self, key: str) -> dict[str, Entry]:
        entries = {}
        for size_type in self.size_types:
            entry = self.index.get(key, size_type)
            if entry is not None and entry.path.exists():
                entries[size_type] = entry
        return entries

    def _blocked(self, key: str) -> bool:
        state = self.index.failure_state(key)
        return state is not None and state.blocks()

    def _fetch_convert_store(self, url: str, key: str, source: bytes | None) -> dict[str, Entry]:
        try:
            # Before any download: room for the result, by evicting old entries if need be.
            self.index.restore_reserve()
        except (OSError, sqlite3.OperationalError) as exc:
            self._disk_failed(key, exc)
            return {}
        try:
            data = source if source is not None else self.sources.read(url)
        except SourceRefused as exc:
            self._negative(url, key, exc)
            return {}
        try:
            entries = self.renditions.make(url, key, data)
        except (SourceRefused, EntryTooLarge) as exc:
            log_refusal(url, exc)
            self._negative(url, key, exc)
            return {}
        except (OSError, sqlite3.OperationalError) as exc:
            # Our disk, not the source, failed (full, read-only): no negative
            # entry, the source is fine. No temp file is left behind.
            self._disk_failed(key, exc)
            return {}
        self.storage.recovered()
        if self.index.failure_state(key) is not None:
            self.index.clear_failure(key)
        return entries

    def _disk_failed(self, key: str, exc: Exception) -> None:
        """One log line for a full disk however many writes fail; one per failure otherwise."""
        if is_storage_full(exc):  # DiskReserveReached is an ENOSPC too
            self.storage.failed(exc)
        elif isinstance(exc, OSError):
            log.warning("could not store %s: %s", key[:12], exc)
        else:
            raise exc

    def _negative(self, url: str, key: str, exc: ImageCacheError) -> None:
        state = self.index.record_failure(
            key,
            normalize_url(url),
            exc.reason,
            self.settings.NEGATIVE_CACHE_MIN_SECONDS,
            self.settings.NEGATIVE_CACHE_MAX_SECONDS,
        )
        log.debug("%s blocked for %.0fs after %d failures", key[:12], state.retry_at - time.time(), state.attempts)

    # -- reading bytes -------------------------------------------------------------------
    def read_bytes(self, entry: Entry, scope: str = "default") -> bytes:
        """The bytes of ``entry``: from the memory tier when enabled, else from its file."""
        if self.memory is None:
            return entry.path.read_bytes()
        data = self.memory.get(entry.key, entry.size_type, scope)
        if data is None:
            data = entry.path.read_bytes()
            self.memory.put(entry.key, entry.size_type, data, scope)
        return data

    def get_placeholder_path(self, size_type: str) -> str:
        """Path of the vinyl-record placeholder for ``size_type`` (written once; needs disk space)."""
        self._check_size_type(size_type)
        return str(ensure_placeholder(self.placeholder_dir, size_type, self._box[size_type]))

    def placeholder_bytes(self, size_type: str) -> bytes:
        """The vinyl-record placeholder for ``size_type`` as WebP, drawn once per process, kept in memory.

        What the app serves: no file, so it answers on a full or read-only disk.
        """
        self._check_size_type(size_type)
        return render_placeholder(self._box[size_type])

    # -- background work -------------------------------------------------------------------
    def queue(self, urls: Iterable[str]) -> int:
        """Schedule ``urls`` for background production without blocking; return how many were queued.

        Skips URLs already cached, already queued or in the negative cache;
        drops the rest once the queue holds :data:`QUEUE_LIMIT` URLs.
        """
        return self.download_queue.queue(urls)

    def pending(self) -> int:
        """URLs waiting in the background queue or being produced."""
        return self.download_queue.pending()

    def preload_images(
        self, urls: Iterable[str], progress_callback: Callable[[int, int, str], None] | None = None
    ) -> dict[str, bool]:
        """Bring every URL into the cache now; ``{url: cached}``; records no hit.

        ``progress_callback(completed, total, url)`` is called after each URL.
        Runs ``MAX_CONCURRENT_DOWNLOADS`` at a time (the slots bound all processes together).
        """
        return self.download_queue.preload(urls, progress_callback)

    def _worth_queueing(self, key: str) -> bool:
        return self.index.get(key, self._first_size_type) is None and not self._blocked(key)

    def _ensure(self, url: str) -> bool:
        """True once every size type of ``url`` is cached (produced now if needed); records no hit."""
        key = key_for(url)
        if len(self._stored(key)) == len(self.size_types):
            return True
        return len(self._produce(url, key, self._background_wait, source=None)) == len(self.size_types)

    def flush_quietly(self) -> None:
        """The background flush: pending hits, then a sample every :data:`SAMPLE_INTERVAL_SECONDS`.

        A full disk keeps the hits in memory for the next try and is logged
        once until a flush succeeds; another database failure is logged each time.
        """
        self.flusher.flush_quietly()

    def flush(self) -> int:
        """Write pending hits and counters now."""
        return self.index.flush()

    # -- statistics and maintenance --------------------------------------------------------------
    def get_cache_stats(self) -> dict[str, Any]:
        """Totals across every process and restart, plus this process's memory tier."""
        stats = self.index.stats()
        by_type = stats["entries_by_size_type"]
        stats.update(
            thumbnail_count=by_type.get("thumbnails", 0),
            detail_count=by_type.get("detail", 0),
            cache_limit_bytes=self.limit_bytes,
            available_space_bytes=shutil.disk_usage(self.cache_dir).free,
            disk_reserve_bytes=self.index.reserve_bytes,
            memory_tier=self.memory.stats() if self.memory else {"enabled": False},
            queued=self.pending(),
        )
        return stats

    def cleanup_cache(self, max_age_days: float = 30) -> int:
        """Remove entries not accessed for ``max_age_days``, then, if the disk is below the
        free-space reserve, the least recently used ones that bring it back; return how many."""
        return len(self.index.cleanup_older_than(max_age_days * 86400)) + len(self.index.restore_reserve(partial=True))

    def clear_cache(self) -> bool:
        """Remove every entry (files first), the negative cache and the counters; safe while others serve.

        Works on a full disk: the files' space is what the index's journal needs.
        """
        try:
            self.index.clear_all()
        except sqlite3.Error as exc:
            log.error("clearing the cache index failed: %s", exc)
            return False
        if self.memory is not None:
            self.memory.clear()
        self.storage.recovered()
        return True

    def remove_source(self, url: str) -> int:
        """Delete every rendition of ``url`` and forget the source; return entries removed."""
        return len(self.index.remove_key(key_for(url)))

    def remove_sources_under(self, prefix: str) -> int:
        """Delete every rendition of every source whose URL starts with ``prefix`` (``local:demo/``)
        and forget those sources; return entries removed. Other processes see it at once."""
        return len(self.index.remove_url_prefix(normalize_url(prefix)))

    def reconcile(self) -> dict[str, int]:
        """Repair drift a killed process can leave; report counts of what was removed."""
        orphans, missing = self.index.reconcile(self.renditions.files_on_disk)
        temps = self.renditions.remove_stale_temps()
        report = {"files_removed": len(orphans), "rows_removed": len(missing), "temp_files_removed": temps}
        if any(report.values()):
            log.info("reconcile: %s", report)
        return report

    def close(self) -> None:
        """Stop the threads, write pending hits, close files. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.download_queue.stop()
        self.flusher.stop()
        try:
            if not self.index.flush_if_possible():
                log.warning(
                    "the disk is full: %d cache hits could not be written at shutdown", self.index.recorder.pending()
                )
        finally:
            self.index.close()
            self.sources.close()

    def __enter__(self) -> "ImageCache":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the process-wide instance ----------------------------------------------------------------
_instance: ImageCache | None = None
_instance_lock = threading.Lock()


def _settings_from(overrides: dict[str, Any]) -> config.Settings:
    overrides = dict(overrides)
    max_cache_size = overrides.pop("max_cache_size", None)
    if max_cache_size is not None:
        # ``max_cache_size`` counts bytes; the setting counts GiB.
        overrides["MAX_CACHE_SIZE_GB"] = int(max_cache_size) / 1024**3
    return config.load(**overrides)


def initialize_image_cache(cache_dir: Path | str, database_path: Path | str, **settings: Any) -> bool:
    """Create the process-wide cache (replacing a previous one); False, with a logged reason, on failure.

    ``settings`` are :mod:`config` names (``MAX_CACHE_SIZE_GB=0.5``) plus
    ``max_cache_size``, the budget in bytes, and ``local_root``/``size_types``/``fetcher``.
    """
    options = {name: settings.pop(name) for name in ("local_root", "size_types", "fetcher") if name in settings}
    try:
        cache = ImageCache(cache_dir, database_path, _settings_from(settings), **options)
    except (config.ConfigError, OSError, ValueError) as exc:
        log.error("image cache not initialized: %s", exc)
        return False
    previous = install_image_cache(cache)
    if previous is not None:
        previous.close()
    return True


def install_image_cache(cache: ImageCache | None) -> ImageCache | None:
    """Make ``cache`` the process-wide instance; return the previous one, left open.

    For owners of their own instance (each Flask app closes its cache at its
    own shutdown), unlike :func:`initialize_image_cache`, which closes the one
    it replaces.
    """
    global _instance
    with _instance_lock:
        previous, _instance = _instance, cache
    return previous


def get_image_cache() -> ImageCache | None:
    return _instance


def shutdown_image_cache() -> None:
    """Close the process-wide cache, if any. Idempotent."""
    global _instance
    with _instance_lock:
        cache, _instance = _instance, None
    if cache is not None:
        cache.close()
