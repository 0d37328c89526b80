"""Building real apps for tests, and shutting them down afterwards."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from flask import Flask

from vinylvault import create_app
from vinylvault import lifecycle


@contextlib.contextmanager
def app_factory(data_dir: Path, base_settings: Mapping[str, Any]) -> Iterator[Callable[..., Flask]]:
    """``factory(**overrides)`` builds an app on ``data_dir`` from ``base_settings``; every app
    built is shut down on exit (job runner stopped, caches flushed and closed)."""
    built: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**base_settings, "DATA_DIR": data_dir, **overrides})
        built.append(app)
        return app

    try:
        yield factory
    finally:
        for app in built:
            lifecycle.shutdown(app)
