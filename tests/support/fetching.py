"""Fetch policies of the fetcher tests: short timeouts, quick back-off, loopback allowed."""

from __future__ import annotations

from cache_engine.fetch import FetchPolicy

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
