"""Scrobbling spins to ListenBrainz and Last.fm through a durable queue in SQLite.

Two halves, both driven by :class:`ScrobbleTicker` (and callable with any
``now``, which is how tests move the clock):

- :func:`queue_due` turns the turntable into queue rows: a *now playing*
  when a track starts, a *listen* once it has played long enough (half of
  it or four minutes, tracks under 30 s never: the services' own rule). A
  row's key is ``(service, kind, spin, track)``, so queueing is idempotent:
  every tick, in every process, may ask again and nothing is queued twice.
- :func:`deliver` sends due rows one at a time per service. A 2xx marks a
  row ``sent``; a 429 or a spent rate-limit budget pauses that service until
  the time it names (``Retry-After``, ``X-RateLimit-Reset-In``); a timeout, a
  refused connection or a 5xx pauses the service with exponential backoff
  (from the failing row's tries) and retries the oldest row first, for as
  long as it takes (nothing is dropped because a service was down). Only refusals that repeating cannot cure (a bad token, a bad
  Last.fm session) mark a row ``failed``; the admin page and ``flask
  scrobbles`` show them and can queue them again. A now playing whose track
  has ended before it could be sent is ``expired``: it would be a lie.

Rows are claimed under ``BEGIN IMMEDIATE`` with a short lease
(``claimed_until``), so two gunicorn workers never send the same row. A
process killed between the service's answer and the ``sent`` mark can send
that one listen again after the lease; both services drop a listen repeated
with the same timestamp and track.

Plain ``requests`` rather than ``liblistenbrainz``/``pylast``: both clients
sleep or raise generic errors on a 429 inside the call, while the queue needs
the status and the rate-limit headers to schedule the retry itself; the two
HTTP calls each are a few lines.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext

import config
from cache_engine.background import Ticker
from cache_engine.sqlite import write_transaction
from vinylvault import db, lifecycle
from vinylvault.covers.tags import artist_name
from vinylvault.library import collection
from vinylvault.listening import spins

log = logging.getLogger("vinylvault.listening.scrobble")

SERVICES = ("listenbrainz", "lastfm")
SERVICE_NAMES = {"listenbrainz": "ListenBrainz", "lastfm": "Last.fm"}
#: Keys of the owner's accounts in the ``settings`` table (set on /setup, never shown back).
LISTENBRAINZ_TOKEN_KEY = "listenbrainz_token"
LASTFM_KEY_KEY = "lastfm_api_key"
LASTFM_SECRET_KEY = "lastfm_api_secret"
LASTFM_SESSION_KEY = "lastfm_session_key"
LASTFM_USER_KEY = "lastfm_username"

#: The services' rule for a listen: longer than this, and played for half of it or LISTEN_AFTER_SECONDS.
MIN_TRACK_SECONDS = 30
LISTEN_AFTER_SECONDS = 240
#: A sender's hold on a claimed row; past it another process may send the row.
CLAIM_SECONDS = 60.0
FIRST_RETRY_SECONDS = 30.0
#: Rows sent per service per delivery pass (the backlog after an outage drains over a few ticks).
BATCH = 20
#: Ended spins looked at for listens not yet queued (a flip right after a track ended).
RECENT_SPINS_SECONDS = 6 * 3600
TIMEOUT = (5.0, 10.0)
#: Last.fm error codes that a later try can cure: operation failed, offline, unavailable, rate limit.
LASTFM_RETRY_CODES = {8, 11, 16, 29}


class DeliveryError(Exception):
    """A send that did not go through; ``retry`` says whether trying again can help."""

    def __init__(self, message: str, *, retry: bool, pause_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.pause_seconds = pause_seconds


@dataclass(frozen=True)
class Accounts:
    listenbrainz_token: str
    lastfm_key: str
    lastfm_secret: str
    lastfm_session: str

    def enabled(self) -> list[str]:
        """The services set up to take scrobbles."""
        names = []
        if self.listenbrainz_token:
            names.append("listenbrainz")
        if self.lastfm_key and self.lastfm_secret and self.lastfm_session:
            names.append("lastfm")
        return names


def accounts(conn: sqlite3.Connection) -> Accounts:
    def get(key: str) -> str:
        return collection.get_setting(conn, key, "") or ""

    return Accounts(get(LISTENBRAINZ_TOKEN_KEY), get(LASTFM_KEY_KEY), get(LASTFM_SECRET_KEY), get(LASTFM_SESSION_KEY))


# --- Queueing ----------------------------------------------------------------------


def track_payload(
    album: collection.Album, details: collection.ReleaseDetails | None, track: spins.SideTrack, number: int
) -> dict[str, Any]:
    """What a listen says: artist, track, album, duration and what Discogs knows of the release."""
    label = album.labels[0] if album.labels else None
    return {
        "artist": collection_artist(album),
        "track": track.title or "Untitled",
        "album": album.title,
        "duration": track.seconds if track.known else None,
        "position": track.position,
        "number": number,
        "discogs_release_id": album.release_id if album.release_id > 0 else None,
        "label": label.name if label else "",
        "catalog_number": label.catno if label else "",
        "year": album.year or None,
        "country": details.country if details else "",
    }


def collection_artist(album: collection.Album) -> str:
    """The artist as the services expect it: Discogs' "(2)" disambiguation left out."""
    return artist_name(album.artist) or "Unknown artist"


def _listen_threshold(seconds: int) -> float | None:
    if seconds < MIN_TRACK_SECONDS:
        return None
    return min(seconds / 2, LISTEN_AFTER_SECONDS)


def queue_spin(
    conn: sqlite3.Connection, spin: spins.Spin, now: float, unknown_seconds: int, services: list[str]
) -> int:
    """Queue the now playings and listens of ``spin`` that are due at ``now``; return how many rows were new."""
    album = collection.get_album(conn, spin.album_id)
    if album is None or not services:
        return 0
    details = collection.get_release_details(conn, album.release_id) if album.release_id else None
    sides = spins.album_sides(conn, album, unknown_seconds)
    if spin.side_index >= len(sides):
        return 0
    side = sides[spin.side_index]
    heard_until = min(now, spin.ended_at) if spin.ended_at is not None else now
    rows = []
    for index, (start, track) in enumerate(zip(spins.track_starts(side, spin.started_at), side.tracks)):
        end = start + track.seconds
        payload = json.dumps(track_payload(album, details, track, index + 1), ensure_ascii=False)
        threshold = _listen_threshold(track.seconds)
        if spin.state == "playing" and start <= now < end:
            rows.append(("now_playing", index, start, end, payload))
        if threshold is not None and heard_until >= start + threshold:
            rows.append(("listen", index, start, end, payload))
    known = {
        (service, kind, index)
        for service, kind, index in conn.execute(
            "SELECT service, kind, track_index FROM scrobbles WHERE spin_id = ?", (spin.id,)
        )
    }
    missing = [(service, row) for service in services for row in rows if (service, row[0], row[1]) not in known]
    if not missing:
        return 0  # the common tick: nothing new, and no write to the SD card
    added = 0
    with write_transaction(conn):
        for service, (kind, index, start, end, payload) in missing:
            added += conn.execute(
                "INSERT INTO scrobbles (service, kind, spin_id, track_index, listened_at, ends_at, payload, "
                "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (service, kind, spin_id, track_index) DO NOTHING",
                (service, kind, spin.id, index, int(start), int(end), payload, now, now),
            ).rowcount
    return added


def queue_due(conn: sqlite3.Connection, now: float, unknown_seconds: int) -> int:
    """Queue what the side on the turntable and the recently ended ones owe the services set up."""
    services = accounts(conn).enabled()
    if not services:
        return 0
    rows = conn.execute(
        "SELECT id, album_id, side, side_index, started_at, ended_at, state FROM spins "
        "WHERE state = 'playing' OR ended_at >= ?",
        (now - RECENT_SPINS_SECONDS,),
    ).fetchall()
    return sum(queue_spin(conn, spins.Spin(*row), now, unknown_seconds, services) for row in rows)


# --- Sending -------------------------------------------------------------------------


def lastfm_signature(params: Mapping[str, str], secret: str) -> str:
    """Last.fm's ``api_sig``: md5 of every parameter but ``format``/``callback``, sorted by name, then the secret."""
    text = "".join(f"{name}{params[name]}" for name in sorted(params) if name not in ("format", "callback"))
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest()


def _pause_from(response: requests.Response) -> float | None:
    """Seconds the service asks us to wait: Retry-After, or a spent X-RateLimit budget's reset."""
    retry_after = response.headers.get("Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    remaining = response.headers.get("X-RateLimit-Remaining")
    reset = response.headers.get("X-RateLimit-Reset-In")
    if (response.status_code == 429 or (remaining is not None and remaining.strip() == "0")) and reset:
        try:
            return max(1.0, float(reset))
        except ValueError:
            return None
    return 60.0 if response.status_code == 429 else None


class Sender:
    """One HTTP session to both services; ``send`` returns the pause a rate-limit header asks for, or None."""

    def __init__(self, settings: config.Settings, user_agent: str) -> None:
        self.settings = settings
        self.http = requests.Session()
        self.http.headers["User-Agent"] = user_agent

    def close(self) -> None:
        self.http.close()

    def send(
        self, service: str, kind: str, listened_at: int, payload: Mapping[str, Any], creds: Accounts
    ) -> float | None:
        if service == "listenbrainz":
            return self._listenbrainz(kind, listened_at, payload, creds.listenbrainz_token)
        return self._lastfm(kind, listened_at, payload, creds)

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.post(url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise DeliveryError(f"not reached: {type(exc).__name__}", retry=True) from None

    def _listenbrainz(self, kind: str, listened_at: int, payload: Mapping[str, Any], token: str) -> float | None:
        info = {
            key: value
            for key, value in {
                "media_player": "VinylVault",
                "submission_client": "VinylVault",
                "submission_client_version": config.VERSION,
                "music_service_name": "vinyl",
                "tracknumber": payload["position"] or payload["number"],
                "duration_ms": payload["duration"] * 1000 if payload["duration"] else None,
                "discogs_release_id": payload["discogs_release_id"],
                "origin_url": (
                    f"https://www.discogs.com/release/{payload['discogs_release_id']}"
                    if payload["discogs_release_id"]
                    else None
                ),
                "label": payload["label"] or None,
                "catalog_number": payload["catalog_number"] or None,
                "release_year": payload["year"],
                "release_country": payload["country"] or None,
            }.items()
            if value is not None
        }
        listen: dict[str, Any] = {
            "track_metadata": {
                "artist_name": payload["artist"],
                "track_name": payload["track"],
                "release_name": payload["album"],
                "additional_info": info,
            }
        }
        if kind == "listen":
            listen["listened_at"] = listened_at
        body = {"listen_type": "playing_now" if kind == "now_playing" else "single", "payload": [listen]}
        response = self._post(
            self.settings.LISTENBRAINZ_API_URL.rstrip("/") + "/1/submit-listens",
            json=body,
            headers={"Authorization": f"Token {token}"},
        )
        pause = _pause_from(response)
        if response.status_code == 429:
            raise DeliveryError("rate limited (429)", retry=True, pause_seconds=pause)
        if response.status_code >= 500:
            raise DeliveryError(f"server error ({response.status_code})", retry=True)
        if response.status_code in (401, 403):
            raise DeliveryError(f"the token was refused ({response.status_code})", retry=False)
        if response.status_code >= 400:
            raise DeliveryError(f"refused ({response.status_code}): {_error_text(response)}", retry=False)
        return pause

    def _lastfm(self, kind: str, listened_at: int, payload: Mapping[str, Any], creds: Accounts) -> float | None:
        params = {
            "method": "track.updateNowPlaying" if kind == "now_playing" else "track.scrobble",
            "api_key": creds.lastfm_key,
            "sk": creds.lastfm_session,
            "artist": payload["artist"],
            "track": payload["track"],
            "album": payload["album"],
            "trackNumber": str(payload["number"]),
        }
        if payload["duration"]:
            params["duration"] = str(payload["duration"])
        if kind == "listen":
            params["timestamp"] = str(listened_at)
        params["api_sig"] = lastfm_signature(params, creds.lastfm_secret)
        params["format"] = "json"
        response = self._post(self.settings.LASTFM_API_URL, data=params)
        pause = _pause_from(response)
        code, message = _lastfm_error(response)
        if response.status_code == 429 or code == 29:
            raise DeliveryError("rate limited", retry=True, pause_seconds=pause or 60.0)
        if code is not None:
            raise DeliveryError(f"Last.fm error {code}: {message}", retry=code in LASTFM_RETRY_CODES)
        if response.status_code >= 500:
            raise DeliveryError(f"server error ({response.status_code})", retry=True)
        if response.status_code >= 400:
            raise DeliveryError(f"refused ({response.status_code})", retry=False)
        return pause


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except (ValueError, AttributeError):
        return ""


def _lastfm_error(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if isinstance(body, dict) and isinstance(body.get("error"), int):
        return body["error"], str(body.get("message", ""))[:200]
    return None, ""


def _claim(conn: sqlite3.Connection, service: str, now: float) -> list[sqlite3.Row]:
    """Take up to :data:`BATCH` due rows of ``service`` (oldest first) under a lease, unless it is paused."""
    with write_transaction(conn):
        paused = conn.execute("SELECT paused_until FROM scrobble_services WHERE service = ?", (service,)).fetchone()
        if paused and paused[0] > now:
            return []
        rows = conn.execute(
            "SELECT id, kind, listened_at, ends_at, payload, attempts FROM scrobbles WHERE service = ? "
            "AND state = 'queued' AND next_attempt_at <= ? AND claimed_until <= ? "
            "ORDER BY listened_at, kind DESC, id LIMIT ?",
            (service, now, now, BATCH),
        ).fetchall()
        conn.executemany(
            "UPDATE scrobbles SET claimed_until = ? WHERE id = ?", [(now + CLAIM_SECONDS, row["id"]) for row in rows]
        )
    return rows


def _pause(conn: sqlite3.Connection, service: str, until: float) -> None:
    conn.execute(
        "INSERT INTO scrobble_services (service, paused_until) VALUES (?, ?) "
        "ON CONFLICT (service) DO UPDATE SET paused_until = excluded.paused_until",
        (service, until),
    )


def deliver(conn: sqlite3.Connection, sender: Sender, now: float, max_backoff: float) -> dict[str, int]:
    """Send the due rows of every service; return counts by outcome (sent, expired, retry, failed)."""
    creds = accounts(conn)
    outcome = {"sent": 0, "expired": 0, "retry": 0, "failed": 0}
    for service in creds.enabled():
        rows = _claim(conn, service, now)
        for position, row in enumerate(rows):
            if row["kind"] == "now_playing" and now >= row["ends_at"]:
                _finish(conn, row["id"], "expired", now, "the track had ended")
                outcome["expired"] += 1
                continue
            try:
                pause = sender.send(service, row["kind"], row["listened_at"], json.loads(row["payload"]), creds)
            except DeliveryError as exc:
                outcome["retry" if exc.retry else "failed"] += 1
                _after_failure(conn, service, row, exc, now, max_backoff, rows[position + 1 :])
                log.info("%s %s %d: %s", service, row["kind"], row["id"], exc)
                if exc.retry:
                    break  # the service is struggling: leave the rest for a later pass
                continue
            _finish(conn, row["id"], "sent", now, "")
            outcome["sent"] += 1
            if pause:
                with write_transaction(conn):
                    _pause(conn, service, now + pause)
                    _release(conn, [r["id"] for r in rows[position + 1 :]])
                break
    return outcome


def _finish(conn: sqlite3.Connection, row_id: int, state: str, now: float, note: str) -> None:
    with write_transaction(conn):
        conn.execute(
            "UPDATE scrobbles SET state = ?, sent_at = ?, claimed_until = 0, last_error = ?, "
            "attempts = attempts + 1 WHERE id = ?",
            (state, now if state == "sent" else None, note, row_id),
        )


def _release(conn: sqlite3.Connection, row_ids: list[int]) -> None:
    conn.executemany("UPDATE scrobbles SET claimed_until = 0 WHERE id = ?", [(i,) for i in row_ids])


def _after_failure(
    conn: sqlite3.Connection,
    service: str,
    row: sqlite3.Row,
    exc: DeliveryError,
    now: float,
    max_backoff: float,
    untried: list[sqlite3.Row],
) -> None:
    """Schedule the row again (backoff, or the service's pause) or mark it failed; free the untried rows."""
    with write_transaction(conn):
        if not exc.retry:
            conn.execute(
                "UPDATE scrobbles SET state = 'failed', claimed_until = 0, last_error = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (str(exc), row["id"]),
            )
        else:
            # The whole service waits, not only this row: the oldest listen goes first when it is back.
            delay = exc.pause_seconds
            if delay is None:
                delay = min(max_backoff, FIRST_RETRY_SECONDS * 2 ** min(row["attempts"], 16))
            _pause(conn, service, now + delay)
            conn.execute(
                "UPDATE scrobbles SET claimed_until = 0, last_error = ?, attempts = attempts + 1 WHERE id = ?",
                (str(exc), row["id"]),
            )
        _release(conn, [r["id"] for r in untried])


# --- The owner's accounts ---------------------------------------------------------


class ListenBrainzTokenRefused(Exception):
    """ListenBrainz says the token is not a user's (the message is for the owner)."""


class ListenBrainzUnreachable(Exception):
    """ListenBrainz could not be asked about the token (down, timed out, an answer that is not its own)."""


def check_listenbrainz_token(settings: config.Settings, token: str) -> str:
    """The ListenBrainz user ``token`` belongs to, from ``GET /1/validate-token``.

    :raises ListenBrainzTokenRefused: ListenBrainz does not know the token.
    :raises ListenBrainzUnreachable: it could not be asked.
    """
    try:
        response = requests.get(
            settings.LISTENBRAINZ_API_URL.rstrip("/") + "/1/validate-token",
            headers={"Authorization": f"Token {token}", "User-Agent": settings.USER_AGENT},
            timeout=TIMEOUT,
        )
        body = response.json() if response.status_code in (200, 400, 401) else None
    except (requests.RequestException, ValueError) as exc:
        raise ListenBrainzUnreachable(f"ListenBrainz could not be reached ({type(exc).__name__}).") from None
    if not isinstance(body, dict):
        raise ListenBrainzUnreachable(f"ListenBrainz answered {response.status_code}.")
    # An unknown token is a 200 with "valid": false (and a 401 on some versions).
    if response.status_code != 200 or body.get("valid") is not True:
        raise ListenBrainzTokenRefused(
            "ListenBrainz does not know this token; copy it again from listenbrainz.org/settings."
        )
    return str(body.get("user_name") or "")


class LastFMAuthError(Exception):
    """Last.fm did not make a session (token not allowed, wrong key or secret, not reached)."""


def lastfm_auth_url(settings: config.Settings, api_key: str, callback: str) -> str:
    """The Last.fm page where the owner allows VinylVault; Last.fm then sends them to ``callback?token=...``."""
    from urllib.parse import urlencode

    return f"{settings.LASTFM_AUTH_URL}?{urlencode({'api_key': api_key, 'cb': callback})}"


def lastfm_get_session(settings: config.Settings, api_key: str, secret: str, token: str) -> tuple[str, str]:
    """``(username, session key)`` for the token Last.fm handed back (``auth.getSession``, signed)."""
    params = {"method": "auth.getSession", "api_key": api_key, "token": token}
    params["api_sig"] = lastfm_signature(params, secret)
    params["format"] = "json"
    try:
        response = requests.post(
            settings.LASTFM_API_URL, data=params, timeout=TIMEOUT, headers={"User-Agent": settings.USER_AGENT}
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise LastFMAuthError(f"Last.fm could not be reached ({type(exc).__name__}).") from None
    session = body.get("session") if isinstance(body, dict) else None
    if not isinstance(session, dict) or not session.get("key"):
        message = body.get("message", "no session") if isinstance(body, dict) else "no session"
        raise LastFMAuthError(f"Last.fm made no session: {str(message)[:200]}.")
    return str(session.get("name", "")), str(session["key"])


def save_accounts(conn: sqlite3.Connection, form: Mapping[str, str]) -> None:
    """Store what the set-up form gave (an empty field keeps the stored value; "forget" boxes delete)."""
    for field, key in (
        ("listenbrainz_token", LISTENBRAINZ_TOKEN_KEY),
        ("lastfm_api_key", LASTFM_KEY_KEY),
        ("lastfm_api_secret", LASTFM_SECRET_KEY),
    ):
        value = form.get(field, "").strip()
        if value:
            collection.set_setting(conn, key, value)
    if form.get("forget_listenbrainz"):
        collection.set_setting(conn, LISTENBRAINZ_TOKEN_KEY, None)
    if form.get("forget_lastfm"):
        for key in (LASTFM_KEY_KEY, LASTFM_SECRET_KEY, LASTFM_SESSION_KEY, LASTFM_USER_KEY):
            collection.set_setting(conn, key, None)


# --- What the admin page and the CLI show ---------------------------------------------


def queue_summary(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """``{service: {state: rows}}`` for every service and state (zeros included)."""
    summary = {service: {state: 0 for state in ("queued", "sent", "expired", "failed")} for service in SERVICES}
    for service, state, count in conn.execute("SELECT service, state, count(*) FROM scrobbles GROUP BY 1, 2"):
        summary[service][state] = count
    return summary


def problem_rows(conn: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Rows waiting after a failed try, and rows refused for good, newest first."""
    rows = conn.execute(
        "SELECT id, service, kind, state, attempts, listened_at, next_attempt_at, last_error, payload FROM scrobbles "
        "WHERE state = 'failed' OR (state = 'queued' AND attempts > 0) ORDER BY listened_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    result = []
    for row in rows:
        payload = json.loads(row["payload"])
        result.append(
            {
                **{key: row[key] for key in row.keys() if key != "payload"},
                "artist": payload["artist"],
                "track": payload["track"],
            }
        )
    return result


def retry_failed(conn: sqlite3.Connection, now: float) -> int:
    """Queue every failed listen again (after the owner fixed the account); return how many."""
    with write_transaction(conn):
        return conn.execute(
            "UPDATE scrobbles SET state = 'queued', next_attempt_at = ?, attempts = 0 "
            "WHERE state = 'failed' AND kind = 'listen'",
            (now,),
        ).rowcount


# --- The background tick ------------------------------------------------------------


class ScrobbleTicker:
    """This process's tick: closes forgotten sides, queues and delivers scrobbles every ``interval`` seconds.

    A :class:`cache_engine.background.Ticker` runs :meth:`tick`; each tick
    opens its own connection. The app's shutdown stops it before the database closes.
    """

    def __init__(self, settings: config.Settings, user_agent: str, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.sender = Sender(settings, user_agent)
        self._ticker = Ticker("vinylvault-scrobbles", self.tick, settings.SCROBBLE_TICK_SECONDS)

    def tick(self, now: float | None = None) -> dict[str, int]:
        """One pass at ``now`` (default the clock); return :func:`deliver`'s counts plus ``queued``."""
        now = self.clock() if now is None else now
        unknown = self.settings.SPIN_UNKNOWN_TRACK_SECONDS
        conn = db.connect(self.settings.DATABASE_PATH)
        try:
            spins.close_forgotten(conn, now, unknown, self.settings.SPIN_FORGOTTEN_MINUTES * 60)
            queued = queue_due(conn, now, unknown)
            return {"queued": queued, **deliver(conn, self.sender, now, self.settings.SCROBBLE_MAX_BACKOFF_SECONDS)}
        finally:
            conn.close()

    def start(self) -> None:
        """Start the thread (no-op while it runs)."""
        self._ticker.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread and wait for it (a send in flight ends within the HTTP timeout)."""
        self._ticker.stop(timeout)
        self.sender.close()


# --- Wiring: the tick in serving processes, the CLI ---------------------------------

#: ``app.extensions`` key of the serving process's :class:`ScrobbleTicker`.
TICKER = "scrobble_ticker"


def init_app(app: Flask) -> None:
    """Add ``flask scrobbles``; start the tick on the first request of each serving process.

    Every worker runs a tick: the queue's keys and claims make that safe, and
    whichever worker is alive keeps the listens flowing. It writes to the
    collection database, so it was built last and stops first.
    """
    app.cli.add_command(scrobbles_command)
    settings = app.config["SETTINGS"]
    if settings.SCROBBLE_TICK_SECONDS <= 0:
        return
    ticker = app.extensions[TICKER] = ScrobbleTicker(settings, settings.USER_AGENT)
    lifecycle.on_shutdown(app, "scrobble tick", lambda: app.extensions.pop(TICKER).stop())
    lifecycle.start_on_first_request(app, ticker.start)


@click.command("scrobbles")
@click.option("--retry-failed", is_flag=True, help="Queue the failed listens again (after fixing the account).")
@click.option("--send", is_flag=True, help="Queue and send what is due now, in the foreground.")
@with_appcontext
def scrobbles_command(retry_failed: bool, send: bool) -> None:
    """What the scrobble queue holds for ListenBrainz and Last.fm, and what failed."""
    conn = db.get_db()
    settings = current_app.config["SETTINGS"]
    if retry_failed:
        click.echo(f"Queued again: {retry_failed(conn, time.time())} listens.")
    if send:
        ticker = ScrobbleTicker(settings, settings.USER_AGENT)
        try:
            click.echo("Sent: {sent}, waiting: {retry}, failed: {failed}, expired: {expired}.".format(**ticker.tick()))
        finally:
            ticker.stop()
    enabled = accounts(conn).enabled()
    for service, states in queue_summary(conn).items():
        setup = "set up" if service in enabled else "not set up"
        click.echo(f"{SERVICE_NAMES[service]} ({setup}): " + ", ".join(f"{n} {state}" for state, n in states.items()))
    for row in problem_rows(conn):
        click.echo(
            f"  {row['state']:7} {SERVICE_NAMES[row['service']]} {row['kind']} {row['artist']} - "
            f"{row['track']} ({row['attempts']} tries): {row['last_error']}"
        )
