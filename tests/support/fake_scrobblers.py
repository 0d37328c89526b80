"""Fake ListenBrainz and Last.fm servers on 127.0.0.1 that check what the real ones check.

:class:`FakeListenBrainz` serves ``GET /1/validate-token`` and ``POST /1/submit-listens``: the
``Authorization: Token <token>`` header, the JSON shape (``listen_type``
single / playing_now / import, ``payload`` items with ``track_metadata``
artist and track names, ``listened_at`` an integer timestamp for a listen
and absent for playing now), and a rate-limit window answered with the
``X-RateLimit-Limit/Remaining/Reset-In`` headers on every response and a 429
with ``Retry-After`` past the budget.

:class:`FakeLastFM` serves the 2.0 API's ``POST /2.0/``: ``api_key``, the
``api_sig`` (md5 over the sorted parameters but ``format``, then the
secret), the session key for ``track.*``, ``auth.getSession`` for a token
the test granted, required parameters, and error 29 past its rate limit.

Both can be taken ``down`` (503 to everything) and record what they accepted.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from tests.support.fake_http import JSONHandler, LoopbackServer

LB_TOKEN = "lb-token-0123456789"
LB_USER = "needle-drop"
LASTFM_KEY = "lastfm-key-abcdef"
LASTFM_SECRET = "lastfm-secret-123456"
LASTFM_SESSION = "lastfm-session-xyz"
LASTFM_USER = "crate-digger"
#: ListenBrainz refuses listens older than this (its LISTEN_MINIMUM_TS).
LB_MINIMUM_TIMESTAMP = 1033430400


class _FakeServer(LoopbackServer):
    """A threaded HTTP server with a lock, a down switch and a fixed-window rate limit."""

    def __init__(self, *, limit: int = 1000, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        """``limit`` requests per ``window`` seconds of ``clock`` (a test's simulated clock, say)."""
        self.clock = clock
        self.lock = threading.Lock()
        self.down = False
        self.limit, self.window = limit, window
        self._window_start, self._used = clock(), 0
        self.requests = 0
        super().__init__(self._handler_class())

    def _take_budget(self) -> tuple[bool, dict[str, str]]:
        """(allowed, rate-limit headers) for one request in the current window."""
        now = self.clock()
        if now - self._window_start >= self.window:
            self._window_start, self._used = now, 0
        allowed = self._used < self.limit
        if allowed:
            self._used += 1
        reset_in = max(1, int(self.window - (now - self._window_start) + 0.999))
        return allowed, {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self._used),
            "X-RateLimit-Reset-In": str(reset_in),
        }

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def _handler_class(self) -> type[JSONHandler]:
        fake = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.requests += 1
                    if fake.down:
                        status, answer, headers = 503, {"error": 16, "message": "down for maintenance"}, {}
                    else:
                        status, answer, headers = fake.handle(self.path, self.headers, body)
                self.send_json(status, answer, headers)

            def do_GET(self) -> None:
                with fake.lock:
                    fake.requests += 1
                    if fake.down:
                        status, answer, headers = 503, {"error": 16, "message": "down for maintenance"}, {}
                    else:
                        status, answer, headers = fake.handle_get(self.path, self.headers)
                self.send_json(status, answer, headers)

        return Handler

    def handle_get(self, path: str, headers: Any) -> tuple[int, Any, dict[str, str]]:
        return 405, {"error": "method not allowed"}, {}


class FakeListenBrainz(_FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.listens: list[dict[str, Any]] = []
        self.playing_now: list[dict[str, Any]] = []

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        allowed, limits = self._take_budget()
        if not allowed:
            return (
                429,
                {"code": 429, "error": "Too many requests"},
                {**limits, "Retry-After": limits["X-RateLimit-Reset-In"]},
            )
        if path != "/1/submit-listens":
            return 404, {"code": 404, "error": "Not found"}, limits
        if headers.get("Authorization") != f"Token {LB_TOKEN}":
            return 401, {"code": 401, "error": "Invalid authorization token."}, limits
        problem = self._check(body)
        if problem:
            return 400, {"code": 400, "error": problem}, limits
        document = json.loads(body)
        target = self.playing_now if document["listen_type"] == "playing_now" else self.listens
        target.extend(document["payload"])
        return 200, {"status": "ok"}, limits

    def handle_get(self, path: str, headers: Any) -> tuple[int, Any, dict[str, str]]:
        """``GET /1/validate-token``: as ListenBrainz answers, 200 either way, ``valid`` saying which."""
        if path != "/1/validate-token":
            return 404, {"code": 404, "error": "Not found"}, {}
        if headers.get("Authorization") != f"Token {LB_TOKEN}":
            return 200, {"code": 200, "message": "Token invalid.", "valid": False}, {}
        return 200, {"code": 200, "message": "Token valid.", "valid": True, "user_name": LB_USER}, {}

    @staticmethod
    def _check(body: bytes) -> str | None:
        try:
            document = json.loads(body)
        except ValueError:
            return "Cannot parse JSON document."
        kind = document.get("listen_type") if isinstance(document, dict) else None
        if kind not in ("single", "playing_now", "import"):
            return "JSON document does not contain a valid listen_type."
        payload = document.get("payload")
        if not isinstance(payload, list) or not payload or (kind != "import" and len(payload) != 1):
            return "JSON document should contain exactly one listen for this listen_type."
        for listen in payload:
            metadata = listen.get("track_metadata") if isinstance(listen, dict) else None
            if not isinstance(metadata, dict):
                return "JSON document does not contain track_metadata."
            for name in ("artist_name", "track_name"):
                if not isinstance(metadata.get(name), str) or not metadata[name].strip():
                    return f"JSON document does not contain required track_metadata.{name}."
            if "additional_info" in metadata and not isinstance(metadata["additional_info"], dict):
                return "additional_info must be an object."
            if kind == "playing_now" and "listened_at" in listen:
                return "JSON document must not contain listened_at while submitting playing_now."
            if kind != "playing_now":
                stamp = listen.get("listened_at")
                if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < LB_MINIMUM_TIMESTAMP:
                    return "Value for key listened_at is too low or not an integer."
        return None


class FakeLastFM(_FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scrobbles: list[dict[str, str]] = []
        self.now_playing: list[dict[str, str]] = []
        #: Tokens the owner "allowed" on the fake auth page.
        self.granted_tokens: set[str] = set()

    @staticmethod
    def signature(params: dict[str, str]) -> str:
        text = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in ("format", "callback", "api_sig"))
        return hashlib.md5((text + LASTFM_SECRET).encode("utf-8")).hexdigest()

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        allowed, _limits = self._take_budget()
        if not allowed:
            return 429, {"error": 29, "message": "Rate Limit Exceeded"}, {}
        if path.rstrip("/") != "/2.0":
            return 404, {"error": 3, "message": "Invalid Method"}, {}
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        if params.get("api_key") != LASTFM_KEY:
            return 403, {"error": 10, "message": "Invalid API key"}, {}
        if params.get("api_sig") != self.signature(params):
            return 403, {"error": 13, "message": "Invalid method signature supplied"}, {}
        method = params.get("method")
        if method == "auth.getSession":
            if params.get("token") not in self.granted_tokens:
                return 403, {"error": 14, "message": "Unauthorized Token"}, {}
            return 200, {"session": {"name": LASTFM_USER, "key": LASTFM_SESSION, "subscriber": 0}}, {}
        if method not in ("track.updateNowPlaying", "track.scrobble"):
            return 400, {"error": 3, "message": "Invalid Method"}, {}
        if params.get("sk") != LASTFM_SESSION:
            return 403, {"error": 9, "message": "Invalid session key"}, {}
        missing = [name for name in ("artist", "track") if not params.get(name)]
        if method == "track.scrobble" and not params.get("timestamp", "").isdigit():
            missing.append("timestamp")
        if missing:
            return 400, {"error": 6, "message": f"Missing parameter: {', '.join(missing)}"}, {}
        if method == "track.updateNowPlaying":
            self.now_playing.append(params)
            return 200, {"nowplaying": {"track": {"#text": params["track"]}, "ignoredMessage": {"code": "0"}}}, {}
        self.scrobbles.append(params)
        return 200, {"scrobbles": {"@attr": {"accepted": 1, "ignored": 0}}}, {}
