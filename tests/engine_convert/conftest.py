"""Fixtures for the conversion pipeline tests."""

from __future__ import annotations

import pytest

from cache_engine.convert import ConvertOptions, VariantSpec
from tests.support.conversions import DETAIL, THUMB, manifest_rows


@pytest.fixture(scope="session")
def options() -> ConvertOptions:
    """The cover cache's default outputs: 150 px thumbnails and 600 px detail."""
    return ConvertOptions(specs=(VariantSpec("detail", DETAIL), VariantSpec("thumbnails", THUMB)))


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows by file name."""
    return manifest_rows()
