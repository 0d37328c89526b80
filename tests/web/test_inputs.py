"""The text rules at the edge (vinylvault/web/inputs.py): what every query, form and JSON body may hold.

Each refusal is a 400 with one log line naming the field; under /api/ it is
``{"error", "detail"}``, elsewhere the site's error page. What is legitimate
(tabs, line breaks in descriptions, accents, long-but-bounded text) gets
through to the field's own rules.
"""

from __future__ import annotations

import html
import io
import logging

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from tests.support.albums import album, fill
from tests.support.images import jpeg, jpeg_bytes
from tests.support.owner import bearer, create_token, form_csrf, session_csrf, set_owner_password
from tests.support.photos import upload
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.web import inputs

ALBUM = 7


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app()

    def echo_json():
        return {"got": request.get_json()}

    app.add_url_rule("/api/echo-json", "echo_json", echo_json, methods=["POST"])
    fill(app, [album(ALBUM, "Nico", "Chelsea Girl")])
    return app


@pytest.fixture
def owner(owner_client: FlaskClient) -> FlaskClient:
    """The owner, sending the session's CSRF token with every request as the site's scripts do."""
    owner_client.environ_base["HTTP_" + auth.CSRF_HEADER.upper().replace("-", "_")] = session_csrf(owner_client)
    return owner_client


@pytest.fixture
def photo_id(owner: FlaskClient) -> str:
    response = owner.post(
        f"/api/albums/{ALBUM}/photos",
        data={"photos": [(io.BytesIO(jpeg()), "sleeve.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["photos"][0]["id"]


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "vinylvault.web.errors" and "-> 400" in r.getMessage()]


def assert_api_refusal(response, error: str, field_text: str) -> None:
    assert response.status_code == 400
    document = response.get_json()
    assert set(document) == {"error", "detail"}
    assert document["error"] == error
    assert field_text in document["detail"]


# --- NUL and other control characters in the address -------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=%00",
        "/?q=a%00b",
        f"/album/{ALBUM}?q=%00",
        "/?genre=%00",
        "/search?q=%1b%5b2J",
        "/search?q=%c2%85",
        "/search?q=a%0ab",
    ],
)
def test_control_character_in_a_page_query_is_a_400_page(
    client: FlaskClient, owner: FlaskClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for who in (client, owner):
        caplog.clear()
        response = who.get(path)
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert "cannot be used in" in response.get_data(as_text=True)
        assert len(refusal_lines(caplog)) == 1


def test_nul_in_an_api_query_is_a_json_400(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = client.get("/api/collection?q=%00")
    assert_api_refusal(response, "invalid_text", "'q'")
    [line] = refusal_lines(caplog)
    assert "'q'" in line and "U+0000" in line and "\x00" not in line


@pytest.mark.parametrize("path", ["/", "/search", "/api/collection"])
def test_raw_bytes_that_are_not_utf8_in_the_query_are_a_400(client: FlaskClient, path: str) -> None:
    """A client may send the query's bytes unencoded; Werkzeug cannot decode these."""
    response = client.get(path, environ_overrides={"QUERY_STRING": b"q=caf\xe9".decode("latin-1")})
    assert response.status_code == 400
    assert "not UTF-8" in response.get_data(as_text=True)


def test_raw_utf8_in_the_query_is_searched(client: FlaskClient) -> None:
    response = client.get("/api/collection", environ_overrides={"QUERY_STRING": "q=chelsea".encode().decode("latin-1")})
    assert [album["id"] for album in response.get_json()["albums"]] == [ALBUM]
    response = client.get(
        "/api/collection", environ_overrides={"QUERY_STRING": "q=n\u00efco".encode().decode("latin-1")}
    )
    assert response.status_code == 200


def test_nul_in_a_parameter_name_is_refused_without_echoing_it(client: FlaskClient) -> None:
    response = client.get("/api/collection?a%00b=1")
    assert_api_refusal(response, "invalid_text", "a field name ('a\\x00b')")


@pytest.mark.parametrize(
    "path",
    [
        "/album/%00",
        f"/album/{ALBUM}%0a",
        "/api/album/%00",
        "/cache/thumbnails/%00.webp",
        "/static/app%00.js",
        "/theme/%1b",
    ],
)
def test_control_character_in_the_path_is_a_400(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "its path" in response.get_data(as_text=True)


def test_tab_and_accents_in_a_search_are_searched(client: FlaskClient) -> None:
    response = client.get("/api/collection?q=chelsea%09g%C3%AFrl")
    assert response.status_code == 200
    response = client.get("/api/collection?q=chelsea%09girl")
    assert response.status_code == 200
    assert [album["id"] for album in response.get_json()["albums"]] == [ALBUM]


def test_an_overlong_query_value_is_refused_at_the_edge(client: FlaskClient) -> None:
    response = client.get("/api/collection?sort=" + "a" * (inputs.DEFAULT_MAX_CHARS + 1))
    assert_api_refusal(response, "text_too_long", "'sort'")
    # Within the edge's bound, the field's own rule answers.
    response = client.get("/api/collection?sort=" + "a" * inputs.DEFAULT_MAX_CHARS)
    assert response.status_code == 400
    assert response.get_json()["error"] != "text_too_long"


def test_search_itself_ignores_a_nul() -> None:
    assert collection.fts_query("a\x00b \x00") == '"ab"*'


# --- JSON bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field_text",
    [
        ('{"urls": ["http://example.com/\\ud800.jpg"]}', "'urls'"),
        ('{"urls": ["http://example.com/a\\u0000.jpg"]}', "'urls'"),
        ('{"urls": ["http://example.com/a.jpg"], "\\udfff": 1}', "a key ('\\udfff')"),
        ('{"urls": ["http://example.com/a.jpg"], "x": [[{"y": ["\\ud83d"]}]]}', "'y'"),
    ],
)
def test_refused_text_anywhere_in_a_preload_body_is_a_400(owner: FlaskClient, body: str, field_text: str) -> None:
    response = owner.post("/api/cache/preload", data=body, content_type="application/json")
    assert_api_refusal(response, "invalid_text", field_text)


def test_lone_surrogate_in_a_photo_title_is_a_400(owner: FlaskClient, photo_id: str) -> None:
    response = owner.patch(f"/api/photos/{photo_id}", data='{"title": "\\ud800"}', content_type="application/json")
    assert_api_refusal(response, "invalid_text", "'title'")
    assert owner.get(f"/api/albums/{ALBUM}/photos").get_json()["photos"][0]["title"] == ""


def test_line_breaks_belong_in_descriptions_not_titles(owner: FlaskClient, photo_id: str) -> None:
    text = "Side A:\tmint\nSide B:\tlight scuffs"
    response = owner.patch(f"/api/photos/{photo_id}", json={"description": text})
    assert response.status_code == 200
    assert response.get_json()["description"] == text
    response = owner.patch(f"/api/photos/{photo_id}", json={"title": "two\nlines"})
    assert_api_refusal(response, "invalid_text", "'title'")


def test_description_length_is_the_photo_rule_not_the_edge(owner: FlaskClient, photo_id: str) -> None:
    response = owner.patch(f"/api/photos/{photo_id}", json={"description": "d" * (inputs.DEFAULT_MAX_CHARS * 3)})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_description"
    response = owner.patch(f"/api/photos/{photo_id}", json={"description": "d" * (inputs.max_chars("description") + 1)})
    assert_api_refusal(response, "text_too_long", "'description'")


@pytest.mark.parametrize(
    "levels, error",
    [
        (inputs.MAX_JSON_DEPTH, "json_too_deep"),
        (500, "json_too_deep"),
        (3_000, "malformed_json"),
        (100_000, "malformed_json"),
    ],
)
def test_deep_json_is_a_400(make_app, levels: int, error: str) -> None:
    """Deeper than the bound: refused once parsed; deeper than the parser follows: not readable."""
    app = make_app(MAX_JSON_BYTES=1_000_000)
    body = '{"urls": ' + "[" * levels + "]" * levels + "}"
    response = app.test_client().post(
        "/api/cache/preload", data=body, content_type="application/json", headers=bearer(create_token(app))
    )
    assert_api_refusal(response, error, "")


def test_json_within_the_depth_bound_reaches_the_view(owner: FlaskClient) -> None:
    nested: list = []
    for _ in range(inputs.MAX_JSON_DEPTH - 2):
        nested = [nested]
    response = owner.post("/api/cache/preload", json={"urls": nested})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_urls"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_numbers_must_be_finite(owner: FlaskClient, number: str) -> None:
    response = owner.post(
        "/api/cache/preload",
        data='{"urls": ["http://example.com/a.jpg"], "n": %s}' % number,
        content_type="application/json",
    )
    assert_api_refusal(response, "malformed_json", "")


def test_request_get_json_follows_the_same_rules(client: FlaskClient) -> None:
    assert client.post("/api/echo-json", json={"a": ["b\tc"]}).get_json() == {"got": {"a": ["b\tc"]}}
    response = client.post("/api/echo-json", data='{"a": ["\\ud800"]}', content_type="application/json")
    assert_api_refusal(response, "invalid_text", "'a'")
    response = client.post("/api/echo-json", data="[" * 100 + "]" * 100, content_type="application/json")
    assert_api_refusal(response, "json_too_deep", "")
    response = client.post("/api/echo-json", data="[" * 5000 + "]" * 5000, content_type="application/json")
    assert_api_refusal(response, "bad_request", "")
    assert client.post("/api/echo-json", data="NaN", content_type="application/json").status_code == 400


# --- forms and uploads -------------------------------------------------------------------


def test_nul_in_a_form_field_is_a_400_page(app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    set_owner_password(app)
    token = form_csrf(client)
    caplog.clear()
    response = client.post("/login", data={"password": "correct\x00horse", "csrf_token": token})
    assert response.status_code == 400
    assert "'password'" in html.unescape(response.get_data(as_text=True))
    assert len(refusal_lines(caplog)) == 1


def test_refused_form_is_not_seen_after_the_refusal(app: Flask) -> None:
    with app.test_request_context("/x", method="POST", data={"title": "a\x00b", "keep": "1"}):
        with pytest.raises(inputs.RefusedInput):
            request.form.get("title")
        assert dict(request.form) == {}


def test_description_form_field_keeps_its_line_breaks(owner: FlaskClient, photo_id: str) -> None:
    response = owner.post(
        f"/photos/{photo_id}/edit",
        data={
            "csrf_token": session_csrf(owner),
            "title": "Sleeve",
            "description": "Front\r\nBack",
            "visibility": "public",
        },
    )
    assert response.status_code == 303
    photo = owner.get(f"/api/albums/{ALBUM}/photos").get_json()["photos"][0]
    # Browsers send a textarea's line breaks as CR LF; the photo keeps the line feed.
    assert (photo["title"], photo["description"]) == ("Sleeve", "Front\nBack")


def test_nul_in_an_upload_file_name_is_a_400(owner: FlaskClient) -> None:
    response = owner.post(
        f"/api/albums/{ALBUM}/photos",
        data={"photos": [(io.BytesIO(jpeg()), "a\x00.jpg")]},
        content_type="multipart/form-data",
    )
    assert_api_refusal(response, "invalid_text", "the file name in 'photos'")
    assert owner.get(f"/api/albums/{ALBUM}/photos").get_json()["photos"] == []


def test_check_json_walks_keys_lists_and_depth_without_recursion() -> None:
    inputs.check_json({"a": [{"b": "c\td"}], "description": "x\ny"})
    for bad in ({"a": [{"b": "\x00"}]}, {"\ud800": 1}, [["\x7f"]], {"title": "x\ny"}):
        with pytest.raises(inputs.RefusedInput):
            inputs.check_json(bad)
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(inputs.RefusedInput) as refused:
        inputs.check_json(deep)
    assert refused.value.error == "json_too_deep"


# --- body size ---------------------------------------------------------------------------


def _login_body(app: Flask, client: FlaskClient, size: int) -> bytes:
    set_owner_password(app)
    return f"csrf_token={form_csrf(client)}&password=".encode() + b"p" * size


def test_a_form_past_the_body_cap_is_413(make_app) -> None:
    app = make_app(MAX_JSON_BYTES=2048)
    client = app.test_client()
    response = client.post(
        "/login", data=_login_body(app, client, 4096), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    response = client.post(
        "/login",
        data={"csrf_token": form_csrf(client), "password": "p", "photos": [(io.BytesIO(b"x" * 4096), "big.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_a_form_within_the_body_cap_reaches_the_view(make_app) -> None:
    app = make_app(MAX_JSON_BYTES=2048)
    client = app.test_client()
    response = client.post(
        "/login", data=_login_body(app, client, 1000), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 401


def test_photo_uploads_may_be_larger_than_the_body_cap(make_app) -> None:
    app = make_app(MAX_JSON_BYTES=2048)
    fill(app, [album(ALBUM, "Nico", "Chelsea Girl")])
    image = jpeg_bytes(128, 128, noise=True)
    assert len(image) > 4096
    response = upload(app.test_client(), [("sleeve.jpg", image)], ALBUM, bearer(create_token(app)))
    assert response.status_code == 201
