"""Jinja helpers: URLs, the <img> markup, and no download while rendering."""

from __future__ import annotations

import base64
import re
import time
from html.parser import HTMLParser

import pytest
from flask import Flask, render_template_string

from tests.support.apps import cached_cover
from tests.support.images import jpeg
from tests.support.owner import set_owner_password
from vinylvault import lifecycle
from vinylvault.covers import extension

HOSTILE = '"><script>alert(1)</script>'


class _Images(HTMLParser):
    """Every <img> of a page as a dict of its attributes, noscript twins included."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.found.append(dict(attrs))


def _imgs(html: str) -> list[dict[str, str | None]]:
    parser = _Images()
    parser.feed(html)
    return parser.found


def _render(app: Flask, source: str, **context) -> str:
    with app.test_request_context():
        html = render_template_string(source, **context)
        app.process_response(app.response_class())  # runs the after-request queueing
        return html


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "background work did not finish"
        time.sleep(0.05)


def test_urls_for_a_cached_source(app, origin):
    entry = cached_cover(app, origin)
    html = _render(
        app, "{{ get_thumbnail_url(u) }} {{ get_detail_image_url(u) }} {{ get_placeholder_url('detail') }}", u=entry.url
    )
    assert html.split() == [
        f"/cache/thumbnails/{entry.key}.webp",
        f"/cache/detail/{entry.key}.webp",
        "/cache/placeholders/placeholder_detail.webp",
    ]


def test_urls_without_a_source_are_placeholders(app):
    html = _render(
        app, "{{ get_thumbnail_url(none) }} {{ get_detail_image_url('') }} {{ get_placeholder_url('bogus') }}"
    )
    assert html.split() == [
        "/cache/placeholders/placeholder_thumbnails.webp",
        "/cache/placeholders/placeholder_detail.webp",
        "/cache/placeholders/placeholder_thumbnails.webp",
    ]


def test_cover_img_of_a_cached_album(app, origin):
    entry = cached_cover(app, origin, width=300, height=200)
    album = {"cover_url": entry.url, "artist": "Nina Simone", "title": "Pastel Blues"}
    img, twin = _imgs(_render(app, "{{ cover_img(album) }}", album=album))
    assert (img["width"], img["height"]) == (str(entry.width), str(entry.height)) == ("150", "100")
    assert img["src"] == "data:image/webp;base64," + base64.b64encode(entry.preview).decode()
    assert img["data-src"] == f"/cache/thumbnails/{entry.key}.webp"
    assert img["data-srcset"] == (f"/cache/thumbnails/{entry.key}.webp 150w, /cache/detail/{entry.key}.webp 600w")
    assert img["data-sizes"] == "150px"
    assert img["loading"] == "lazy" and img["decoding"] == "async"
    assert img["class"] == "lazy-load" and img["data-size-type"] == "thumbnails"
    assert img["alt"] == "Nina Simone — Pastel Blues"
    assert img["data-placeholder"] == "/cache/placeholders/placeholder_thumbnails.webp"
    assert "data-original-src" not in img  # FALLBACK_TO_ORIGINAL is off
    # Without JavaScript the <noscript> twin shows the real cover.
    assert twin["src"] == img["data-src"] and twin["srcset"] == img["data-srcset"]
    assert "data-src" not in twin and "loading" not in twin


def test_cover_img_of_an_album_with_only_a_thumbnail(app, origin):
    entry = cached_cover(app, origin)
    album = {"cover_url": "", "thumb_url": entry.url, "artist": "Can", "title": "Ege Bamyasi"}
    img, twin = _imgs(_render(app, "{{ cover_img(album) }}", album=album))
    assert img["data-src"] == twin["src"] == f"/cache/thumbnails/{entry.key}.webp"


def test_cover_img_of_an_object_and_of_a_plain_url(app, origin):
    entry = cached_cover(app, origin)

    class Album:
        cover_url = entry.url
        artist = "Can"
        title = "Tago Mago"

    html = _render(
        app,
        "{{ cover_img(album, 'detail', css_class='hero') }}{{ cover_img(url, alt='Front') }}",
        album=Album(),
        url=entry.url,
    )
    detail, _twin, plain, _ = _imgs(html)
    assert detail["data-src"] == f"/cache/detail/{entry.key}.webp" and "data-srcset" not in detail
    assert detail["class"] == "lazy-load hero" and detail["alt"] == "Can — Tago Mago"
    assert plain["alt"] == "Front"


def test_hostile_titles_are_escaped(app):
    album = {"cover_url": 'http://127.0.0.1:9/x.jpg?a="><b>', "artist": HOSTILE, "title": HOSTILE}
    html = _render(app, "{{ cover_img(album) }}{{ cover_img(album, alt=album.title) }}", album=album)
    assert "<script>" not in html and "<b>" not in html
    assert _imgs(html)[0]["alt"] == f"{HOSTILE} — {HOSTILE}"


@pytest.mark.parametrize("bad", ["http://[::1", "   ", 42, "javascript:alert(1)"])
def test_unusable_sources_render_placeholders(app, bad):
    html = _render(app, "{{ cover_img({'cover_url': bad, 'title': 't'}) }}|{{ get_thumbnail_url(bad) }}", bad=bad)
    markup, url = html.split("|")
    assert "javascript:" not in markup
    img = _imgs(markup)[0]
    assert img["width"] == "150" and img["alt"] == "t"
    if not isinstance(bad, str) or bad.startswith("http://["):
        assert url == img["data-src"] == "/cache/placeholders/placeholder_thumbnails.webp"


def test_unknown_size_type_is_refused(app):
    with app.test_request_context(), pytest.raises(ValueError):
        render_template_string("{{ cover_img('http://x/y.jpg', 'huge') }}")


def test_rendering_never_downloads_and_queues_misses(make_app, origin):
    app = make_app()
    set_owner_password(app)  # pages send everything to /setup until then
    urls = [origin.add_file(f"/grid/{n}.jpg", jpeg(200 + n, 200)) for n in range(6)]
    albums = [{"cover_url": url, "artist": "A", "title": str(n)} for n, url in enumerate(urls)]
    gets_during_render: list[int] = []

    @app.get("/grid")
    def grid():
        html = render_template_string("{% for a in albums %}{{ cover_img(a) }}{% endfor %}", albums=albums)
        gets_during_render.append(len(origin.requests))
        return html

    html = app.test_client().get("/grid").get_data(as_text=True)
    assert gets_during_render == [0]
    lazy = [img for img in _imgs(html) if "data-src" in img]
    assert len(lazy) == 6
    for img in lazy:  # no entry yet: box size and the placeholder
        assert (img["width"], img["height"]) == ("150", "150")
        assert img["src"] == "/cache/placeholders/placeholder_thumbnails.webp"
    with app.app_context():
        cache = extension.get_cache()
        # Registered, so any worker can serve the key...
        assert [cache.source_url(cache.key_for(url)) for url in urls] == urls
        # ...and queued for the background fetcher.
        _wait_for(lambda: all(cache.lookup(url, "thumbnails") for url in urls))
    assert all(origin.hits(f"/grid/{n}.jpg") == 1 for n in range(6))


def test_failed_source_points_to_placeholder_or_original(make_app, origin):
    app = make_app()
    url = origin.add_status("/broken.jpg", 500)
    with app.app_context():
        extension.get_cache().get_image(url, "thumbnails", wait=10)
    img = _imgs(_render(app, "{{ cover_img(u) }}", u=url))[0]
    assert img["data-src"] == "/cache/placeholders/placeholder_thumbnails.webp"
    assert "data-srcset" not in img and "data-original-src" not in img
    lifecycle.shutdown(app)

    app = make_app(FALLBACK_TO_ORIGINAL=True)
    assert _render(app, "{{ get_thumbnail_url(u) }}", u=url) == url


def test_fallback_to_original_adds_data_original_src(make_app, origin):
    app = make_app(FALLBACK_TO_ORIGINAL=True)
    entry = cached_cover(app, origin)
    img = _imgs(_render(app, "{{ cover_img(u) }}", u=entry.url))[0]
    assert img["data-original-src"] == entry.url
    local = _imgs(_render(app, "{{ cover_img('local:demo/covers/1.png') }}"))[0]
    assert "data-original-src" not in local  # only remote URLs can be fallen back to


def test_eager_cover_has_the_real_image_in_src(app, origin):
    entry = cached_cover(app, origin)
    (img,) = _imgs(_render(app, "{{ cover_img(u, eager=True) }}", u=entry.url))
    assert img["src"] == f"/cache/thumbnails/{entry.key}.webp"
    assert img["loading"] == "eager" and "data-src" not in img
    assert re.search(r"600w$", img["srcset"])
