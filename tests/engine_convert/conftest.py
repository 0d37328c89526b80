"""Fixtures for the conversion pipeline tests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cache_engine.convert import ConvertOptions, VariantSpec

from .helpers import DETAIL, MANIFEST_PATH, THUMB


@pytest.fixture(scope="session")
def options() -> ConvertOptions:
    """The cover cache's default outputs: 150 px thumbnails and 600 px detail."""
    return ConvertOptions(specs=(VariantSpec("detail", DETAIL), VariantSpec("thumbnails", THUMB)))


@pytest.fixture(scope="session")
def manifest(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows by file name."""
    assert corpus_dir / "MANIFEST.tsv" == MANIFEST_PATH
    with open(MANIFEST_PATH, newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}
