"""First run: everything redirects to /setup; the form sets the password and checks a Discogs token.

The token is checked against a fake Discogs API on 127.0.0.1 (real HTTP) and
must never appear in a page, a JSON answer or the log afterwards.
"""

from __future__ import annotations

import logging
from typing import Callable

import pytest
from flask import Flask

from tests.support.fake_discogs import TOKEN, USERNAME, FakeDiscogs
from tests.support.owner import PASSWORD, form_csrf, post_setup
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection, sync


@pytest.fixture
def new_app(make_page_app: Callable[..., Flask], fake_discogs: FakeDiscogs) -> Flask:
    return make_page_app(DISCOGS_API_URL=fake_discogs.url)


def stored(app: Flask, key: str) -> str | None:
    with app.app_context():
        return collection.get_setting(db.get_db(), key)


def configured(app: Flask) -> bool:
    with app.app_context():
        return auth.is_configured(db.get_db())


def test_every_page_redirects_to_setup_until_configured(new_app: Flask):
    client = new_app.test_client()
    for path in ("/", "/album/1", "/stats", "/search?q=x", "/admin", "/login", "/random", "/nope"):
        response = client.get(path)
        assert response.status_code == 302 and response.location == "/setup", path
    page = client.get("/setup")
    assert page.status_code == 200 and "Welcome to VinylVault" in page.get_data(as_text=True)
    health = client.get("/health")  # machines keep their JSON
    assert health.status_code == 200 and health.get_json()["status"] == "ok"


def test_password_mismatch_and_short_password_are_refused(new_app: Flask):
    client = new_app.test_client()
    response = post_setup(client, password_confirm=PASSWORD + "x")
    assert response.status_code == 400
    assert "The two passwords differ." in response.get_data(as_text=True)
    response = post_setup(client, password="short", password_confirm="short")
    assert response.status_code == 400 and "at least 8 characters" in response.get_data(as_text=True)
    assert not configured(new_app)


def test_setup_without_csrf_is_refused(new_app: Flask):
    response = new_app.test_client().post("/setup", data={"password": PASSWORD, "password_confirm": PASSWORD})
    assert response.status_code == 403
    assert not configured(new_app)


def test_success_logs_the_owner_in(new_app: Flask):
    client = new_app.test_client()
    response = post_setup(client)
    assert response.status_code == 303 and response.location == "/"
    assert configured(new_app)
    assert client.get("/admin").status_code == 200
    # Once configured, set-up belongs to the owner only.
    stranger = new_app.test_client()
    assert stranger.get("/setup").location.startswith("/login")


def test_token_checked_stored_and_never_shown(
    new_app: Flask, fake_discogs: FakeDiscogs, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    client = new_app.test_client()
    response = post_setup(client, discogs_token=TOKEN)  # the username comes from Discogs
    assert response.status_code == 303
    assert fake_discogs.count("/oauth/identity") == 1
    assert stored(new_app, sync.TOKEN_KEY) == TOKEN
    assert stored(new_app, sync.USERNAME_KEY) == USERNAME
    pages = ["/", "/setup", "/admin", "/sync", "/sync/status", "/stats", "/api/collection", "/health"]
    for path in pages:
        body = client.get(path).get_data(as_text=True)
        assert TOKEN not in body, path
    assert "A token is stored" in client.get("/setup").get_data(as_text=True)
    assert TOKEN not in caplog.text


def test_wrong_token_is_refused_and_not_echoed(new_app: Flask, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = new_app.test_client()
    response = post_setup(client, discogs_username=USERNAME, discogs_token="wrong-token-123")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Discogs did not accept this token" in body
    assert "wrong-token-123" not in body and "wrong-token-123" not in caplog.text
    assert f'value="{USERNAME}"' in body  # the username is kept for the next try
    assert not configured(new_app) and stored(new_app, sync.TOKEN_KEY) is None


def test_token_of_another_user_is_refused(new_app: Flask):
    response = post_setup(new_app.test_client(), discogs_username="someone-else", discogs_token=TOKEN)
    assert response.status_code == 400
    assert f"belongs to the Discogs user {USERNAME}" in response.get_data(as_text=True)


def test_unreachable_discogs_is_a_clear_error(make_page_app: Callable[..., Flask]):
    from tests.support.servers import free_port

    app = make_page_app(DISCOGS_API_URL=f"http://127.0.0.1:{free_port()}")
    response = post_setup(app.test_client(), discogs_token=TOKEN)
    assert response.status_code == 400
    assert "could not be reached" in response.get_data(as_text=True)
    assert not configured(app)


def test_owner_changes_and_forgets_the_token(new_app: Flask):
    client = new_app.test_client()
    post_setup(client, discogs_token=TOKEN)
    data = {
        "csrf_token": form_csrf(client, "/setup"),
        "discogs_username": USERNAME,
        "discogs_token": "",
        "forget_token": "1",
    }
    response = client.post("/setup", data=data)
    assert response.status_code == 303 and response.location == "/admin"
    assert stored(new_app, sync.TOKEN_KEY) is None
    assert stored(new_app, sync.USERNAME_KEY) == USERNAME
