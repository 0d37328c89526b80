"""Source URLs: their canonical form, their key, and reading their bytes.

A source is either a remote image (``http``/``https``), downloaded through one
shared :class:`~cache_engine.fetch.Fetcher` while holding one of the
``MAX_CONCURRENT_DOWNLOADS`` slots that every process shares, or a file of the
data directory, ``local:<relative path>``, read only from the folders its cache
allows (the cover cache ``demo/covers/``, the photo cache ``originals/``): never
the databases, the secret key or private photos. Nothing taken from a URL is
joined into a path before it is checked to be plain and relative, and the
resolved path must still lie inside an allowed folder.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import config

from .coordination import HostPacer, Slots
from .errors import ImageCacheError, SourceRefused, TooLarge, UnsafeURL

log = logging.getLogger("vinylvault.image_cache.sources")

#: Sources inside the data directory: ``local:demo/covers/0001.png``.
LOCAL_PREFIX = "local:"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def normalize_url(url: str) -> str:
    """The canonical form keys are computed from.

    Strips surrounding space, lower-cases scheme and host, drops a default
    port and the fragment, and keeps path and query byte-exact (Discogs image
    URLs are signed). ``local:`` URLs are kept as given.
    """
    url = url.strip()
    if url.startswith(LOCAL_PREFIX):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    hostport = hostport.lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and hostport.endswith(default_port):
        hostport = hostport[: -len(default_port)]
    path = parts.path or ("/" if hostport else "")
    return urlunsplit((scheme, userinfo + at + hostport, path, parts.query, ""))


def key_for(url: str) -> str:
    """sha256 hex digest of :func:`normalize_url` (the file name of the cached images)."""
    return hashlib.sha256(normalize_url(url).encode("utf-8", "surrogatepass")).hexdigest()


def loggable(url: str) -> str:
    """A URL shortened for one log line, without query (signatures) or credentials."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:200]


def log_refusal(url: str, exc: ImageCacheError) -> None:
    """The one warning line for a source that cannot become a cached image."""
    log.warning("refused %s (%s): %s", loggable(url), exc.reason, exc.message)


class LocalFiles:
    """``local:`` sources: files under ``root``, read only from ``folders`` (relative to it).

    :param root: the folder ``local:`` paths are relative to; ``None`` refuses every one.
    :param folders: where sources may be read from, relative to ``root``.
    :param max_bytes: the largest source read (as for downloads).
    """

    def __init__(self, root: Path | str | None, folders: Iterable[Path | str], max_bytes: int) -> None:
        self.root = None if root is None else Path(root).resolve()
        self.folders = () if self.root is None else tuple((self.root / folder).resolve() for folder in folders)
        self.max_bytes = max_bytes

    def read(self, relative: str) -> bytes:
        """Bytes of the file at ``relative``, refusing anything that could leave the allowed folders.

        :raises UnsafeURL: local sources are disabled, the path is not plain
            and relative, it resolves outside the folders, or it is no file.
        :raises TooLarge: the file holds more than ``max_bytes``.
        """
        path = self._confined(relative)
        try:
            with open(path, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise UnsafeURL(f"local source is not a file: {exc.strerror}", reason="local_missing") from None
        if len(data) > self.max_bytes:
            raise TooLarge(f"local source is larger than {self.max_bytes} bytes")
        return data

    def _confined(self, relative: str) -> Path:
        if self.root is None:
            raise UnsafeURL("local sources are not enabled for this cache", reason="local_disabled")
        parts = PurePosixPath(relative).parts
        if (
            not relative
            or "\x00" in relative
            or "\\" in relative
            or relative.startswith("/")
            or any(part in ("..", ".") for part in parts)
        ):
            raise UnsafeURL("local source path is not a plain relative path", reason="path_traversal")
        path = (self.root / relative).resolve()
        if not any(path.is_relative_to(folder) for folder in self.folders):
            raise UnsafeURL("local source resolves outside the folders covers come from", reason="path_traversal")
        return path


class Downloads:
    """Remote sources: one pooled fetcher, created at the first download, each download in a shared slot.

    :param settings: the fetch policy and ``MAX_CONCURRENT_DOWNLOADS``.
    :param lock_dir: where the slots' and the host pacing's lock files live.
    :param slot_wait: how long a download waits for a free slot.
    :param on_download: called after each completed download (the cache counts them).
    :param fetcher: an object with ``fetch(url)`` and ``close()`` instead of the paced default.
    """

    def __init__(
        self,
        settings: config.Settings,
        lock_dir: Path,
        *,
        slot_wait: float,
        on_download: Callable[[], None],
        fetcher: Any = None,
    ) -> None:
        self.settings = settings
        self.slots = Slots(lock_dir, "downloads", settings.MAX_CONCURRENT_DOWNLOADS)
        self.pacer = HostPacer(lock_dir)
        self.slot_wait = slot_wait
        self._on_download = on_download
        self._fetcher = fetcher
        self._fetcher_lock = threading.Lock()

    def read(self, url: str) -> bytes:
        """The body of ``url`` (normalized); the fetcher logs its own refusals.

        :raises SourceRefused: the fetcher refused the URL or the download failed.
        :raises CacheTimeout: no download slot freed up within ``slot_wait``.
        """
        fetcher = self._get_fetcher()
        with self.slots.acquire(timeout=self.slot_wait):
            result = fetcher.fetch(url)
        self._on_download()
        return result.content

    def _get_fetcher(self) -> Any:
        with self._fetcher_lock:
            if self._fetcher is None:
                # Imported at the first download: a cache that reads only local
                # sources (the photo cache, the CLI) never loads requests.
                from .fetch import Fetcher, FetchPolicy

                self._fetcher = Fetcher(FetchPolicy.from_settings(self.settings), pacer=self.pacer)
            return self._fetcher

    def close(self) -> None:
        """Close the fetcher's connections, if a download ever opened them."""
        with self._fetcher_lock:
            fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.close()


class Sources:
    """Reads a source's bytes: ``local:`` URLs from :class:`LocalFiles`, the others through :class:`Downloads`."""

    def __init__(self, local: LocalFiles, remote: Downloads) -> None:
        self.local = local
        self.remote = remote

    def read(self, url: str) -> bytes:
        """The bytes of the source ``url``; every refusal is logged once.

        :raises SourceRefused: the source cannot be read (unsafe, missing, too large, failed).
        :raises CacheTimeout: no download slot freed up in time (not the source's fault).
        """
        normalized = normalize_url(url)
        if not normalized.startswith(LOCAL_PREFIX):
            return self.remote.read(normalized)
        try:
            return self.local.read(normalized[len(LOCAL_PREFIX) :])
        except SourceRefused as exc:
            log_refusal(url, exc)
            raise

    def close(self) -> None:
        self.remote.close()
