"""Phones in chromium: installable, the service worker in control, seen pages offline, redeployments.

The site runs with GUESTS_NEED_LINK on, so the phone first opens a guest link,
as a visitor would after scanning the code. Each test runs at the Pi's
800x480 and at a 390x844 phone, on 127.0.0.1 (a secure context like
localhost); the offline test also runs at the phone through deploy/vinylvault.conf's
HTTPS, with the LAN certificate deploy/lan_tls.py makes, as a phone on the
Wi-Fi that trusts its authority reaches the Pi.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

import config
from tests.support.apps import app_factory
from tests.support.browser import (
    COVERS_ON_SCREEN,
    FIRST_SCREEN_PAINTED,
    PHONE,
    PI_SCREEN,
    launch_chromium,
    log_in,
    screenshot,
)
from tests.support.demo_site import SITE_ENV, prepare_demo_site
from tests.support.live_site import LiveSite
from tests.support.owner import PASSWORD
from tests.support.paths import ROOT
from tests.support.servers import NginxServer
from vinylvault import db
from vinylvault.access import guest_links
from vinylvault.site import pwa

pytestmark = pytest.mark.browser

VIEWPORTS = {"pi": PI_SCREEN, "phone": PHONE}

#: JS: the URLs of the covers on screen that are real images from the service worker's cover cache.
COVERS_FROM_THE_WORKER = f"""async () => {{
    const covers = ({COVERS_ON_SCREEN})();
    const cache = await caches.open('vv-covers-1');
    const found = [];
    for (const img of covers) {{
        if (img.complete && img.naturalWidth > 0 && await cache.match(img.currentSrc)) found.push(img.currentSrc);
    }}
    return {{covers: covers.length, found: found.length}};
}}"""

#: JS: the elements sticking out past the right edge of the screen (a page that scrolls sideways).
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > innerWidth + 1 && !el.closest('.table'))
    .map(el => el.tagName.toLowerCase() + '.' + el.className + ': ' + el.textContent.trim().slice(0, 40))"""
CONTROLLED = "() => navigator.serviceWorker.controller !== null"
CACHE_NAMES = "() => caches.keys()"
#: Enough for the worker to finish its cache writes on a loaded machine; only a hang fails here.
POLLS = 200


def _eventually(page, script: str):
    """Evaluate ``script`` (which may be async, unlike wait_for_function's) until it is truthy; its value."""
    for _ in range(POLLS):
        value = page.evaluate(script)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {script}")


def _wait_for_control(page) -> None:
    """Until the worker controls the page: a page whose request began before the worker activated
    is not claimed (the spec's rule), so it is reloaded once, as a visitor's next page would be."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate(CONTROLLED):
        page.reload()
    page.wait_for_function(CONTROLLED)


def _guest_link(live_site, url: Callable[[str], str] | None = None) -> str:
    """A new day-long guest link, at ``url`` (default: the site's own address)."""
    with live_site.app.app_context():
        return (url or live_site.url)("/guest/" + guest_links.create_link(db.get_db(), "day", "Phone test"))


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The demo collection with a warm cover cache and GUESTS_NEED_LINK on, served on 127.0.0.1."""
    data_dir = tmp_path_factory.mktemp("phones") / "data"
    prepare_demo_site(data_dir, PASSWORD, SITE_ENV)
    with app_factory(data_dir, {"SYNC_INTERVAL_HOURS": 0, "ON_DEMAND_WAIT_SECONDS": 20}) as factory:
        site = LiveSite(factory, {"GUESTS_NEED_LINK": True})
        site.start()
        try:
            yield site
        finally:
            site.stop()


@pytest.fixture(scope="module")
def lan_https(live_site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """The shipped nginx site in front of the live site: HTTPS with a LAN certificate of its own."""
    settings = live_site.app.config["SETTINGS"]
    with NginxServer(
        tmp_path_factory.mktemp("phones-nginx"),
        upstream_port=live_site.port,
        covers_dir=settings.COVERS_DIR,
        static_dir=ROOT / "vinylvault" / "static",
    ) as web:
        yield web


@pytest.fixture(scope="module")
def trusting_browser(playwright_driver, lan_https):
    """Chromium taking the LAN certificate as valid, as a phone that trusts the authority does."""
    browser = launch_chromium(playwright_driver, trusted_cert=Path(lan_https.tls_dir, "server.crt"))
    yield browser
    browser.close()


@dataclass
class Origin:
    """Where the phone opens the site, and the browser that does."""

    url: Callable[[str], str]
    browser: object


@pytest.fixture
def origin(request, browser, live_site) -> Origin:
    """``localhost`` (default): the live site itself; ``lan-https``: through nginx's HTTPS."""
    if getattr(request, "param", "localhost") == "localhost":
        return Origin(live_site.url, browser)
    return Origin(request.getfixturevalue("lan_https").https_url, request.getfixturevalue("trusting_browser"))


@pytest.fixture
def phone(origin, request):
    """A fresh browser context at the requested viewport; closed afterwards, with no CSP violation seen."""
    context = origin.browser.new_context(viewport=VIEWPORTS[request.param], service_workers="allow")
    context.set_default_timeout(20_000)
    violations: list[str] = []
    context.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    yield context
    context.close()
    assert violations == []


def _wait_for_covers_in_the_worker(page) -> dict:
    page.wait_for_function(FIRST_SCREEN_PAINTED)
    return _eventually(
        page,
        f"""async () => {{ const r = await ({COVERS_FROM_THE_WORKER})();
                                               return r.covers > 0 && r.found === r.covers && r; }}""",
    )


def _installable(page) -> None:
    """Chromium's own install criteria: a parsed manifest with reachable icons, a controlling worker."""
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert manifest["url"].endswith("/manifest.webmanifest")
    errors = {e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    # Playwright contexts are incognito-like; chromium never offers to install from one.
    assert errors <= {"in-incognito"}, errors
    sizes = page.evaluate("""async () => {
        const manifest = await (await fetch(document.querySelector('link[rel=manifest]').href)).json();
        return Promise.all(manifest.icons.map(icon => new Promise(resolve => {
            const img = new Image();
            img.onload = () => resolve([icon.sizes, img.naturalWidth + 'x' + img.naturalHeight]);
            img.onerror = () => resolve([icon.sizes, 'failed']);
            img.src = icon.src;
        })));
    }""")
    assert sizes and all(declared == real for declared, real in sizes), sizes


@pytest.mark.parametrize(
    "phone, origin", [("pi", "localhost"), ("phone", "localhost"), ("phone", "lan-https")], indirect=True
)
def test_seen_pages_stay_browsable_offline(phone, origin, live_site, request):
    name = request.node.callspec.id
    # What the worker itself asks the network for, from the start: the worker may take control
    # during the first load or only after _wait_for_control's reload, and either way each cover
    # must be downloaded by it once at most.
    downloads: list[str] = []
    phone.on("request", lambda r: r.service_worker and "/cache/" in r.url and downloads.append(r.url))
    page = phone.new_page()
    page.goto(_guest_link(live_site, origin.url))
    assert page.evaluate("window.isSecureContext")
    _wait_for_control(page)
    _installable(page)
    page.reload()  # now every cover request goes through the worker
    grid = _wait_for_covers_in_the_worker(page)
    assert downloads and len(downloads) == len(set(downloads)), downloads
    album_href = page.locator("a.card").first.get_attribute("href")
    page.goto(origin.url(album_href))
    album = _wait_for_covers_in_the_worker(page)
    album_title = page.locator("h1").inner_text()

    phone.set_offline(True)
    try:
        page.goto(origin.url("/"))
        assert page.locator("a.card").count() > 0
        assert _wait_for_covers_in_the_worker(page) == grid
        screenshot(page, f"phones-offline-grid-{name}")
        page.goto(origin.url(album_href))
        assert page.locator("h1").inner_text() == album_title
        assert _wait_for_covers_in_the_worker(page) == album
        screenshot(page, f"phones-offline-album-{name}")

        page.goto(origin.url("/stats"))  # never opened on this phone
        assert page.locator("h1").inner_text() == "The record player is out of reach"
        assert page.evaluate(OVERFLOWING) == []
        screenshot(page, f"phones-offline-page-{name}")
    finally:
        phone.set_offline(False)


def test_without_trusting_the_authority_a_phone_browses_but_keeps_nothing(browser, lan_https, live_site):
    """What the trusted runs above rely on: a certificate warning clicked through is no secure context
    for a service worker."""
    context = browser.new_context(viewport=PHONE, service_workers="allow", ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(_guest_link(live_site, lan_https.https_url))
        assert page.locator("a.card").count() > 0
        refusal = page.evaluate("navigator.serviceWorker.register('/sw.js').then(() => '', e => e.message)")
        assert "SSL certificate error" in refusal
    finally:
        context.close()


@pytest.mark.parametrize("phone", list(VIEWPORTS), indirect=True)
def test_a_new_deployment_replaces_the_old_pages_and_scripts(phone, live_site, monkeypatch):
    page = phone.new_page()
    page.goto(_guest_link(live_site))
    _wait_for_control(page)
    old_names = page.evaluate(CACHE_NAMES)
    old_static = next(name for name in old_names if name.startswith("vv-static-"))

    monkeypatch.setattr(config, "VERSION", config.VERSION + "-next")
    live_site.redeploy()
    version = pwa.static_version(Path(live_site.app.static_folder))
    try:
        page.goto(live_site.url("/"))
        assert page.locator(f'script[src="/static/pages.js?v={version}"]').count() == 1
        # The new worker takes over and drops the old caches.
        _eventually(
            page,
            f"""async () => {{ const names = await caches.keys();
            return !names.includes({old_static!r}) && names.some(n => n.startsWith('vv-static-')); }}""",
        )
        new_static = next(name for name in page.evaluate(CACHE_NAMES) if name.startswith("vv-static-"))
        assert new_static != old_static
        assert page.evaluate(f"""async () => !!(await (await caches.open({new_static!r}))
                                 .match('/static/pages.js?v={version}'))""")
        page.reload()  # the first page the new worker serves
        _eventually(
            page,
            f"""async () => !!(await (await caches.open('vv-pages-' + {new_static[10:]!r}))
                                   .match(location.href))""",
        )
        phone.set_offline(True)
        page.reload()
        # Offline, the page kept is the new one, and its new scripts run from the new cache.
        assert page.locator(f'script[src="/static/pages.js?v={version}"]').count() == 1
        page.wait_for_function("() => typeof window.VinylVault === 'object'")
    finally:
        phone.set_offline(False)
        monkeypatch.undo()
        live_site.redeploy()


def test_the_kiosk_view_drops_the_worker_and_what_it_kept(browser, live_site):
    """The Pi's screen reaches the server on the same machine: no worker stands between them."""
    context = browser.new_context(viewport=PI_SCREEN, service_workers="allow")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(_guest_link(live_site))
        _wait_for_control(page)
        assert any(name.startswith("vv-") for name in page.evaluate(CACHE_NAMES))

        # The worker serves this first kiosk page, and stores what it fetches until the page goes.
        page.goto(live_site.url("/?kiosk=1"), wait_until="networkidle")
        _eventually(page, "async () => (await navigator.serviceWorker.getRegistrations()).length === 0")
        page.reload(wait_until="networkidle")
        assert not page.evaluate(CONTROLLED)
        _eventually(page, "async () => !(await caches.keys()).some(name => name.startsWith('vv-'))")
        assert page.evaluate("async () => (await navigator.serviceWorker.getRegistrations()).length") == 0
    finally:
        context.close()


@pytest.mark.parametrize("phone", list(VIEWPORTS), indirect=True)
def test_a_revoked_link_locks_the_phone_out_and_forgets_its_pages(phone, live_site, request):
    page = phone.new_page()
    page.goto(live_site.url("/"))
    assert page.locator("h1").inner_text() != ""
    assert "open to guests with a link" in page.content()
    page.goto(_guest_link(live_site))
    _wait_for_control(page)
    page.reload()
    assert page.locator("a.card").count() > 0

    owner = page.context.browser.new_context(viewport=VIEWPORTS[request.node.callspec.id])
    try:
        admin = owner.new_page()
        log_in(admin, live_site)
        admin.goto(live_site.url("/admin#guest-links-h"))
        row = admin.locator("#guest-links-h ~ table tr", has_text="Phone test").last
        assert "last used never" not in row.inner_text()  # the phone used it
        screenshot(admin, f"phones-admin-guest-links-{request.node.callspec.id}")
        assert admin.evaluate(OVERFLOWING) == []
        row.get_by_role("button", name="Revoke").click()
        admin.wait_for_load_state()
        assert "Guest link revoked." in admin.content()
    finally:
        owner.close()

    answer = page.goto(live_site.url("/"))
    assert answer.status == 403
    _eventually(page, "async () => !(await caches.keys()).some(n => n.startsWith('vv-pages-'))")
    phone.set_offline(True)
    try:
        page.goto(live_site.url("/"))
        assert page.locator("h1").inner_text() == "The record player is out of reach"
    finally:
        phone.set_offline(False)


@pytest.mark.parametrize("phone", list(VIEWPORTS), indirect=True)
def test_the_owners_pages_are_never_kept_on_the_phone(phone, live_site):
    page = phone.new_page()
    log_in(page, live_site)
    _wait_for_control(page)
    for path in ("/", "/admin", "/sync", "/stats"):
        assert page.goto(live_site.url(path)).status == 200, path
    page.goto(live_site.url("/"))
    _wait_for_covers_in_the_worker(page)  # the worker is at work: covers are kept
    kept = page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            if (name.startsWith('vv-static-')) continue;
            for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
        }
        return urls;
    }""")
    assert kept and all(path.startswith("/cache/") for path in kept), kept
