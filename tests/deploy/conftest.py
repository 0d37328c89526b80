"""Fixtures for the deployment tests: a real gunicorn and a real nginx on 127.0.0.1 (tests/support/stack.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One nginx + gunicorn pair shared by a module's read-only checks."""
    with running_stack(tmp_path_factory.mktemp("stack")) as result:
        yield result


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A pair for a test that stops one of the servers."""
    with running_stack(tmp_path) as result:
        yield result
