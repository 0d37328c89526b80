"""JSON API over the cover cache: stats, health, clear, and preload jobs.

Read endpoints are public (the grid's JavaScript shows the stats). Mutating
endpoints need the owner (session with CSRF token, or ``Authorization: Bearer``)
and are rate limited per client. Every client error is ``{"error", "detail"}``
with its 4xx status; no input reaches a 500.

Preload jobs run in the app's job runner (:mod:`vinylvault.covers.jobs`).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, current_app, jsonify

from cache_engine.errors import UnsafeURL
from cache_engine.fetch import Fetcher, FetchPolicy
from cache_engine.health import UNHEALTHY, cache_health
from vinylvault.access.auth import owner_required, rate_limit
from vinylvault.covers import jobs
from vinylvault.covers.extension import get_cache
from vinylvault.web import inputs
from vinylvault.web.errors import APIError

log = logging.getLogger("vinylvault.covers.cache_api")

bp = Blueprint("api_cache", __name__, url_prefix="/api/cache")

_SCOPE = re.compile(r"[a-z0-9_-]{1,64}")
#: How long one health report answers every request (per process).
HEALTH_REUSE_SECONDS = 5.0
_HEALTH_MEMO = "vv_cache_health"


# --- reading the posted URLs -------------------------------------------------


def url_list(payload: Any, limit: int) -> list[str]:
    """``payload["urls"]`` checked for shape: a non-empty list of at most ``limit`` strings."""
    if not isinstance(payload, dict):
        raise APIError(400, "invalid_body", 'expected an object like {"urls": [...]}')
    urls = payload.get("urls")
    if not isinstance(urls, list):
        raise APIError(400, "invalid_urls", '"urls" must be a list of strings')
    if not urls:
        raise APIError(400, "invalid_urls", '"urls" must not be empty')
    if len(urls) > limit:
        raise APIError(400, "too_many_urls", f'"urls" holds {len(urls)} items; at most {limit} are accepted')
    if not all(isinstance(url, str) for url in urls):
        raise APIError(400, "invalid_urls", 'every item of "urls" must be a string')
    return urls


def screen_urls(urls: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Split ``urls`` into accepted (normalized) and refused ``{url, reason}`` by the fetch policy.

    The same checks run again at connect time (DNS can change); this pass lets
    the client know now which URLs will never be fetched.
    """
    accepted, refused = [], []
    with Fetcher(FetchPolicy.from_settings(current_app.config["SETTINGS"])) as fetcher:
        for url in urls:
            try:
                accepted.append(fetcher.validate_url(url))
            except UnsafeURL as exc:
                refused.append({"url": url[:200], "reason": exc.reason})
    return accepted, refused


# --- endpoints ---------------------------------------------------------------


@bp.get("/stats")
def stats():
    """The engine's statistics (``get_cache_stats()``)."""
    return jsonify(get_cache().get_cache_stats())


@bp.get("/health")
def health():
    """Every health check and the overall status; 503 when unhealthy.

    The drift check walks every cached file, so a report is reused for
    :data:`HEALTH_REUSE_SECONDS`: an anonymous client polling in a loop cannot
    keep the SD card busy.
    """
    now = time.monotonic()
    checked_at, report = current_app.extensions.get(_HEALTH_MEMO, (float("-inf"), None))
    if report is None or now - checked_at > HEALTH_REUSE_SECONDS:
        report = cache_health(get_cache(), current_app.config["SETTINGS"])
        current_app.extensions[_HEALTH_MEMO] = (now, report)
    return jsonify(report), 503 if report["status"] == UNHEALTHY else 200


@bp.post("/clear")
@owner_required
@rate_limit(scope="cache")
def clear():
    """Remove every cached image (placeholders are regenerated on demand)."""
    ok = get_cache().clear_cache()
    log.info("cache cleared by the owner: %s", "ok" if ok else "failed")
    message = "Image cache cleared." if ok else "The cache could not be cleared completely; see the log."
    return jsonify({"success": ok, "message": message}), 200 if ok else 500


@bp.post("/preload")
@owner_required
@rate_limit(scope="cache")
def preload():
    """Queue a background job fetching the posted URLs; refused URLs are listed with reasons."""
    urls = url_list(inputs.read_json_body(), current_app.config["PRELOAD_MAX_URLS"])
    accepted, refused = screen_urls(urls)
    if not accepted:
        body = {"error": "no_acceptable_urls", "detail": "every URL was refused", "refused": refused}
        return jsonify(body), 400
    return jobs.submit("preload", accepted, "api_cache.preload_status", accepted=len(accepted), refused=refused)


@bp.get("/preload/<job_id>")
def preload_status(job_id: str):
    """``{state, total, done, failed, errors, started_at, eta_seconds}`` of a job.

    ``state`` is queued, running, done, failed or cancelled, or resuming while
    a job whose worker died waits for another to take it over.
    """
    return jobs.status(job_id)


@bp.post("/scopes/<scope>/clear")
@owner_required
@rate_limit(scope="cache")
def clear_scope(scope: str):
    """Drop one page scope from the memory tier of the worker that answers.

    The memory tier is per process (each gunicorn worker has its own), so this
    frees memory in one worker; files on disk are untouched.
    """
    if not _SCOPE.fullmatch(scope):
        raise APIError(400, "invalid_scope", "a scope is 1-64 characters of a-z, 0-9, '_' and '-'")
    memory = get_cache().memory
    if memory is None:
        raise APIError(409, "memory_tier_disabled", "MEMORY_CACHE_ENABLED is off: there is nothing to clear")
    freed = memory.clear_scope(scope)
    return jsonify({"success": True, "scope": scope, "freed_bytes": freed})
