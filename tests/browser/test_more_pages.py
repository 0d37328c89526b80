"""A collection longer than one grid page: covers added by "Load more" and infinite scroll load too.

The demo is exactly one page (48 albums), so this module builds its own site:
the demo plus 60 albums with covers of their own, every one converted ahead,
under gunicorn. Scrolling to the end must show every card's real cached cover,
asking for each image once, without layout shift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import config
from tests.support.albums import album, store
from tests.support.browser import VIEWPORTS, screenshot
from tests.support.demo_site import SITE_ENV, DemoSite, prepare_demo_site, warm_covers
from tests.support.grid_journey import LAYOUT_SHIFT_TOTAL, LAYOUT_SHIFTS, SCROLL_TO_END, CoverRequests
from tests.support.owner import PASSWORD
from tests.support.servers import GunicornServer
from vinylvault import db
from vinylvault.library import demo

pytestmark = pytest.mark.browser

EXTRA_ALBUMS = 60
#: Every card's cover: where it points now, and whether it shows a real decoded image.
CARD_COVERS = """() => [...document.querySelectorAll('[data-album-grid] img')].map(img => ({
    src: new URL(img.currentSrc || img.src, location.href).pathname,
    waiting: img.classList.contains('lazy-load') || img.classList.contains('errored'),
    complete: img.complete, width: img.naturalWidth}))"""
#: Scroll to the end again and again until no "Load more" link is left.
SCROLL_UNTIL_EVERY_PAGE = f"""async () => {{
    for (let round = 0; round < 20 && document.querySelector('a.load-more'); round++) {{
        await ({SCROLL_TO_END})();
        await new Promise(resolve => setTimeout(resolve, 300));
    }}
    await ({SCROLL_TO_END})();
}}"""


def add_albums_with_covers(data_dir: Path, count: int) -> list[str]:
    """Store ``count`` more albums, each with its own drawn cover converted into the cache; their URLs."""
    settings = config.load(DATA_DIR=data_dir)
    urls = []
    records = []
    for n in range(1, count + 1):
        artist, title = f"Crate Digger {n:03d}", f"Second Page Record {n}"
        source = data_dir / "extra" / f"{n}.jpg"
        source.parent.mkdir(parents=True, exist_ok=True)
        demo.draw_cover(100 + n, artist, title).save(source, "JPEG", quality=85)
        urls.append(f"local:extra/{n}.jpg")
        records.append(album(n, artist, title, year=1990 + n % 30, cover_url=urls[-1]))
    conn = db.connect(settings.DATABASE_PATH)
    try:
        store(conn, records)
    finally:
        conn.close()
    warm_covers(settings, urls)
    return urls


@pytest.fixture(scope="module")
def long_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo plus EXTRA_ALBUMS albums (three grid pages), warm cache, under gunicorn."""
    root = tmp_path_factory.mktemp("long-site")
    data_dir = root / "data"
    albums = prepare_demo_site(data_dir, PASSWORD, SITE_ENV)
    extra = add_albums_with_covers(data_dir, EXTRA_ALBUMS)
    with GunicornServer(data_dir, log_path=root / "gunicorn.log", workers=2, env=SITE_ENV) as server:
        yield DemoSite(
            server,
            data_dir,
            [album.id for album in albums] + list(range(1, EXTRA_ALBUMS + 1)),
            [album.image_url for album in albums if album.image_url] + extra,
        )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_loaded_page_shows_its_real_covers(long_site, new_page, viewport):
    # The browser's own cache, as before phones had a service worker (tests/phones checks the
    # worker downloads each cover once).
    page = new_page(VIEWPORTS[viewport], service_workers="block")
    page.add_init_script(LAYOUT_SHIFTS)
    requests = CoverRequests(page)
    response = page.goto(long_site.url("/"))
    assert response.status == 200
    assert page.locator("[data-album-grid] > li").count() < len(long_site.album_ids), "needs more than one page"

    page.evaluate(SCROLL_UNTIL_EVERY_PAGE)
    try:
        page.wait_for_function("() => !document.querySelector('[data-album-grid] img.lazy-load')")
    except PlaywrightTimeout:
        pass  # the assertions below name the covers that never loaded
    covers = page.evaluate(CARD_COVERS)

    # One card per album, one image per card: no <noscript> twin turned into a second <img>.
    assert page.locator("[data-album-grid] > li").count() == len(long_site.album_ids)
    assert len(covers) == len(long_site.album_ids)
    for cover in covers:
        assert not cover["waiting"] and cover["complete"] and cover["width"] > 0, cover
        assert cover["src"].startswith("/cache/thumbnails/"), cover
    # Each cover asked for once (app.js's loader and the <img> share the browser's cache).
    assert set(requests.counts()) == {cover["src"] for cover in covers}
    assert requests.repeated() == {}
    assert page.evaluate(LAYOUT_SHIFT_TOTAL) < 0.01
    assert page.locator(".site-footer").is_visible(), "the footer shows once every page is in"
    screenshot(page, f"grid-last-page-{viewport}")
