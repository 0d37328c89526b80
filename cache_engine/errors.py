"""The image cache engine's exception tree.

Every failure the engine reports is an :class:`ImageCacheError` carrying a
short snake_case ``reason`` code. The code is what logs, stats, the negative
cache and API answers use; the message is one human-readable line.

::

    ImageCacheError
    ├── SourceRefused            a source that cannot become a cached image
    │   ├── UnsafeURL            (bad_scheme, credentials_in_url, private_address, ...)
    │   ├── FetchFailed
    │   │   ├── RemoteStatusError    http_<status>
    │   │   ├── TooManyRedirects
    │   │   └── DownloadTimeout
    │   ├── TooLarge
    │   ├── NotAnImage
    │   ├── UnsupportedFormat
    │   ├── TooManyPixels
    │   ├── TooMuchMemory
    │   └── CorruptImage
    ├── EntryTooLarge            encoded entry bigger than the whole budget
    └── CacheTimeout             waiting for another worker's conversion
"""

from __future__ import annotations

__all__ = [
    "ImageCacheError",
    "SourceRefused",
    "UnsafeURL",
    "FetchFailed",
    "RemoteStatusError",
    "TooManyRedirects",
    "DownloadTimeout",
    "TooLarge",
    "NotAnImage",
    "UnsupportedFormat",
    "TooManyPixels",
    "TooMuchMemory",
    "CorruptImage",
    "EntryTooLarge",
    "CacheTimeout",
]


class ImageCacheError(Exception):
    """Base class of every error the image cache engine raises.

    :param message: one line describing what went wrong; newlines are folded
        into spaces so a log record never spans lines.
    :param reason: a short snake_case code overriding the class default
        (``UnsafeURL("...", reason="private_address")``).
    """

    reason: str = "image_cache_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        message = " ".join(str(message).split())
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        """The one-line message."""
        return self.args[0] if self.args else ""


class SourceRefused(ImageCacheError):
    """A source that cannot become a cached image; it goes to the negative cache."""

    reason = "source_refused"


class UnsafeURL(SourceRefused):
    """The URL may not be fetched (scheme, credentials, address, allowlist, length)."""

    reason = "unsafe_url"


class FetchFailed(SourceRefused):
    """The download did not produce a body (connection error, status, redirects, timeout)."""

    reason = "fetch_failed"


class RemoteStatusError(FetchFailed):
    """The origin answered with an unusable HTTP status; ``reason`` is ``http_<status>``."""

    reason = "http_error"

    def __init__(self, message: str, status: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason or f"http_{int(status)}")
        self.status = int(status)


class TooManyRedirects(FetchFailed):
    """More redirect hops than ``MAX_REDIRECTS`` (or a loop)."""

    reason = "too_many_redirects"


class DownloadTimeout(FetchFailed):
    """Connect, read or overall deadline exceeded."""

    reason = "timeout"


class TooLarge(SourceRefused):
    """The source is bigger than the download byte cap."""

    reason = "too_large"


class NotAnImage(SourceRefused):
    """The bytes are not an image any decoder recognises (or the content type says so)."""

    reason = "not_an_image"


class UnsupportedFormat(SourceRefused):
    """An image, but of a format outside the decoded-format allowlist."""

    reason = "unsupported_format"


class TooManyPixels(SourceRefused):
    """The header declares more pixels than ``MAX_SOURCE_PIXELS``; never decoded."""

    reason = "too_many_pixels"


class TooMuchMemory(SourceRefused):
    """Converting the image would need more memory than ``CONVERT_MEMORY_MB`` allows.

    Estimated from the header (size, pixel mode, format), so the image is
    never decoded; JPEGs decode at a reduced scale and are rarely refused.
    """

    reason = "too_much_memory"


class CorruptImage(SourceRefused):
    """The header was readable but decoding failed (truncated or damaged data)."""

    reason = "corrupt_image"


class EntryTooLarge(ImageCacheError):
    """An encoded entry is bigger than the whole cache budget; nothing is evicted for it."""

    reason = "entry_too_large"


class CacheTimeout(ImageCacheError):
    """Waiting for another worker's conversion of the same source timed out."""

    reason = "busy"
