"""Fixtures shared by every test folder.

The plugins below bring the fixtures several folders use: the misbehaving
image origin (``origin``), real apps (``make_app``, ``app``, ``client``,
``owner_client``) and the page tests' apps filled four ways (``empty_app``,
``small_app``, ``demo_app``, ``big_app``, ``guest``, ``owner`` ...). A
folder's own conftest.py holds only that folder's fixtures; helpers that
tests import live in tests/support/.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import paths  # noqa: E402  (needs ROOT on sys.path)

pytest_plugins = ("tests.support.origin", "tests.support.apps", "tests.support.page_apps")


def _located(locate: Callable[[], Path]) -> Path:
    try:
        return locate()
    except paths.SharedMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus/images: the hard real images and their MANIFEST.tsv."""
    return _located(paths.image_corpus)


@pytest.fixture(scope="session")
def discogs_corpus_dir() -> Path:
    """../shared/corpus/discogs: recorded Discogs API answers."""
    return _located(paths.discogs_corpus)


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
