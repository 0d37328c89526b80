"""Fixtures for the fetcher tests: fetchers bound to the misbehaving origin (tests/conftest.py's ``origin``)."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from cache_engine.fetch import Fetcher, Resolver
from tests.support.fetching import make_policy


@pytest.fixture
def make_fetcher() -> Iterator[Callable[..., Fetcher]]:
    """``make_fetcher(pacer=None, resolver=None, **policy_overrides)``; closed after the test."""
    fetchers: list[Fetcher] = []

    def factory(pacer: object = None, resolver: Resolver | None = None, **overrides: object) -> Fetcher:
        fetcher = Fetcher(make_policy(**overrides), pacer=pacer, resolver=resolver)  # type: ignore[arg-type]
        fetchers.append(fetcher)
        return fetcher

    yield factory
    for fetcher in fetchers:
        fetcher.close()
