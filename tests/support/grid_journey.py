"""What a person does with a long grid in chromium, and what the page is asked about it.

Shared by tests/journeys, tests/browser, tools/screenshots.py and bench/bench_browser.py.
Scrolling goes a screen at a time with a pause between screens, the way a
finger flicks through a collection, so the lazy loader and the infinite
scroll both see ordinary scroll positions (never a jump to the end).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Share of a screen each flick scrolls, and the pause after it (ms).
FLICK = 0.8
PAUSE_MS = 120
#: Flicks at the bottom with nothing new arriving before scrolling gives up.
PATIENCE = 25

#: JS: record every layout shift not caused by input, from the page's start:
#: ``window.__layoutShifts`` all of them, ``window.__cardShifts`` those that
#: moved a grid card (a cover loading, a card resizing). Content appended below
#: moves the footer when it is on screen; that is not a card shifting.
LAYOUT_SHIFTS = """
window.__layoutShifts = [];
window.__cardShifts = [];
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    if (entry.hadRecentInput) continue;
    const nodes = (entry.sources || []).map(s => s.node).filter(Boolean);
    const record = {value: entry.value, sources: nodes.map(n => (n.outerHTML || n.nodeName).slice(0, 120))};
    window.__layoutShifts.push(record);
    if (nodes.some(n => n.closest && n.closest('[data-album-grid]'))) window.__cardShifts.push(record);
  }
}).observe({type: 'layout-shift', buffered: true});
"""
#: JS: the sum of every layout shift :data:`LAYOUT_SHIFTS` recorded.
LAYOUT_SHIFT_TOTAL = "() => window.__layoutShifts.reduce((total, shift) => total + shift.value, 0)"

#: JS: one record per grid card (``[data-album-grid] > li``): its link, and
#: the cover <img> the card shows (the first one directly in ``.cover``).
CARDS = """() => [...document.querySelectorAll('[data-album-grid] > li')].map(li => {
    const img = li.querySelector('.cover > img');
    const box = (img || li).getBoundingClientRect();
    const cover = li.querySelector('.cover').getBoundingClientRect();
    return {
        href: new URL(li.querySelector('a').getAttribute('href'), location.href).pathname,
        src: img ? img.currentSrc : '',
        asked: img ? new URL(img.getAttribute('data-src') || img.getAttribute('src'), location.href).pathname : '',
        lazy: img ? img.classList.contains('lazy-load') : true,
        complete: img ? img.complete && img.naturalWidth > 0 : false,
        images: li.querySelectorAll('img').length,
        top: box.top, bottom: box.bottom,
        width: Math.round(cover.width), height: Math.round(cover.height),
    };
})"""

#: JS: scroll a screen at a time until the grid's end (no "Load more" left).
#: Stops early once ``untilCards`` cards are in the page; gives up after
#: ``patience`` flicks that neither move nor grow the page.
SCROLL_BY_FLICKS = """async ({flick, pause, patience, untilCards}) => {
    const cards = () => document.querySelectorAll('[data-album-grid] > li').length;
    let still = 0;
    while (still < patience) {
        if (untilCards && cards() >= untilCards) break;
        const before = scrollY, height = document.documentElement.scrollHeight;
        scrollBy(0, innerHeight * flick);
        await new Promise(resolve => setTimeout(resolve, pause));
        const atEnd = scrollY + innerHeight >= document.documentElement.scrollHeight - 1;
        if (atEnd && !document.querySelector('a.load-more')) break;
        still = scrollY === before && document.documentElement.scrollHeight === height ? still + 1 : 0;
    }
    return cards();
}"""

#: JS: true once every grid card shows its real cover (not the preview, not the placeholder).
EVERY_CARD_REAL = f"""() => ({CARDS})().every(card => !card.lazy && card.complete
    && !card.src.startsWith('data:') && !card.src.includes('/placeholders/') && card.src.includes('/cache/'))"""

#: JS: scroll a screen at a time to the end, as a finger would, letting each screen render:
#: a busy machine may run two timers in one frame, and lazy loading sees only rendered frames.
SCROLL_TO_END = """async () => {
    const rendered = () => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    while (scrollY + innerHeight < document.documentElement.scrollHeight - 1) {
        scrollBy(0, innerHeight * 0.8);
        await rendered();
        await new Promise(resolve => setTimeout(resolve, 100));
    }
}"""

#: JS: how far the page can scroll sideways (0 when nothing sticks out).
SIDEWAYS_OVERFLOW = "() => document.documentElement.scrollWidth - innerWidth"


@dataclass(frozen=True)
class Card:
    """One grid card as the browser shows it."""

    href: str
    src: str
    asked: str
    lazy: bool
    complete: bool
    images: int
    top: float
    bottom: float
    width: int
    height: int

    @property
    def shows_real_cover(self) -> bool:
        """Its own cached cover is decoded and shown: not the blur preview, not the placeholder."""
        return (
            not self.lazy
            and self.complete
            and "/cache/" in self.src
            and not self.src.startswith("data:")
            and "/placeholders/" not in self.src
        )


def cards(page) -> list[Card]:
    """Every card of the grid on ``page``, in order."""
    return [Card(**record) for record in page.evaluate(CARDS)]


def scroll_by_flicks(page, until_cards: int = 0, pause_ms: int = PAUSE_MS) -> int:
    """Flick through the grid to its end (or until ``until_cards`` cards), ``pause_ms`` between
    flicks; the cards in the page."""
    return page.evaluate(
        SCROLL_BY_FLICKS, {"flick": FLICK, "pause": pause_ms, "patience": PATIENCE, "untilCards": until_cards}
    )


class CoverRequests:
    """Every request chromium sends for a ``/cache/`` image, by path, from when it is attached."""

    def __init__(self, page) -> None:
        self.paths: list[str] = []
        page.on("request", self._record)

    def _record(self, request: Any) -> None:
        path = urlsplit(request.url).path
        if path.startswith("/cache/"):
            self.paths.append(path)

    def counts(self) -> Counter[str]:
        return Counter(self.paths)

    def repeated(self) -> dict[str, int]:
        """The paths asked for more than once, with how often."""
        return {path: n for path, n in self.counts().items() if n > 1}


def not_showing(all_cards: list[Card]) -> list[str]:
    """One line per card that does not show its real cover (empty when all do)."""
    return [
        f"card {i} {card.href}: src={card.src[:60]!r} lazy={card.lazy} complete={card.complete}"
        for i, card in enumerate(all_cards)
        if not card.shows_real_cover
    ]
