"""ARCHITECTURE.md names every module of the engine and the site, so a new one cannot go unmentioned."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT

DOC = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
MODULES = sorted(
    path.relative_to(ROOT)
    for folder in ("cache_engine", "vinylvault")
    for path in (ROOT / folder).rglob("*.py")
    if path.name != "__init__.py"
)
PACKAGES = sorted({path.parent for path in MODULES if path.parent.name != "vinylvault"})


def test_there_are_modules_to_check():
    assert len(MODULES) > 30 and len(PACKAGES) > 5


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_every_module_is_described(module):
    assert re.search(rf"\b{re.escape(module.stem)}(\.py)?\b", DOC), f"ARCHITECTURE.md does not mention {module}"


@pytest.mark.parametrize("package", PACKAGES, ids=str)
def test_every_package_has_its_row(package):
    assert f"`{package.name}/`" in DOC, f"ARCHITECTURE.md has no row for {package}/"
