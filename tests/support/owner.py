"""The owner of a test app: the password, logging in through the form, CSRF tokens, API tokens.

Every helper works on a Flask test client and goes through the app the way a
browser or a script would: the password is set in the database, the login
posts the real form with the token the page hands out.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from vinylvault import db
from vinylvault.access import auth

PASSWORD = "correct horse battery"

_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def set_owner_password(app: Flask, password: str = PASSWORD) -> None:
    with app.app_context():
        auth.set_password(db.get_db(), password)


def create_token(app: Flask, name: str = "tests") -> str:
    """A new API token of the owner, named ``name``."""
    with app.app_context():
        return auth.create_api_token(db.get_db(), name)


def bearer(token: str) -> dict[str, str]:
    """The headers of a request authenticated by the API token ``token``."""
    return {"Authorization": f"Bearer {token}"}


def csrf_in(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = _FORM_TOKEN.search(html)
    assert found, "no form with a CSRF token in the page"
    return found.group(1)


def form_csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token as a browser gets it: from the form of the page at ``path``."""
    return csrf_in(client.get(path).get_data(as_text=True))


def session_csrf(client: FlaskClient) -> str:
    """The CSRF token of the client's session, for the ``X-CSRF-Token`` header of scripts."""
    with client.session_transaction() as sess:
        return sess[auth.CSRF_FIELD]


def log_in(client: FlaskClient, password: str = PASSWORD) -> TestResponse:
    """Log in through the login form, which redirects on success; the response."""
    response = client.post("/login", data={"password": password, "csrf_token": form_csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def logged_in(app: Flask) -> FlaskClient:
    """A new client of ``app``, logged in as the owner."""
    client = app.test_client()
    log_in(client)
    return client


def post_setup(client: FlaskClient, **fields: str) -> TestResponse:
    """Send the first-run form: the password :data:`PASSWORD`, no Discogs account unless ``fields`` give one."""
    data = {
        "csrf_token": form_csrf(client, "/setup"),
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "discogs_username": "",
        "discogs_token": "",
        **fields,
    }
    return client.post("/setup", data=data)
