"""Fixtures shared by every test folder.

Area-specific fixtures live in each folder's own conftest.py; reusable test
servers (the misbehaving image origin, the fake Discogs API) live in
tests/support/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus/images: the 62 hard real images and their MANIFEST.tsv."""
    path = SHARED / "corpus" / "images"
    if not path.is_dir():
        pytest.fail(f"image corpus missing at {path}")
    return path


@pytest.fixture(scope="session")
def discogs_corpus_dir() -> Path:
    path = SHARED / "corpus" / "discogs"
    if not path.is_dir():
        pytest.fail(f"Discogs corpus missing at {path}")
    return path


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright driver of the session: every folder's chromium is launched from it
    (a second sync driver cannot start while one runs)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: ./run_tests.sh installs Debian's chromium")
    with sync_playwright() as playwright:
        yield playwright
