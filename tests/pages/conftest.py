"""Fixtures for the page tests; their apps come from tests/support/page_apps.py (any folder may use them)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support.fake_discogs import FakeDiscogs


@pytest.fixture
def fake_discogs(discogs_corpus_dir: Path) -> Iterator[FakeDiscogs]:
    """The fake Discogs API on 127.0.0.1 with three collection items."""
    with FakeDiscogs(discogs_corpus_dir, items=3) as fake:
        yield fake
