"""/api/cache/...: stats, health, clear, preload jobs; auth, CSRF, rate limits and bad input."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.cache_api import API_SETTINGS, serve_covers, wait_for_job
from tests.support.owner import bearer, create_token, session_csrf
from vinylvault.covers import cache_api, extension


def _cache(app):
    return app.extensions[extension.COVERS]


# --- stats and health ----------------------------------------------------------


def test_stats_are_the_engines(client, app):
    body = client.get("/api/cache/stats").get_json()
    assert body["total_entries"] == 0
    assert body["cache_limit_bytes"] == _cache(app).limit_bytes
    assert {"hit_rate", "total_size_bytes", "available_space_bytes"} <= body.keys()


def test_fresh_cache_is_healthy(client):
    response = client.get("/api/cache/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy"
    assert {c["name"] for c in body["checks"]} == {"writable", "index", "drift", "errors", "disk"}


def test_file_deleted_behind_the_index_is_degraded_drift(client, app, origin, monkeypatch):
    monkeypatch.setattr(cache_api, "HEALTH_REUSE_SECONDS", 0.0)
    [url] = serve_covers(origin, 1)
    path = _cache(app).get_image(url, "detail")
    assert client.get("/api/cache/health").get_json()["status"] == "healthy"
    Path(path).unlink()
    response = client.get("/api/cache/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert [c["status"] for c in body["checks"] if c["name"] == "drift"] == ["degraded"]


def test_health_report_is_reused_briefly(client, app, monkeypatch):
    monkeypatch.setattr(cache_api, "HEALTH_REUSE_SECONDS", 3600.0)
    first = client.get("/api/cache/health").get_json()
    shutil.rmtree(_cache(app).cache_dir)
    assert client.get("/api/cache/health").get_json() == first


def test_missing_cache_folder_is_unhealthy_503(client, app, monkeypatch):
    monkeypatch.setattr(cache_api, "HEALTH_REUSE_SECONDS", 0.0)
    shutil.rmtree(_cache(app).cache_dir)
    response = client.get("/api/cache/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unhealthy"


# --- clear: authentication and CSRF --------------------------------------------


def test_clear_without_credentials_is_401(client):
    response = client.post("/api/cache/clear")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_clear_with_bad_token_is_403(client, token):
    assert client.post("/api/cache/clear", headers=bearer(token + "x")).status_code == 403


def test_clear_with_session_but_no_csrf_is_403(owner_client):
    assert owner_client.post("/api/cache/clear").status_code == 403
    assert owner_client.post("/api/cache/clear", headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_clear_with_session_and_csrf(owner_client, app, origin):
    [url] = serve_covers(origin, 1)
    assert _cache(app).get_image(url, "detail")
    response = owner_client.post("/api/cache/clear", headers={"X-CSRF-Token": session_csrf(owner_client)})
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "message": "Image cache cleared."}
    assert _cache(app).lookup(url, "detail") is None


def test_clear_with_bearer_token(client, token):
    response = client.post("/api/cache/clear", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["success"] is True


def test_mutating_endpoints_are_rate_limited_per_client(make_app):
    app = make_app(RATE_LIMIT_PER_MINUTE=2, **API_SETTINGS)
    token = create_token(app)
    client = app.test_client()
    codes = [client.post("/api/cache/clear", headers=bearer(token)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = client.post("/api/cache/clear", headers=bearer(token), environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


# --- preload: bad input --------------------------------------------------------


def _preload(client, token, body, content_type="application/json", **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/cache/preload", data=data, content_type=content_type, headers=bearer(token), **kwargs)


@pytest.mark.parametrize(
    "body, error",
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe\x00", "malformed_json"),
        (b"[" * 50_000, "malformed_json"),
        (b"", "malformed_json"),
        ([1, 2], "invalid_body"),
        ({"url": "http://example.com/a.jpg"}, "invalid_urls"),
        ({"urls": "http://example.com/a.jpg"}, "invalid_urls"),
        ({"urls": []}, "invalid_urls"),
        ({"urls": ["http://example.com/a.jpg", 3]}, "invalid_urls"),
        ({"urls": [None]}, "invalid_urls"),
        ({"urls": [f"http://example.com/{n}.jpg" for n in range(1001)]}, "too_many_urls"),
    ],
)
def test_preload_rejects_bad_bodies_with_400(client, token, body, error):
    response = _preload(client, token, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == error
    assert response.get_json()["detail"]


def test_preload_needs_json_content_type(client, token):
    response = _preload(client, token, {"urls": ["http://example.com/a.jpg"]}, content_type="text/plain")
    assert response.status_code == 415


def test_preload_oversized_body_is_413(make_app):
    app = make_app(MAX_JSON_BYTES=2048, **API_SETTINGS)
    token = create_token(app)
    body = {"urls": ["http://example.com/" + "a" * 100 for _ in range(30)]}
    response = _preload(app.test_client(), token, body)
    assert response.status_code == 413
    assert response.get_json()["error"] == "body_too_large"


def test_preload_oversized_body_without_length_is_413(make_app):
    app = make_app(MAX_JSON_BYTES=2048, **API_SETTINGS)
    token = create_token(app)
    body = json.dumps({"urls": ["http://example.com/" + "a" * 100 for _ in range(30)]}).encode()
    # A chunked body, as gunicorn passes it: no Content-Length, the stream says where it ends.
    response = app.test_client().post(
        "/api/cache/preload",
        input_stream=io.BytesIO(body),
        headers={**bearer(token), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def test_preload_needs_the_owner(client):
    response = client.post("/api/cache/preload", json={"urls": ["http://example.com/a.jpg"]})
    assert response.status_code == 401


SSRF_CORPUS = [
    ("http://127.0.0.1/a.jpg", "private_address"),
    ("http://localhost/a.jpg", "private_address"),
    ("http://[::1]/a.jpg", "private_address"),
    ("http://10.0.0.7/a.jpg", "private_address"),
    ("http://192.168.1.1/a.jpg", "private_address"),
    ("http://172.16.0.1/a.jpg", "private_address"),
    ("http://169.254.169.254/latest/meta-data/", "private_address"),
    ("http://2130706433/a.jpg", "private_address"),
    ("http://0x7f000001/a.jpg", "private_address"),
    ("http://0177.0.0.1/a.jpg", "private_address"),
    ("http://0.0.0.0/a.jpg", "private_address"),
    ("http://[::ffff:127.0.0.1]/a.jpg", "private_address"),
    ("file:///etc/passwd", "bad_scheme"),
    ("gopher://example.com/", "bad_scheme"),
    ("local:../../etc/passwd", "bad_scheme"),
    ("http://user:pass@example.com/a.jpg", "credentials_in_url"),
    ("http://example.com/" + "a" * 5000, "url_too_long"),
    ("http://exa mple.com/a.jpg", "bad_url"),
]


def test_ssrf_corpus_is_refused_at_request_time(make_app, origin):
    app = make_app(ALLOW_PRIVATE_SOURCES=False, **API_SETTINGS)
    token = create_token(app)
    response = _preload(app.test_client(), token, {"urls": [url for url, _ in SSRF_CORPUS]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "no_acceptable_urls"
    assert [r["reason"] for r in body["refused"]] == [reason for _, reason in SSRF_CORPUS]
    assert origin.requests == []


def test_preload_lists_refused_urls_and_queues_the_rest(make_app):
    app = make_app(ALLOW_PRIVATE_SOURCES=False, **API_SETTINGS)
    token = create_token(app)
    # example.com does not resolve offline: not refused now (the connect-time guard still holds).
    response = _preload(app.test_client(), token, {"urls": ["http://169.254.169.254/x", "HTTP://Example.COM:80/a.jpg"]})
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] == 1
    assert body["refused"] == [{"url": "http://169.254.169.254/x", "reason": "private_address"}]


# --- preload: jobs ---------------------------------------------------------------


def test_preload_job_fetches_every_url_and_reports_progress(client, app, token, origin):
    urls = serve_covers(origin, 5)
    response = _preload(client, token, {"urls": urls + urls[:2]})
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] == 7 and body["refused"] == []
    location = response.headers["Location"]
    assert location == f"/api/cache/preload/{body['job_id']}"
    status = wait_for_job(client, location)
    assert status["state"] == "done"
    assert (status["total"], status["done"], status["failed"]) == (5, 5, 0)
    assert status["errors"] == [] and status["eta_seconds"] == 0 and status["started_at"]
    for url in urls:
        assert _cache(app).lookup(url, "thumbnails") and _cache(app).lookup(url, "detail")
        assert origin.hits(urlsplit(url).path) == 1


def test_preload_job_reports_failed_items_with_reasons(client, token, origin):
    good = serve_covers(origin, 1)
    missing = origin.add_status("/gone.jpg", 404)
    html = origin.add_html("/page.jpg", content_type="image/jpeg")
    response = _preload(client, token, {"urls": good + [missing, html]})
    status = wait_for_job(client, response.headers["Location"])
    assert (status["state"], status["done"], status["failed"]) == ("done", 1, 2)
    assert sorted(status["errors"], key=lambda e: e["url"]) == sorted(
        [{"url": missing, "reason": "http_404"}, {"url": html, "reason": "html_body"}], key=lambda e: e["url"]
    )


def test_job_where_every_item_fails_is_failed(client, token, origin):
    missing = origin.add_status("/gone.jpg", 404)
    status = wait_for_job(client, _preload(client, token, {"urls": [missing]}).headers["Location"])
    assert (status["state"], status["failed"]) == ("failed", 1)


@pytest.mark.parametrize(
    "job_id, code, error",
    [
        ("0" * 32, 404, "unknown_job"),
        ("f" * 32, 404, "unknown_job"),
        ("xyz", 400, "invalid_job_id"),
        ("F" * 32, 400, "invalid_job_id"),
        ("0" * 33, 400, "invalid_job_id"),
        ("..%2f..%2fetc", 404, "not_found"),  # decoded to slashes: no route matches
        ("0" * 32 + "%0A", 400, "invalid_text"),  # a newline is refused at the edge, before any id check
    ],
)
def test_job_status_validates_the_id(client, job_id, code, error):
    response = client.get(f"/api/cache/preload/{job_id}")
    assert (response.status_code, response.get_json()["error"]) == (code, error)


# --- memory tier scopes -----------------------------------------------------------


def test_clear_scope_frees_that_scope_only(make_app, origin):
    app = make_app(MEMORY_CACHE_ENABLED=True, **API_SETTINGS)
    token = create_token(app)
    cache = _cache(app)
    [url] = serve_covers(origin, 1)
    cache.get_image(url, "detail")
    entry = cache.lookup(url, "detail")
    cache.read_bytes(entry, scope="grid")
    cache.read_bytes(entry, scope="album")
    client = app.test_client()
    assert client.post("/api/cache/scopes/grid/clear").status_code == 401
    response = client.post("/api/cache/scopes/grid/clear", headers=bearer(token))
    assert response.get_json() == {"success": True, "scope": "grid", "freed_bytes": entry.bytes}
    assert set(cache.memory.stats()["scopes"]) == {"album"}


@pytest.mark.parametrize("scope, code", [("Grid!", 400), ("a" * 65, 400), ("grid%0A", 400), ("grid", 409)])
def test_clear_scope_bad_input_and_disabled_tier(client, token, scope, code):
    assert client.post(f"/api/cache/scopes/{scope}/clear", headers=bearer(token)).status_code == code
