"""Fixtures for the fetcher tests: the misbehaving origin and fetchers bound to it."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from cache_engine.fetch import Fetcher, FetchPolicy, Resolver
from tests.support.origin import origin

USER_AGENT = "VinylVault-test/1.0 +https://example.invalid"


def make_policy(**overrides: object) -> FetchPolicy:
    """A policy for tests: short timeouts, quick backoff, loopback allowed unless overridden."""
    values: dict[str, object] = dict(
        user_agent=USER_AGENT,
        connect_timeout=2.0,
        read_timeout=5.0,
        deadline=10.0,
        max_bytes=1024 * 1024,
        allow_private=True,
        host_min_interval=0.0,
        backoff_base=0.01,
    )
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


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
