"""Jinja helpers that put cached covers on pages.

``get_thumbnail_url(url)``, ``get_detail_image_url(url)`` and
``get_placeholder_url(size_type)`` give one URL each; ``cover_img(album)``
renders a whole ``<img>``; the ``artist_name`` filter shows an artist
without Discogs' disambiguation number. None of them downloads anything: they look the
source up in the cache index, and a miss is registered (so any worker can map
the key in the URL back to its source) and queued for the background fetcher
once the response is ready, in one batch per request.

The ``<img>`` contract with static/app.js and the stylesheet: class
``lazy-load`` until the real image is in (then ``loaded``, or ``errored``),
``src`` is the blur-up preview (a data: URI) or the placeholder, ``data-src``
and ``data-srcset`` the real image, ``data-original-src`` the source URL when
``FALLBACK_TO_ORIGINAL`` allows it. A ``<noscript>`` twin shows the real cover
without JavaScript.
"""

from __future__ import annotations

import base64
import calendar
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, url_for
from markupsafe import Markup, escape

from cache_engine.convert import SIZE_TYPES
from vinylvault.covers import extension

_PENDING = "vv_cover_misses"
#: Discogs tells same-named artists apart with a number ("Nadja Orsk (2)"): at
#: the end of the name, or of one name in a joined credit ("A (2) & B").
_DISAMBIGUATION = re.compile(r"\s\(\d+\)(?=\s*(?:$|[,&/]))")


def artist_name(name: str | None) -> str:
    """The artist as people write it: Discogs' disambiguation number dropped (stored names keep it)."""
    return _DISAMBIGUATION.sub("", name or "")


#: A Discogs release date: a year, then month and day where known ("00" when not).
_RELEASED = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
#: What Discogs writes in place of a catalog number a release does not have.
_NO_CATALOG_NUMBER = "none"


def released_date(value: str | None) -> str:
    """A Discogs release date as people read it: ``1999-03-15`` is "15 March 1999",
    ``1999-03-00`` "March 1999", ``1999-00-00`` "1999"; anything else is shown as it is."""
    text = (value or "").strip()
    found = _RELEASED.fullmatch(text)
    if not found:
        return text
    year, month, day = found.group(1), int(found.group(2) or 0), int(found.group(3) or 0)
    if not 1 <= month <= 12:
        return year
    if not 1 <= day <= calendar.monthrange(int(year), month)[1]:
        return f"{calendar.month_name[month]} {year}"
    return f"{day} {calendar.month_name[month]} {year}"


def catalog_number(value: str | None) -> str:
    """A label's catalog number, or "" where Discogs records that there is none."""
    text = (value or "").strip()
    return "" if text.lower() == _NO_CATALOG_NUMBER else text


def _box_size(size_type: str) -> int:
    setting = "THUMBNAIL_SIZE" if size_type == "thumbnails" else "DETAIL_SIZE"
    return current_app.config[setting]


def get_placeholder_url(size_type: str = "thumbnails") -> str:
    """URL of the placeholder drawn for ``size_type`` (unknown types get the thumbnail's)."""
    if size_type not in SIZE_TYPES:
        size_type = "thumbnails"
    return url_for("cache_routes.placeholder", size_type=size_type)


def _cache_url(key: str, size_type: str) -> str:
    return url_for("cache_routes.cached_image", size_type=size_type, key=key)


def _fallback_url(url: str, size_type: str) -> str:
    """Where to point for a source the cache could not get: the original or the placeholder."""
    if current_app.config["FALLBACK_TO_ORIGINAL"] and url.startswith(("http://", "https://")):
        return url
    return get_placeholder_url(size_type)


def _defer_fetch(url: str) -> None:
    """Remember a miss; :func:`_queue_misses` registers and queues them after the view."""
    g.setdefault(_PENDING, {})[url] = None


def _queue_misses(response: Any) -> Any:
    pending = g.pop(_PENDING, None)
    if pending:
        cache = extension.get_cache()
        urls = list(pending)
        cache.register_sources(urls)
        cache.queue(urls)
    return response


def _resolve(url: str | None, size_type: str) -> tuple[str | None, Any]:
    """(key, entry) for ``url``: key None when there is nothing to serve from the cache."""
    if not isinstance(url, str) or not url.strip():
        return None, None
    cache = extension.get_cache()
    try:
        entry = cache.lookup(url, size_type)
    except ValueError:  # not even parseable as a URL (say "http://[::1"): show the placeholder
        return None, None
    if entry is not None:
        # nginx may serve this file without the app seeing it: emitting the URL
        # is what keeps the entry's recency (and so eviction) right.
        cache.touch(entry.key, size_type)
        return entry.key, entry
    if cache.is_failed(url):
        return None, None
    _defer_fetch(url)
    return cache.key_for(url), None


def _real_url(url: str | None, key: str | None, size_type: str) -> str:
    """The cache URL when there is a key, else the fallback for the source, else the placeholder."""
    if key is not None:
        return _cache_url(key, size_type)
    if isinstance(url, str) and url:
        return _fallback_url(url, size_type)
    return get_placeholder_url(size_type)


def _image_url(url: str | None, size_type: str) -> str:
    key, _entry = _resolve(url, size_type)
    return _real_url(url, key, size_type)


def get_thumbnail_url(url: str | None) -> str:
    """The URL of the 150 px cover for the source ``url`` (never downloads)."""
    return _image_url(url, "thumbnails")


def get_detail_image_url(url: str | None) -> str:
    """The URL of the 600 px cover for the source ``url`` (never downloads)."""
    return _image_url(url, "detail")


def _field(album: Any, name: str) -> Any:
    if isinstance(album, Mapping):
        return album.get(name)
    return getattr(album, name, None)


def _source_and_alt(album: Any, alt: str | None) -> tuple[str | None, str]:
    if album is None or isinstance(album, str):
        return album or None, alt if alt is not None else "Album cover"
    if alt is None:
        names = [part for part in (artist_name(_field(album, "artist")), str(_field(album, "title") or "")) if part]
        alt = " — ".join(names) or "Album cover"
    # Older Discogs answers give some copies only a 150 px thumb: it is still their cover.
    return _field(album, "cover_url") or _field(album, "thumb_url") or None, alt


def _attributes(attrs: Mapping[str, Any]) -> str:
    """``name="value"`` pairs, escaped; None values are left out."""
    return " ".join(f'{name}="{escape(value)}"' for name, value in attrs.items() if value is not None)


def _preview_uri(entry: Any) -> str | None:
    if entry is None or not entry.preview:
        return None
    return "data:image/webp;base64," + base64.b64encode(entry.preview).decode("ascii")


def cover_img(
    album: Any,
    size_type: str = "thumbnails",
    alt: str | None = None,
    css_class: str = "",
    sizes: str | None = None,
    eager: bool = False,
    high_priority: bool = True,
) -> Markup:
    """One ``<img>`` for an album's cover (a mapping/object with ``cover_url``,
    ``artist``, ``title``) or for a plain source URL.

    Width and height come from the cached entry, else the size's box, so the
    grid never shifts. A thumbnail gets a ``srcset`` offering the detail image
    to high-density screens. ``eager`` is for the covers seen first (the
    grid's first screen, album page): their real image goes straight into
    ``src``, fetched at high priority unless ``high_priority`` is false (a
    second row waits for the first).
    """
    if size_type not in SIZE_TYPES:
        raise ValueError(f"unknown size type {size_type!r}")
    url, alt = _source_and_alt(album, alt)
    key, entry = _resolve(url, size_type)
    box = _box_size(size_type)
    real = _real_url(url, key, size_type)
    srcset = None
    if key and size_type == "thumbnails":
        srcset = f"{real} {box}w, {_cache_url(key, 'detail')} {_box_size('detail')}w"
    sizes = (sizes or f"{box}px") if srcset else None
    common = {
        "width": entry.width if entry else box,
        "height": entry.height if entry else box,
        "alt": alt,
        "decoding": "async",
        "data-size-type": size_type,
    }
    if eager:
        attrs = {
            "src": real,
            "srcset": srcset,
            "sizes": sizes,
            **common,
            "loading": "eager",
            "fetchpriority": "high" if high_priority else None,
            "class": css_class or None,
        }
        return Markup(f"<img {_attributes(attrs)}>")
    original = url if key and _fallback_url(url, size_type) == url else None
    attrs = {
        "src": _preview_uri(entry) or get_placeholder_url(size_type),
        "data-src": real,
        "data-srcset": srcset,
        "data-sizes": sizes,
        "data-original-src": original,
        "data-placeholder": get_placeholder_url(size_type),
        **common,
        "loading": "lazy",
        "class": f"lazy-load {css_class}".strip(),
    }
    twin = {"src": real, "srcset": srcset, "sizes": sizes, **common, "class": css_class or None}
    return Markup(f"<img {_attributes(attrs)}><noscript><img {_attributes(twin)}></noscript>")


def init_app(app: Flask) -> None:
    """Make the helpers Jinja globals and queue each request's misses after its view."""
    app.jinja_env.globals.update(
        get_thumbnail_url=get_thumbnail_url,
        get_detail_image_url=get_detail_image_url,
        get_placeholder_url=get_placeholder_url,
        cover_img=cover_img,
    )
    app.jinja_env.filters["artist_name"] = artist_name
    app.jinja_env.filters["released_date"] = released_date
    app.jinja_env.filters["catalog_number"] = catalog_number
    app.after_request(_queue_misses)
