"""Time from navigation until the first screen of covers is painted, in chromium at 800x480.

Run alone with ``.venv/bin/python bench/bench_browser.py`` (or via run_all.py).
The demo site is initialized like run.sh does, every cover converted ahead (a
warm server cache), then served by gunicorn with gunicorn.conf.py. Each run
opens the grid in a fresh browser context (empty browser cache, as after a
reboot of the Pi's kiosk) and waits, frame by frame, until every cover on the
first screen shows its real image. The baseline is the first contentful paint
of the same navigation: how much later than the page's first paint the covers
arrive. Writes "## First screen of covers in chromium" in BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from report import ROOT, table, write_section  # noqa: E402
from tests.support.browser import COVERS_ON_SCREEN, FIRST_SCREEN_PAINTED, PI_SCREEN, launch_chromium  # noqa: E402
from tests.support.demo_site import prepare_demo_site  # noqa: E402
from tests.support.servers import GunicornServer  # noqa: E402

WORK = ROOT / "bench" / ".work" / "browser"
RUNS = 9
TARGET_MS = 300.0
ENV = {"VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"}

#: performance.now() is measured from the navigation's start.
FIRST_CONTENTFUL_PAINT = """() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return paint ? paint.startTime : null;
}"""


def measure_once(browser, url: str) -> tuple[float, float, int]:
    """(ms to covers painted, ms to first contentful paint, covers on screen) for one fresh visit."""
    context = browser.new_context(viewport=PI_SCREEN)
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_function(FIRST_SCREEN_PAINTED, polling="raf", timeout=15_000)
        painted = page.evaluate("() => performance.now()")
        fcp = page.evaluate(FIRST_CONTENTFUL_PAINT)
        covers = page.evaluate(f"() => ({COVERS_ON_SCREEN})().length")
        return painted, fcp, covers
    finally:
        context.close()


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    prepare_demo_site(data_dir, "bench-password", ENV)
    with GunicornServer(data_dir, log_path=WORK / "gunicorn.log", workers=2, env=ENV) as server, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        measure_once(browser, server.url("/"))  # first visit: Python and SQLite warm up in the workers
        runs = [measure_once(browser, server.url("/")) for _ in range(RUNS)]
        browser.close()

    painted = statistics.median(r[0] for r in runs)
    fcp = statistics.median(r[1] for r in runs)
    covers = runs[0][2]
    verdict = "met" if painted < TARGET_MS else "MISSED"
    write_section("First screen of covers in chromium", "\n\n".join([
        f"The demo grid (`/`) at 800x480 in headless Debian chromium, served by gunicorn "
        f"(gunicorn.conf.py) with a warm cover cache, a fresh browser context per visit; "
        f"median of {RUNS} visits after one warm-up visit. {covers} covers are on the first screen.",
        table(("measure", "median ms", "vs baseline"), [
            ("first contentful paint (baseline)", f"{fcp:.0f}", "1.00x"),
            ("every cover on the first screen painted", f"{painted:.0f}", f"{painted / fcp:.2f}x"),
        ]),
        f"- Target: covers painted under {TARGET_MS:.0f} ms: **{painted:.0f} ms, {verdict}** "
        f"(min {min(r[0] for r in runs):.0f}, max {max(r[0] for r in runs):.0f} ms).",
    ]))
    print(f"covers painted {painted:.0f} ms (FCP {fcp:.0f} ms), {covers} covers")


if __name__ == "__main__":
    main()
