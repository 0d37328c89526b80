"""A small, polite Discogs API client.

Politeness is the point: every request carries the required User-Agent, waits
its turn (at least ``min_interval`` seconds between two requests, across
processes when a shared pacer is given), slows down as
``X-Discogs-Ratelimit-Remaining`` approaches 0, and retries 429 and 5xx
answers with full-jitter exponential backoff (Discogs sends 429 without
``Retry-After``; one is honoured when present).

The token travels only in the ``Authorization`` header; it is never logged
and never part of an exception message.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Any, Callable, Protocol
from urllib.parse import quote, urlsplit

import requests

log = logging.getLogger("vinylvault.library.discogs")

#: Below this many remaining requests in the window, each request waits longer.
SLOW_BELOW_REMAINING = 10
#: Largest response body accepted (a collection page of 100 is ~150 KB).
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class DiscogsError(Exception):
    """Base class: something went wrong talking to Discogs. Messages never contain the token."""


class DiscogsAuthError(DiscogsError):
    """401/403: the token is missing, wrong or revoked, or the collection is private."""


class DiscogsNotFound(DiscogsError):
    """404: no such user, folder or release."""


class DiscogsUnavailable(DiscogsError):
    """Discogs could not be reached or kept failing (5xx, 429) after every retry; try later."""


class Pacer(Protocol):
    def wait_turn(self, host: str, min_interval: float, deadline: float | None = None) -> None: ...


class LocalPacer:
    """In-process pacer: requests to one host at least ``min_interval`` apart (thread-safe)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._sleep = sleep

    def wait_turn(self, host: str, min_interval: float, deadline: float | None = None) -> None:
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next.get(host, 0.0))
            self._next[host] = turn + min_interval
        if turn > now:
            self._sleep(turn - now)


class DiscogsClient:
    """GET requests to the Discogs API, paced and retried.

    ``sleep`` is how the client waits (tests pass a recorder); ``pacer``
    defaults to a :class:`LocalPacer` (give a
    :class:`cache_engine.coordination.HostPacer` to share the budget between
    processes, as the per-IP limit requires).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        user_agent: str,
        *,
        pacer: Pacer | None = None,
        min_interval: float = 1.0,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("Discogs requires a User-Agent")
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc
        self._token = token
        self.min_interval = min_interval
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._pacer = pacer or LocalPacer(sleep)
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._throttle = 0.0
        self.requests_sent = 0

    def __repr__(self) -> str:  # never show the token, even in a debugger
        return f"<DiscogsClient {self.base_url} token={'set' if self._token else 'none'}>"

    def close(self) -> None:
        self._session.close()

    # -- transport ------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Discogs token={self._token}"} if self._token else {}

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Slow down as the window's remaining requests run out (1 s more per request short of 10)."""
        try:
            remaining = int(response.headers["X-Discogs-Ratelimit-Remaining"])
            limit = int(response.headers.get("X-Discogs-Ratelimit", "60")) or 60
        except (KeyError, ValueError):
            return
        short = SLOW_BELOW_REMAINING - remaining
        self._throttle = (60.0 / limit) * short if short > 0 else 0.0

    def _backoff(self, attempt: int, response: requests.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.backoff_cap)
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    def _send(self, path: str, params: dict[str, Any] | None) -> requests.Response:
        self._pacer.wait_turn(self.host, self.min_interval)
        if self._throttle:
            self._sleep(self._throttle)
        self.requests_sent += 1
        return self._session.get(
            self.base_url + path,
            params=params,
            headers=self._headers(),
            timeout=self.timeout,
            stream=True,
            allow_redirects=False,
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (starting with ``/``) and return the decoded JSON body."""
        attempt = 0
        while True:
            try:
                response = self._send(path, params)
            except requests.RequestException as exc:
                # Only the exception's class: its text can hold the full URL.
                reason = type(exc).__name__
                response = None
            else:
                self._note_rate_limit(response)
                if response.status_code not in _RETRY_STATUSES:
                    return self._decode(path, response)
                reason = f"HTTP {response.status_code}"
                response.close()
            if attempt >= self.max_retries:
                raise DiscogsUnavailable(f"GET {path}: {reason} after {attempt + 1} attempts")
            delay = self._backoff(attempt, response)
            log.info("discogs GET %s: %s, retrying in %.1fs", path, reason, delay)
            self._sleep(delay)
            attempt += 1

    def _decode(self, path: str, response: requests.Response) -> Any:
        with response:
            status = response.status_code
            if status in (401, 403):
                raise DiscogsAuthError(f"GET {path}: HTTP {status} (token missing, wrong or not allowed)")
            if status == 404:
                raise DiscogsNotFound(f"GET {path}: not found")
            if status != 200:
                raise DiscogsUnavailable(f"GET {path}: unexpected HTTP {status}")
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
        if len(body) > MAX_RESPONSE_BYTES:
            raise DiscogsUnavailable(f"GET {path}: response larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise DiscogsUnavailable(f"GET {path}: response is not JSON") from None

    # -- endpoints ------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """``/oauth/identity``: who the token belongs to (raises :class:`DiscogsAuthError` if nobody)."""
        return self.get("/oauth/identity")

    def check_token(self) -> str:
        """The username the token belongs to; :class:`DiscogsAuthError` if it is not valid."""
        username = self.identity().get("username")
        if not isinstance(username, str) or not username:
            raise DiscogsAuthError("GET /oauth/identity: no username in the answer")
        return username

    def collection_page(self, username: str, folder_id: int = 0, page: int = 1, per_page: int = 100) -> dict[str, Any]:
        """One page of a collection folder: ``{"pagination": {...}, "releases": [...]}``.

        Oldest additions first, so copies added during a sync land on pages
        not yet read instead of shifting those already read.
        """
        return self.get(
            f"/users/{quote(username, safe='')}/collection/folders/{int(folder_id)}/releases",
            {"page": int(page), "per_page": int(per_page), "sort": "added", "sort_order": "asc"},
        )

    def folders(self, username: str) -> list[dict[str, Any]]:
        """The user's collection folders (``id``, ``name``, ``count``)."""
        return self.get(f"/users/{quote(username, safe='')}/collection/folders").get("folders") or []

    def collection_fields(self, username: str) -> list[dict[str, Any]]:
        """The user's custom collection fields (``id``, ``name``, ``type``...)."""
        return self.get(f"/users/{quote(username, safe='')}/collection/fields").get("fields") or []

    def release(self, release_id: int) -> dict[str, Any]:
        """A release with tracklist and images."""
        return self.get(f"/releases/{int(release_id)}")

    def wants_page(self, username: str, page: int = 1, per_page: int = 100) -> dict[str, Any]:
        """One page of the wantlist: ``{"pagination": {...}, "wants": [...]}``.

        ``GET /users/{username}/wants`` "accepts pagination parameters" (up to
        100 a page, like the collection) and gives "basic information about
        each release"; "if the wantlist has been made private by its owner,
        you must be authenticated as the owner", and "the notes field will be
        visible if you are authenticated as the wantlist owner" (Discogs API
        documentation, User Wantlist). Each want carries ``id`` (the release
        id), ``rating``, ``date_added``, ``basic_information`` and ``notes``.
        The documentation names no sort for it (some clients pass one), so
        none is sent: pages are followed to the end and the grid sorts.
        """
        return self.get(f"/users/{quote(username, safe='')}/wants", {"page": int(page), "per_page": int(per_page)})

    def collection_value(self, username: str) -> dict[str, Any]:
        """``GET /users/{username}/collection/value``: ``{"minimum", "median", "maximum"}``, owner only.

        "Returns the minimum, median, and maximum value of a user's
        collection. Authentication as the collection owner is required."
        (Discogs API documentation, Collection Value). The values are strings
        in the owner's profile currency ("$1,234.56", "€12,34"), for the
        whole collection, today only; some auth methods get 403 "You are not
        allowed to view this resource" (../reference/DISCOGS_API.md §7).
        """
        return self.get(f"/users/{quote(username, safe='')}/collection/value")
