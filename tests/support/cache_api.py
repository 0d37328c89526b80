"""The cache API of a test app: real covers on the origin, background jobs waited for."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

from tests.support.images import jpeg_bytes
from tests.support.origin import Origin

#: Settings of the cache API tests on top of BASE_SETTINGS: the job runner polls fast, so
#: background jobs finish within a test.
API_SETTINGS: dict[str, Any] = {"JOB_POLL_SECONDS": 0.05}


def serve_covers(origin: Origin, count: int, prefix: str = "/covers") -> list[str]:
    """``count`` distinct real JPEGs on the origin; their URLs."""
    return [origin.add_file(f"{prefix}/{n}.jpg", jpeg_bytes(320, 320, seed=n)) for n in range(count)]


def wait_for_job(client: FlaskClient, location: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job's status URL until it ends; the final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(location).get_json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job at {location} did not finish: {status}")
