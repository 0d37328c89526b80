"""The scrobbling accounts on /setup (Last.fm's session made once), the queue on /admin and in the CLI."""

from __future__ import annotations

import re
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from tests.support.fake_scrobblers import (
    LASTFM_KEY,
    LASTFM_SECRET,
    LASTFM_SESSION,
    LASTFM_USER,
    LB_TOKEN,
    LB_USER,
    FakeLastFM,
    FakeListenBrainz,
)
from tests.support.owner import form_csrf, logged_in
from tests.support.spins import KOB_ID, ready_to_spin
from vinylvault import db
from vinylvault.library import collection
from vinylvault.listening import scrobble, spins


@pytest.fixture
def lastfm() -> Iterator[FakeLastFM]:
    with FakeLastFM() as fake:
        yield fake


@pytest.fixture
def listenbrainz() -> Iterator[FakeListenBrainz]:
    with FakeListenBrainz() as fake:
        yield fake


@pytest.fixture
def app(make_page_app: Callable[..., Flask], lastfm: FakeLastFM, listenbrainz: FakeListenBrainz) -> Flask:
    return ready_to_spin(
        make_page_app(
            LASTFM_API_URL=lastfm.url + "/2.0/",
            LASTFM_AUTH_URL="http://127.0.0.1:9/api/auth/",
            LISTENBRAINZ_API_URL=listenbrainz.url,
        )
    )


def _setting(app: Flask, key: str) -> str | None:
    with app.app_context():
        return collection.get_setting(db.get_db(), key)


def test_the_owner_connects_lastfm_once_from_the_setup_page(app: Flask, lastfm: FakeLastFM):
    client = logged_in(app)
    token = form_csrf(client, "/setup")
    response = client.post(
        "/setup/scrobbling",
        data={
            "csrf_token": token,
            "listenbrainz_token": LB_TOKEN,
            "lastfm_api_key": LASTFM_KEY,
            "lastfm_api_secret": LASTFM_SECRET,
        },
    )
    assert response.status_code == 303
    page = client.get("/setup").get_data(as_text=True)
    assert LB_TOKEN not in page and LASTFM_SECRET not in page and "Connect Last.fm" in page
    response = client.post("/setup/lastfm/connect", data={"csrf_token": token})
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == "/api/auth/" and parse_qs(target.query)["api_key"] == [LASTFM_KEY]
    callback = urlsplit(parse_qs(target.query)["cb"][0])
    lastfm.granted_tokens.add("granted-token")
    response = client.get(f"{callback.path}?{callback.query}&token=granted-token")
    assert response.status_code == 303
    assert _setting(app, scrobble.LASTFM_SESSION_KEY) == LASTFM_SESSION
    assert f"Connected as {LASTFM_USER}" in client.get("/setup").get_data(as_text=True)
    # The same answer again (a replay) belongs to no connection started here.
    assert client.get(f"{callback.path}?{callback.query}&token=granted-token").status_code == 400


def _save_listenbrainz(app: Flask, token: str) -> str:
    """Post ``token`` on the set-up page as the owner; the page shown afterwards."""
    client = logged_in(app)
    response = client.post(
        "/setup/scrobbling", data={"csrf_token": form_csrf(client, "/setup"), "listenbrainz_token": token}
    )
    assert response.status_code == 303
    return client.get("/setup").get_data(as_text=True)


def test_a_listenbrainz_token_is_checked_with_listenbrainz_before_it_is_kept(app: Flask):
    refused = _save_listenbrainz(app, "not-a-token")
    assert "ListenBrainz does not know this token" in refused and "Nothing was saved." in refused
    assert _setting(app, scrobble.LISTENBRAINZ_TOKEN_KEY) is None
    accepted = _save_listenbrainz(app, LB_TOKEN)
    assert f"plays are sent as {LB_USER}" in accepted
    assert _setting(app, scrobble.LISTENBRAINZ_TOKEN_KEY) == LB_TOKEN


def test_a_token_is_kept_unchecked_while_listenbrainz_is_down(app: Flask, listenbrainz: FakeListenBrainz):
    listenbrainz.down = True
    page = _save_listenbrainz(app, LB_TOKEN)
    assert "The token is saved unchecked" in page
    assert _setting(app, scrobble.LISTENBRAINZ_TOKEN_KEY) == LB_TOKEN


def test_a_token_lastfm_did_not_grant_makes_no_session(app: Flask, lastfm: FakeLastFM):
    client = logged_in(app)
    token = form_csrf(client, "/setup")
    client.post(
        "/setup/scrobbling",
        data={"csrf_token": token, "lastfm_api_key": LASTFM_KEY, "lastfm_api_secret": LASTFM_SECRET},
    )
    callback = parse_qs(
        urlsplit(client.post("/setup/lastfm/connect", data={"csrf_token": token}).headers["Location"]).query
    )["cb"][0]
    response = client.get(f"{callback}&token=never-granted", follow_redirects=True)
    assert response.status_code == 200 and "Unauthorized Token" in response.get_data(as_text=True)
    assert _setting(app, scrobble.LASTFM_SESSION_KEY) is None


def test_guests_cannot_reach_the_accounts(app: Flask):
    guest = app.test_client()
    assert guest.post("/setup/scrobbling", data={"listenbrainz_token": "x"}).status_code == 302
    assert guest.get("/setup/lastfm/callback?token=x&state=y").status_code == 302
    assert _setting(app, scrobble.LISTENBRAINZ_TOKEN_KEY) is None


def test_admin_and_cli_show_what_is_queued_and_what_failed(app: Flask):
    with app.app_context():
        conn = db.get_db()
        collection.set_setting(conn, scrobble.LISTENBRAINZ_TOKEN_KEY, LB_TOKEN)
        spin = spins.start(conn, KOB_ID, 0, 1_780_000_000, 240)
        spins.stop(conn, 1_780_000_000 + 900, 240)  # So What and Freddie Freeloader heard
        scrobble.queue_spin(conn, spins.get_spin(conn, spin.id), 1_780_000_900, 240, ["listenbrainz"])
        with collection.write_transaction(conn):
            conn.execute(
                "UPDATE scrobbles SET state = 'failed', last_error = 'the token was refused (401)' "
                "WHERE track_index = 0"
            )
    client = logged_in(app)
    page = client.get("/admin").get_data(as_text=True)
    block = page[page.index('id="scrobbles-h"') :]
    assert re.search(r"ListenBrainz</td><td>1</td><td>0</td><td>0</td><td>1</td>", block)
    assert "So What" in block and "the token was refused (401)" in block
    result = app.test_cli_runner().invoke(args=["scrobbles"])
    assert result.exit_code == 0
    assert "ListenBrainz (set up): 1 queued, 0 sent, 0 expired, 1 failed" in result.output
    assert "Miles Davis - So What" in result.output
    response = client.post("/admin/scrobbles/retry", data={"csrf_token": form_csrf(client, "/admin")})
    assert response.status_code == 303
    with app.app_context():
        assert scrobble.queue_summary(db.get_db())["listenbrainz"]["queued"] == 2
