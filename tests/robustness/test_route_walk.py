"""Every route of the app, every method, hostile input, three callers: never a 500.

The walk enumerates ``app.url_map`` instead of listing routes by hand, so a
route added later is walked too. For each rule it sends hostile path
parameters, junk query strings, junk bodies (JSON, form, multipart) and wrong
methods, as a guest, as the owner (session + CSRF token) and with a Bearer
token. Each response must be below 500, carry no traceback or debugger page,
answer JSON ``{"error", "detail"}`` for an error under ``/api/``, and its
request must log no error with a traceback; every 4xx must log a line. All
failures are collected and reported together, one line each.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from tests.robustness.conftest import ALBUM, Caller, Site, jpeg

#: Values that replace one path parameter at a time.
HOSTILE_SEGMENTS = (
    "-1", "0", "99999999999999999999", "-99999999999999999999", "1e9", "0x1f", "\u0661\u0662",
    "..%2f..%2fetc%2fpasswd", "..", "%2e%2e", "a%00b", "%ff%fe", "\u00e9\u00e8\U0001f4bf", "a" * 5000,
    "/etc/passwd", "..\\..\\windows", "%252e%252e%252f", " ", "%20",
    "a%0aFAKE LOG LINE", "a%0d%0aSet-Cookie:%20x=1",
)

#: Every query parameter any view reads, and a few it might be tempted to.
KNOWN_PARAMS = ("sort", "order", "genre", "style", "decade", "format", "folder", "q", "limit", "offset",
                "after", "next", "share", "fragment", "via", "page", "per_page", "theme", "size", "id")

JUNK_VALUES = ("-1", "a%0aFAKE LOG LINE", "99999999999999999999", "1.5", "true", "null", "[]", "{}", "%00", "%ff%fe",
               "\u00e9\U0001f4bf", "'\"; DROP TABLE albums; --", "x" * 5000, "..%2f..%2f", "//evil.example/")


def _query_variants() -> Iterator[tuple[str, str]]:
    for junk in JUNK_VALUES:
        yield f"all={junk[:20]!r}", "&".join(f"{name}={junk}" for name in KNOWN_PARAMS)
    yield "repeated", "&".join(f"{name}=a&{name}=b&{name}=" for name in KNOWN_PARAMS)
    yield "100KB", "q=" + "a" * 100_000
    yield "bad-percent", "q=%ZZ%&sort=%&after=%g0"
    yield "no-values", "&".join(KNOWN_PARAMS)


QUERY_VARIANTS = tuple(_query_variants())


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


#: (name, body, content type) for requests that carry a body.
BODY_VARIANTS: tuple[tuple[str, bytes, str | None], ...] = (
    ("json-malformed", b'{"urls": [', "application/json"),
    ("json-array", b"[1, 2, 3]", "application/json"),
    ("json-string", b'"hello"', "application/json"),
    ("json-null", b"null", "application/json"),
    ("json-wrong-types", json.dumps({"urls": 5, "title": {"a": 1}, "visibility": 7, "description": [None],
                                     "name": 3, "password": 1}).encode(), "application/json"),
    ("json-urls-junk", json.dumps({"urls": [1, None, "", "javascript:alert(1)", "http://[::1", "x" * 5000]}
                                  ).encode(), "application/json"),
    ("json-deep", _deep(10_000), "application/json"),
    ("json-deep-object", b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
    ("json-huge", b'{"urls": ["' + b"a" * 8000 + b'"]}', "application/json"),
    ("json-not-utf8", b'{"title": "\xff\xfe\xfd"}', "application/json"),
    ("json-utf16", '{"title": "x"}'.encode("utf-16"), "application/json"),
    ("json-bad-charset", b'{"title": "x"}', "application/json; charset=klingon"),
    ("json-as-text", b'{"urls": ["http://127.0.0.1/x.jpg"]}', "text/plain"),
    ("empty", b"", None),
    ("form-junk", b"password=" + b"p" * 5000 + b"&visibility=%00&title=%ff&action=junk&next=//evil.example"
                  b"&discogs_username=%00&name=\xff", "application/x-www-form-urlencoded"),
    ("form-bad-percent", b"a=%ZZ&&&==&csrf_token=%", "application/x-www-form-urlencoded"),
    ("multipart-garbage", b"--xyz\r\nnot a header\r\n\r\n\x00\x01--xyz--", "multipart/form-data; boundary=xyz"),
    ("multipart-no-boundary", b"whatever", "multipart/form-data"),
    ("multipart-truncated", b'--b\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
                            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff", "multipart/form-data; boundary=b"),
)

#: Documented 5xx answers that are not server faults: the cover's own source
#: failed (502 naming the reason, tests/api/test_api_images.py). The album's
#: cover points at a closed port, so the owner always meets it.
UPSTREAM_ERRORS = {("api_images.album_download", 502)}

EXTRA_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "PROPFIND")


@dataclass(frozen=True)
class Probe:
    """One request of the walk."""

    endpoint: str
    method: str
    path: str
    variant: str
    kwargs: tuple[tuple[str, Any], ...] = ()


def valid_values(site: Site) -> dict[str, str]:
    """A value for every path parameter name that reaches the handler."""
    return {"album_id": str(ALBUM), "photo_id": site.photo_id, "size_type": "thumbnails", "key": "0" * 64,
            "job_id": "0" * 32, "scope": "grid", "name": "dark", "filename": "app.js",
            "token_id": "999999"}  # revoking the walk's own token would change the bearer's walk


_PARAM = re.compile(r"<(?:[^:<>]+:)?([a-z_]+)>")


def build_path(rule: Rule, values: dict[str, str], replace: str | None = None, hostile: str = "") -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return hostile if name == replace else values[name]
    return _PARAM.sub(value, rule.rule)


def probes_for(rule: Rule, values: dict[str, str]) -> Iterator[Probe]:
    methods = sorted(rule.methods - {"OPTIONS", "HEAD"})
    base = build_path(rule, values)
    for name in rule.arguments:
        for hostile in HOSTILE_SEGMENTS:
            for method in methods:
                yield Probe(rule.endpoint, method, build_path(rule, values, name, hostile), f"path {name}={hostile[:24]!r}")
    for method in EXTRA_METHODS:
        yield Probe(rule.endpoint, method, base, "method")
    for method in methods:
        for variant, query in QUERY_VARIANTS:
            yield Probe(rule.endpoint, method, f"{base}?{query}", f"query {variant}")
        if method == "GET":
            continue
        for variant, body, content_type in BODY_VARIANTS:
            kwargs = {"data": body, **({"content_type": content_type} if content_type else {})}
            yield Probe(rule.endpoint, method, base, f"body {variant}", tuple(kwargs.items()))
        yield Probe(rule.endpoint, method, base, "multipart junk file", (("data", {
            "photos": [(io.BytesIO(b"MZ\x90\x00 not an image"), "evil.jpg"), (io.BytesIO(jpeg()), "../../x.png")],
            "visibility": "\x00", "title": "t" * 10_000, "csrf_token": "forged"}),
            ("content_type", "multipart/form-data")))


def check(response: TestResponse, records: list[logging.LogRecord], probe: Probe) -> str | None:
    """The first way this response breaks the standard, or None."""
    status = response.status_code
    if status >= 500 and (probe.endpoint, status) not in UPSTREAM_ERRORS:
        return f"status {status}"
    body = response.get_data()
    if b"Traceback" in body or b"__debugger__" in body or b"Werkzeug Debugger" in body:
        return "traceback or debugger in body"
    tracebacks = [r for r in records if r.levelno >= logging.ERROR and r.exc_info]
    if tracebacks:
        return f"logged a traceback: {tracebacks[0].getMessage()[:80]}"
    if status >= 400 and probe.path.startswith("/api/") and probe.method != "HEAD":
        document = response.get_json(silent=True)
        if not isinstance(document, dict) or not {"error", "detail"} <= set(document):
            return f"API error {status} is not JSON {{error, detail}}: {body[:60]!r}"
    unruly = [r for r in records if not r.exc_info and ("\n" in r.getMessage() or len(r.getMessage()) > 1000)]
    if unruly:
        return f"log message spans lines or runs long: {unruly[0].getMessage()[:80]!r}"
    if 400 <= status < 500 and not records:
        return f"{status} logged nothing"
    return None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("who", ["guest", "owner", "bearer"])
def test_every_route_survives_hostile_input(site: Site, callers: dict[str, Caller], who: str,
                                            request_logs: Callable[[], list[logging.LogRecord]]) -> None:
    caller, values = callers[who], valid_values(site)
    failures: list[str] = []
    sent = 0
    for rule in site.app.url_map.iter_rules():
        for probe in probes_for(rule, values):
            request_logs()
            response = caller.open(probe.path, probe.method, **dict(probe.kwargs))
            sent += 1
            problem = check(response, request_logs(), probe)
            if problem:
                failures.append(f"{probe.method} {probe.path[:70]} [{probe.variant}] -> {problem}")
    assert sent > 1000
    assert not failures, f"{len(failures)} of {sent} requests as {who} broke the standard:\n" + "\n".join(failures)
