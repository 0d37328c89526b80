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
