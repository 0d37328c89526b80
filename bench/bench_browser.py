"""Time from navigation until the first screen of covers is painted, in chromium at 800x480.

Run alone with ``.venv/bin/python bench/bench_browser.py`` (or via run_all.py).
The demo site is initialized like run.sh does, every cover converted ahead (a
warm server cache), then served by gunicorn with gunicorn.conf.py, alone (as
``./run.sh`` serves it) and with deploy/vinylvault.conf's nginx in front (the
Pi's installed stack, covers and static files from disk). Each run opens the grid in a fresh browser context (empty browser cache, as after a
reboot of the Pi's kiosk) and waits, frame by frame, until every cover on the
first screen shows its real image. The time is chromium's own: the Element
Timing API reports when each cover's image was painted (an init script tags
the covers as the parser inserts them), and the figure is the last of those on
the first screen, on the page's clock; a time read by the test driver once it
has seen the covers would add its own round trips, which on a loaded machine
were a third of the figure. The driver evaluates nothing in the page before
its load event (its first evaluation injects a script on the page's main
thread). The baseline is the first contentful paint of the
same navigation (awaited: chromium reports it a frame or two after the paint,
when the covers may already be there): how much later than the page's first
paint the covers arrive. Each first visit is followed by a return visit: a
second navigation to the grid in the same context, as the kiosk makes coming
back from an album, its browser cache filled by the first. Writes "## First
screen of covers in chromium" in BENCHMARKS.md.

Service workers are blocked in every context, as in tests/journeys: the
phones' worker (vinylvault/static/sw.js) registers on the first load and then
fetches each cover on the page's behalf, which the scroll figures would
measure instead of the grid's own loading.

Then the same at scale: a 520-album collection synced from the fake Discogs
(tests/support/collection_site.py), covers converted ahead. Its first screen
is timed the same way; then, in fresh contexts, the grid is flicked through to
its end at a person's pace (``SCROLL_PAUSE_MS`` between flicks of 0.8
screens). For every card below the first screen the page records when its
cover first comes into view (an IntersectionObserver) and when app.js shows
the real image (the ``loaded`` class); the wait is the difference, 0 when the
cover was ready before it arrived. The baseline is the median round trip of a
``fetch('/health')`` from the same page: what any request to the server
costs. Writes "## Covers while scrolling in chromium".
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright
from report import ROOT, percentile, table, write_section

from tests.support.browser import COVERS_ON_SCREEN, FIRST_SCREEN_PAINTED, PI_SCREEN, launch_chromium
from tests.support.collection_site import collection_site
from tests.support.demo_site import prepare_demo_site
from tests.support.grid_journey import scroll_by_flicks
from tests.support.servers import GunicornServer, NginxServer

WORK = ROOT / "bench" / ".work" / "browser"
RUNS = 9
TARGET_MS = 300.0
SCALE_ALBUMS = 520
SCROLL_RUNS = 3
#: Between two flicks of 0.8 screens: reading a screen of covers, as a person does.
SCROLL_PAUSE_MS = 400
SCROLL_TARGET_MS = 150.0
HEALTH_FETCHES = 30

#: JS (init script): for every lazy cover, when it first intersects the
#: viewport and when app.js marks it loaded, in performance.now() ms.
COVER_TIMES = """
window.__coverTimes = new Map();
const seen = new IntersectionObserver(entries => entries.forEach(entry => {
    const times = window.__coverTimes.get(entry.target);
    if (entry.isIntersecting && times && times.inView === null) times.inView = entry.time;
}));
const track = img => {
    if (window.__coverTimes.has(img)) return;
    window.__coverTimes.set(img, {inView: null, loaded: null});
    seen.observe(img);
};
new MutationObserver(records => records.forEach(record => {
    if (record.type === 'childList') {
        record.addedNodes.forEach(node => {
            if (node.matches && node.matches('img.lazy-load')) track(node);
            if (node.querySelectorAll) node.querySelectorAll('img.lazy-load').forEach(track);
        });
    } else if (record.target.classList.contains('loaded')) {
        const times = window.__coverTimes.get(record.target);
        if (times && times.loaded === null) times.loaded = performance.now();
    }
})).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""
#: JS: [inView, loaded] of every tracked cover that came into view after ``since`` (ms).
COVER_WAITS = """since => [...window.__coverTimes.values()].filter(t => t.inView !== null && t.inView >= since)
    .map(t => [t.inView, t.loaded])"""
#: JS: the median ms of ``n`` sequential fetches of /health from the page.
HEALTH_ROUND_TRIP = """async n => {
    const times = [];
    for (let i = 0; i < n; i++) {
        const started = performance.now();
        await (await fetch('/health', {cache: 'no-store'})).text();
        times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
}"""
ENV = {"VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"}

#: JS: performance.now() is measured from the navigation's start; null until chromium reports the paint.
FIRST_CONTENTFUL_PAINT = """() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return paint ? paint.startTime : null;
}"""
#: JS (init script): every cover <img> is tagged for the Element Timing API as
#: it is inserted; ``window.__paintTimes`` maps an <img> to {image URL: ms it was painted}.
PAINT_TIMES = """
window.__paintTimes = new Map();
new MutationObserver(records => records.forEach(record => record.addedNodes.forEach(node => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const covers = [...node.querySelectorAll('img[data-size-type]')];
    if (node.matches('img[data-size-type]')) covers.push(node);
    covers.forEach(img => img.setAttribute('elementtiming', 'cover'));
}))).observe(document, {subtree: true, childList: true});
new PerformanceObserver(list => list.getEntries().forEach(entry => {
    if (!entry.element) return;
    const times = window.__paintTimes.get(entry.element) || {};
    times[entry.url] = entry.renderTime || entry.loadTime;
    window.__paintTimes.set(entry.element, times);
})).observe({type: 'element', buffered: true});
"""
#: JS: ms at which the last cover on screen was painted showing its current image, or null while one is not.
COVERS_PAINTED_AT = f"""() => {{
    const times = ({COVERS_ON_SCREEN})().map(img => (window.__paintTimes.get(img) || {{}})[img.currentSrc]);
    return times.length && times.every(time => time !== undefined) ? Math.max(...times) : null;
}}"""


def fresh_context(browser):
    """A browser context at the Pi's screen size with an empty cache and service workers blocked."""
    return browser.new_context(viewport=PI_SCREEN, service_workers="block")


def visit(page, url: str) -> tuple[float, float, int]:
    """(ms to covers painted, ms to first contentful paint, covers on screen) for one navigation of ``page``."""
    # Nothing is evaluated in the page before its load event: Playwright's first evaluation injects
    # its own script (tens of ms of the page's main thread), which would delay the paints measured.
    page.goto(url, wait_until="load")
    page.wait_for_function(FIRST_SCREEN_PAINTED, polling="raf", timeout=15_000)
    painted = page.wait_for_function(COVERS_PAINTED_AT, timeout=5_000).json_value()
    fcp = page.wait_for_function(FIRST_CONTENTFUL_PAINT, timeout=5_000).json_value()
    return painted, fcp, page.evaluate(f"() => ({COVERS_ON_SCREEN})().length")


def measure_once(browser, url: str, *, again: bool = False) -> tuple[float, float, int]:
    """:func:`visit` in a fresh context; ``again`` times a second visit, the browser's cache filled by the first.

    The second visit is the kiosk coming back to the grid from an album: what
    the browser kept of the first decides how much it asks the server again.
    """
    context = fresh_context(browser)
    try:
        page = context.new_page()
        page.add_init_script(PAINT_TIMES)
        if again:
            visit(page, url)
        return visit(page, url)
    finally:
        context.close()


def scroll_once(browser, url: str) -> tuple[list[float], int, float]:
    """(ms each cover below the first screen waited once in view, covers never shown, /health ms)."""
    context = fresh_context(browser)
    try:
        page = context.new_page()
        page.add_init_script(COVER_TIMES)
        page.goto(url)
        page.wait_for_function(FIRST_SCREEN_PAINTED, timeout=15_000)
        health = page.evaluate(HEALTH_ROUND_TRIP, HEALTH_FETCHES)
        scrolled_from = page.evaluate("() => performance.now()")
        scroll_by_flicks(page, pause_ms=SCROLL_PAUSE_MS)
        page.wait_for_timeout(1_000)  # the last screen's covers; figures come from the page's own clock
        times = page.evaluate(COVER_WAITS, scrolled_from)
        waits = [max(0.0, loaded - in_view) for in_view, loaded in times if loaded is not None]
        return waits, sum(1 for _in_view, loaded in times if loaded is None), health
    finally:
        context.close()


def first_screens(browser, url: str) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
    """:data:`RUNS` first visits and as many return visits (:func:`measure_once`), interleaved, after a warm-up."""
    measure_once(browser, url)  # Python and SQLite warm up in the workers
    runs = [(measure_once(browser, url), measure_once(browser, url, again=True)) for _ in range(RUNS)]
    return [fresh for fresh, _again in runs], [again for _fresh, again in runs]


def medians(runs: list[tuple[float, float, int]]) -> tuple[float, float]:
    """(painted, first contentful paint) medians of :func:`measure_once` results."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def measure_scale() -> None:
    """The first screen and the scroll on a 520-album collection; writes its section."""
    with (
        collection_site(WORK / "scale", albums=SCALE_ALBUMS) as site,
        _nginx_in_front(site.server, site.data_dir, WORK / "scale-nginx") as web,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        first_alone, _again_alone = first_screens(browser, site.url("/"))
        first, again = first_screens(browser, web.url("/"))
        scrolls = [scroll_once(browser, site.url("/")) for _ in range(SCROLL_RUNS)]
        browser.close()
    painted_alone, _fcp_alone = medians(first_alone)
    painted, fcp = medians(first)
    painted_again, _fcp_again = medians(again)
    waits = sorted(w for run in scrolls for w in run[0])
    never = sum(run[1] for run in scrolls)
    health = statistics.median(run[2] for run in scrolls)
    wait_p50, wait_p95 = percentile(waits, 0.5), percentile(waits, 0.95)
    ready = sum(1 for w in waits if w == 0) / len(waits)
    scroll_verdict = "met" if wait_p50 < SCROLL_TARGET_MS and never == 0 else "MISSED"
    first_verdict = "met" if painted < TARGET_MS else "MISSED"
    write_section(
        "Covers while scrolling in chromium",
        "\n\n".join(
            [
                f"{SCALE_ALBUMS} albums synced from the fake Discogs, covers converted ahead (a warm server cache), "
                f"headless Debian chromium at 800x480, a fresh browser context per run. First screen: through "
                f"nginx in front of gunicorn (the Pi's installed stack), median of {RUNS} first visits and {RUNS} "
                f"return visits (the grid opened again in the same context), after a warm-up visit. Scrolling: "
                f"gunicorn alone (every cover through Python, the harder case), {SCROLL_RUNS} runs to the "
                f"grid's end, flicks of 0.8 screens {SCROLL_PAUSE_MS} ms apart; {len(waits)} covers came into view "
                f"below the first screen. A cover's wait runs from entering the screen to its real image shown "
                f"(0 when it was ready on arrival, thanks to app.js's 200 px look-ahead).",
                table(
                    ("measure", "ms", "vs baseline"),
                    [
                        ("`fetch('/health')` round trip from the page (baseline), median", f"{health:.1f}", "1.00x"),
                        ("first screen of covers painted, median", f"{painted:.0f}", f"{painted / health:.1f}x"),
                        ("first contentful paint, median", f"{fcp:.0f}", f"{fcp / health:.1f}x"),
                        (
                            "first screen of covers painted, return visit, median",
                            f"{painted_again:.0f}",
                            f"{painted_again / health:.1f}x",
                        ),
                        ("cover wait once in view, median", f"{wait_p50:.0f}", f"{wait_p50 / health:.1f}x"),
                        ("cover wait once in view, p95", f"{wait_p95:.0f}", f"{wait_p95 / health:.1f}x"),
                    ],
                ),
                f"- Target: a card scrolled into view shows its cover within {SCROLL_TARGET_MS:.0f} ms (median): "
                f"**{wait_p50:.0f} ms, {scroll_verdict}**; {ready:.0%} of covers were ready on arrival, "
                f"{never} never showed.\n"
                f"- Target: first screen under {TARGET_MS:.0f} ms at {SCALE_ALBUMS} albums: "
                f"**{painted:.0f} ms, {first_verdict}** (gunicorn alone: {painted_alone:.0f} ms).",
            ]
        ),
    )
    print(
        f"scale: first screen {painted:.0f} ms, cover wait p50 {wait_p50:.0f} / p95 {wait_p95:.0f} ms, "
        f"never shown {never}, health {health:.1f} ms"
    )


def _nginx_in_front(server: GunicornServer, data_dir: Path, workdir: Path) -> NginxServer:
    """The Pi's installed stack: deploy/vinylvault.conf's nginx (covers and static files from disk) before ``server``."""
    return NginxServer(
        workdir,
        upstream_port=server.port,
        covers_dir=data_dir / "cache" / "covers",
        static_dir=ROOT / "vinylvault" / "static",
    )


def first_screen_rows(label: str, runs: list, again: list, fcp_baseline: float) -> list[tuple[str, str, str]]:
    """Table rows of one stack's first and return visits, as ratios to ``fcp_baseline``."""
    painted, fcp = medians(runs)
    painted_again, fcp_again = medians(again)
    return [
        (f"{label}: first contentful paint", f"{fcp:.0f}", f"{fcp / fcp_baseline:.2f}x"),
        (f"{label}: every cover on the first screen painted", f"{painted:.0f}", f"{painted / fcp_baseline:.2f}x"),
        (f"{label}: return visit, every cover painted", f"{painted_again:.0f}", f"{painted_again / fcp_baseline:.2f}x"),
    ]


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    prepare_demo_site(data_dir, "bench-password", ENV)
    with (
        GunicornServer(data_dir, log_path=WORK / "gunicorn.log", workers=2, env=ENV) as server,
        _nginx_in_front(server, data_dir, WORK / "nginx") as web,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        alone, alone_again = first_screens(browser, server.url("/"))
        behind, behind_again = first_screens(browser, web.url("/"))
        browser.close()

    painted_alone, fcp = medians(alone)
    painted, _fcp_behind = medians(behind)
    covers = behind[0][2]
    verdict = "met" if painted < TARGET_MS else "MISSED"
    write_section(
        "First screen of covers in chromium",
        "\n\n".join(
            [
                f"The demo grid (`/`) at 800x480 in headless Debian chromium with a warm cover cache, a fresh "
                f"browser context per visit; median of {RUNS} visits after one warm-up visit, for each of two "
                f"stacks: gunicorn alone (gunicorn.conf.py, as `./run.sh` serves), and the Pi's installed stack, "
                f"nginx (deploy/vinylvault.conf: covers and static files from disk) in front of the same "
                f"gunicorn. {covers} covers are on the first screen. A return visit opens the grid a second time "
                f"in the same context, as the kiosk does coming back from an album: the browser's cache holds "
                f"what the first visit let it keep.",
                table(
                    ("measure", "median ms", "vs baseline"),
                    [
                        ("gunicorn alone: first contentful paint (baseline)", f"{fcp:.0f}", "1.00x"),
                        *first_screen_rows("gunicorn alone", alone, alone_again, fcp)[1:],
                        *first_screen_rows("nginx in front", behind, behind_again, fcp),
                    ],
                ),
                f"- Target: covers painted under {TARGET_MS:.0f} ms on the installed stack: "
                f"**{painted:.0f} ms, {verdict}** (min {min(r[0] for r in behind):.0f}, "
                f"max {max(r[0] for r in behind):.0f} ms); gunicorn alone serves each cover through Python, "
                f"{painted_alone:.0f} ms.",
            ]
        ),
    )
    print(f"covers painted {painted:.0f} ms behind nginx, {painted_alone:.0f} ms gunicorn alone (FCP {fcp:.0f} ms)")
    measure_scale()


if __name__ == "__main__":
    main()
