"""The app's preload/sync job runner: started with the app, stopped before the cover cache closes.

Jobs run in :class:`cache_engine.jobs.JobQueue`, whose state lives in the
cache index: any worker answers for a job another worker accepted. Both job
APIs (``/api/cache/preload``, ``/api/images/sync``) submit and answer through
:func:`submit` and :func:`status`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, jsonify, url_for

from cache_engine.jobs import JobQueue
from vinylvault import lifecycle
from vinylvault.covers import extension
from vinylvault.web.errors import APIError

JOBS = "image_jobs"
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def init_app(app: Flask) -> None:
    """Create the app's :class:`JobQueue` over its cover cache and start the runner thread."""
    settings = app.config["SETTINGS"]
    queue = JobQueue(
        app.extensions[extension.COVERS],
        lease_seconds=settings.JOB_LEASE_SECONDS,
        poll_seconds=settings.JOB_POLL_SECONDS,
    )
    app.extensions[JOBS] = queue
    queue.start()
    lifecycle.on_shutdown(app, "job runner", lambda: app.extensions.pop(JOBS).stop())


def get_jobs() -> JobQueue:
    """The current app's job queue."""
    return current_app.extensions[JOBS]


def submit(kind: str, urls: Iterable[str], status_endpoint: str, **extra: Any) -> Response:
    """Queue a ``kind`` job over ``urls``: 202 Accepted naming the job and where to follow it (``Location``)."""
    job_id = get_jobs().submit(kind, urls)
    response = jsonify({"job_id": job_id, **extra})
    response.status_code = 202
    response.headers["Location"] = url_for(status_endpoint, job_id=job_id)
    return response


def status(job_id: str) -> Response:
    """A job's status as JSON; 400 for a malformed id, 404 for an unknown one."""
    if not _JOB_ID.fullmatch(job_id):
        raise APIError(400, "invalid_job_id", "a job id is 32 lowercase hex digits")
    found = get_jobs().status(job_id)
    if found is None:
        raise APIError(404, "unknown_job", f"no job {job_id}")
    return jsonify(found)
