"""The wantlist, pressings, shelf and value views in chromium at the Pi's and a phone's size, with screenshots."""

from __future__ import annotations

from typing import Iterator

import pytest

import config
from tests.support.browser import VIEWPORTS, log_in, screenshot
from tests.support.demo_site import SITE_ENV, DemoSite, prepare_demo_site
from tests.support.owner import PASSWORD
from tests.support.servers import GunicornServer
from vinylvault import db
from vinylvault.library import collection
from vinylvault.library.collection import WantRecord

pytestmark = pytest.mark.browser

MASTER = 4242


@pytest.fixture(scope="module")
def collector_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """A demo site of its own (the shared one stays as other tests expect) with pressings, wants and values."""
    root = tmp_path_factory.mktemp("collector-site")
    data_dir = root / "data"
    albums = prepare_demo_site(data_dir, PASSWORD, SITE_ENV)
    conn = db.connect(config.load(DATA_DIR=data_dir).DATABASE_PATH)
    try:
        with collection.write_transaction(conn):
            conn.execute(
                "UPDATE albums SET master_id = ? WHERE id IN (?, ?, ?)",
                (MASTER, albums[0].id, albums[1].id, albums[2].id),
            )
            conn.execute(
                "UPDATE albums SET custom_fields = json_set(custom_fields, '$.Shelf', 'A3-12') WHERE id = ?",
                (albums[0].id,),
            )
            for n, album in enumerate(albums[3:15]):
                collection.save_want(
                    conn,
                    WantRecord(
                        id=9_000_000 + n,
                        release_id=9_000_000 + n,
                        master_id=MASTER if n < 2 else 0,
                        artist=album.artist,
                        title=f"{album.title} (first pressing)",
                        year=album.year or 0,
                        genres=album.genres,
                        cover_url=album.cover_url,
                        notes="Only with the inner sleeve" if n % 2 else "",
                    ),
                )
            for median in ("€1,180.00", "€1,234.56", "£1,300.00", "€1,402.10"):
                collection.save_value_snapshot(conn, {"minimum": median, "median": median, "maximum": median})
        collection.set_setting(conn, collection.SHELF_FIELD_KEY, "Shelf")
    finally:
        conn.close()
    with GunicornServer(data_dir, log_path=root / "gunicorn.log", workers=1, env=SITE_ENV) as server:
        yield DemoSite(server, data_dir, [album.id for album in albums], [])


def owner_page(new_page, site: DemoSite, viewport):
    page = new_page(viewport=viewport)
    log_in(page, site)
    return page


def no_sideways_scroll(page) -> bool:
    """The page's own content fits the width (the header's nav is the shared layout's, checked elsewhere)."""
    return page.evaluate("() => document.querySelector('main').scrollWidth <= innerWidth")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_wantlist_grid_fits_and_filters(new_page, collector_site: DemoSite, size: str):
    page = owner_page(new_page, collector_site, VIEWPORTS[size])
    page.goto(collector_site.url("/wants"))
    cards = page.locator("[data-album-grid] .card")
    assert cards.count() == 12
    assert page.locator(".card__note").first.inner_text() == "Only with the inner sleeve"
    screenshot(page, f"wants-{size}")
    assert no_sideways_scroll(page)
    page.fill("#wants-q", "first pressing")
    page.press("#wants-q", "Enter")
    page.wait_for_load_state()
    assert "q=first+pressing" in page.url and cards.count() == 12


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_album_page_lists_pressings_wants_and_the_shelf(new_page, collector_site: DemoSite, size: str):
    page = owner_page(new_page, collector_site, VIEWPORTS[size])
    page.goto(collector_site.url(f"/album/{collector_site.album_ids[0]}"))
    assert page.locator("#pressings-h").is_visible()
    assert page.locator("#pressings-h + .pressings li").count() == 2
    assert page.locator("#wanted-h + .pressings li").count() == 2
    assert "A3-12" in page.locator(".album__shelf").inner_text()
    page.locator("#pressings-h").scroll_into_view_if_needed()
    assert no_sideways_scroll(page)
    screenshot(page, f"album-pressings-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_grid_grouped_by_master_and_value_chart(new_page, collector_site: DemoSite, size: str):
    page = owner_page(new_page, collector_site, VIEWPORTS[size])
    page.goto(collector_site.url("/?group=master"))
    assert page.locator(".card__pressings").first.inner_text() == "3 pressings"
    screenshot(page, f"grid-grouped-{size}")
    page.goto(collector_site.url("/stats"))
    chart = page.locator("#chart-value")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible() and chart.locator("circle").count() == 3  # the £ point is left out
    assert page.locator(".value-table").get_by_text("Not charted: in £, not €.").count() == 1
    assert no_sideways_scroll(page)
    screenshot(page, f"stats-value-{size}")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_owner_makes_the_wantlist_public_on_the_sync_page(new_page, collector_site: DemoSite, size: str):
    page = owner_page(new_page, collector_site, VIEWPORTS[size])
    page.goto(collector_site.url("/sync"))
    page.locator("#collector-h").scroll_into_view_if_needed()
    assert page.input_value("#shelf_field") == "Shelf"
    screenshot(page, f"sync-collector-{size}")
    assert no_sideways_scroll(page)
    guest = new_page(viewport=VIEWPORTS[size])
    assert guest.goto(collector_site.url("/wants")).status == 404
    page.check("input[name=wants_public]")
    page.locator("#collector-h + form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.is_checked("input[name=wants_public]")
    assert guest.goto(collector_site.url("/wants")).status == 200
    assert guest.locator(".card__note").count() == 0  # the owner's notes stay the owner's
    page.uncheck("input[name=wants_public]")
    page.locator("#collector-h + form button[type=submit]").click()
    page.wait_for_load_state()
