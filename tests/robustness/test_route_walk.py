"""Every route of the app, generated requests, three callers: never a 5xx, never a traceback.

The walk enumerates ``app.url_map``, so a route added later is walked too.
For each rule, hypothesis generates requests from the strategies below: the
method (the rule's own or any other), each path segment (a real value, one
matching the route's converter, or arbitrary bytes), a raw query string, a
few headers and a body (JSON of generated structure, a form, a multipart
upload or raw bytes, under any content type). Names and values lean on what
the site reads: the parameter names are scanned from the package's source,
the valid values come from its own constants. Each request is sent as a
guest, as the owner (session and CSRF token) and with a Bearer token.

Each response must be below 500, carry no traceback or debugger page, answer
JSON ``{"error", "detail"}`` for an error under ``/api/``, log one line for a
4xx, and log no traceback. Failures of all routes are collected and reported
together, each with the smallest request hypothesis found.

Examples per route and caller come from a settings profile: ``ci`` (the
default: a bounded number, derandomized, no example database, so every run of
``.ci/run`` sends the same requests) or ``deep`` (many more, random, failures
kept in hypothesis' database)::

    VINYLVAULT_WALK=deep .venv/bin/python -m pytest -p no:cacheprovider tests/robustness/test_route_walk.py
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

import vinylvault
from tests.support.images import image_bytes
from tests.support.robust_site import ALBUM, Caller, Site, ensure_photo, owner_session
from vinylvault.library import collection
from vinylvault.photos.store import Visibility
from vinylvault.site import pages
from vinylvault.web import inputs

# The cache's background workers draw retry jitter from ``random`` while hypothesis generates a request.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)
settings.register_profile("deep", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
WALK = settings.get_profile(os.environ.get("VINYLVAULT_WALK", "ci"))

#: Documented 5xx answers that are not server faults: the cover's own source
#: failed (502 naming the reason, tests/api/test_api_images.py). The album's
#: cover points at a closed port, so the owner always meets it.
UPSTREAM_ERRORS = {("api_images.album_download", 502)}

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "PROPFIND")
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-16",
    "application/json; charset=klingon",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=b",
    None,
)


def read_names() -> tuple[str, ...]:
    """Every name the package's views read from a query, form or JSON body, found in their source.

    In each module defining a blueprint: string literals passed to ``.get(...)``,
    ``.getlist(...)`` and the ``_int_arg``/``_int_param`` helpers, and those
    listed in ``*_PARAMS`` or ``*_FIELDS`` constants. A parameter added later
    is generated too.
    """
    names: set[str] = set()
    for source in Path(vinylvault.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if "Blueprint(" not in text:
            continue
        names.update(re.findall(r'(?:\.get|\.getlist|_int_arg|_int_param\(\w+,)\(?\s*"([a-z_]{1,30})"', text))
        for constant in re.findall(r"^[A-Z_]*(?:PARAMS|FIELDS)\s*=\s*(.+)$", text, re.MULTILINE):
            names.update(re.findall(r'"([a-z_]{1,30})"', constant))
    return tuple(sorted(names))


READ_NAMES = read_names()

#: Values the site accepts for some names, taken from its own constants.
VALID_VALUES: dict[str, tuple[str, ...]] = {
    "sort": tuple(collection.SORTS),
    "order": tuple(collection.ORDERS),
    "theme": pages.THEMES,
    "visibility": tuple(v.value for v in Visibility),
    "decade": ("1970", "2020"),
    "limit": ("1", "5"),
    "page": ("1", "2"),
    "offset": ("0", "3"),
    "fragment": ("1",),
    "via": ("random",),
    "action": ("delete", "revoke", "create"),
}

# --- text, numbers and bytes ---------------------------------------------------------

#: Characters that mean something to URLs, forms, paths, logs or HTML.
SIGNIFICANT = "/.%?#&=+;:@\\'\"<> \t\r\n\x00"


def texts(max_size: int = 24, surrogates: bool = True) -> st.SearchStrategy[str]:
    """Short text over every code point, with extra weight on controls, surrogates and URL syntax.

    Without ``surrogates``, only text the test client can encode (multipart field and file names).
    """
    kinds = [
        st.sampled_from(SIGNIFICANT),
        st.characters(codec=None if surrogates else "utf-8"),
        st.characters(categories=["Cc"]),
    ]
    if surrogates:
        kinds.append(st.characters(categories=["Cs"]))
    return st.text(alphabet=st.one_of(kinds), max_size=max_size)


def long_texts() -> st.SearchStrategy[str]:
    """Text around and far past the site's length bounds."""
    bounds = sorted({inputs.DEFAULT_MAX_CHARS, collection.MAX_QUERY_CHARS, *inputs.FIELD_MAX_CHARS.values()})
    lengths = st.one_of(st.sampled_from(bounds).flatmap(lambda n: st.integers(n - 1, n + 1)), st.integers(0, 20_000))
    return st.builds(lambda char, length: char * length, st.sampled_from("a9\u00e9\U0001f4bf"), lengths)


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(), st.integers(-(2**70), 2**70), st.floats()).map(str)


def urls() -> st.SearchStrategy[str]:
    """URL-shaped text on hosts that answer at once (nothing listens on port 9)."""
    return st.builds(
        "{}://{}/{}".format,
        st.sampled_from(["http", "https", "ftp", "file", "javascript", ""]),
        st.sampled_from(["127.0.0.1:9", "localhost:9", "[::1]:9", "[::1", "", "127.0.0.1:0"]),
        texts(),
    )


def values_for(name: str) -> st.SearchStrategy[str]:
    generic = st.one_of(texts(), long_texts(), numbers(), urls())
    valid = VALID_VALUES.get(name)
    return st.one_of(st.sampled_from(valid), generic) if valid else generic


def as_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


names = st.one_of(st.sampled_from(READ_NAMES), texts(max_size=10))
pairs = st.lists(names.flatmap(lambda name: st.tuples(st.just(name), values_for(name))), max_size=6)


def _quoted(text: str) -> bytes:
    return quote_from_bytes(as_bytes(text), safe="").encode("ascii")


@st.composite
def url_encoded(draw: st.DrawFn) -> bytes:
    """A query string or form body: pairs percent-encoded, or raw bytes as a careless client sends them."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=60))
    encode = _quoted if draw(st.booleans()) else as_bytes
    return b"&".join(encode(name) + b"=" + encode(value) for name, value in draw(pairs))


# --- bodies -------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts(), long_texts(), urls())
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(names, children, max_size=4)),
    max_leaves=12,
)
json_documents = st.one_of(
    st.dictionaries(st.sampled_from(READ_NAMES), json_values, max_size=4),
    st.dictionaries(names, json_values, max_size=4),
    json_values,
)


@dataclass(frozen=True)
class Body:
    data: bytes | dict[str, Any]
    content_type: str | None
    summary: str


@st.composite
def json_bodies(draw: st.DrawFn) -> Body:
    document = draw(json_documents)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    depth = draw(st.one_of(st.just(0), st.integers(1, 3_000)))
    data = as_bytes("[" * depth + text + "]" * depth)
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return Body(data, draw(st.sampled_from(CONTENT_TYPES)), f"json {data[:80]!r}")


@st.composite
def form_bodies(draw: st.DrawFn) -> Body:
    data = draw(url_encoded())
    return Body(data, draw(st.sampled_from(CONTENT_TYPES)), f"form {data[:80]!r}")


@st.composite
def multipart_bodies(draw: st.DrawFn) -> Body:
    """What a browser's upload form sends (werkzeug encodes it): fields and files, any content."""
    image = image_bytes()
    contents = st.one_of(
        st.just(image), st.binary(max_size=200), st.integers(0, len(image)).map(lambda cut: image[:cut])
    )
    files = draw(st.lists(st.tuples(contents, texts(max_size=16, surrogates=False)), max_size=3))
    fields = draw(st.dictionaries(st.sampled_from(READ_NAMES), texts(surrogates=False), max_size=4))
    data: dict[str, Any] = {
        **fields,
        draw(st.sampled_from(("photos", *READ_NAMES))): [
            (io.BytesIO(content), filename) for content, filename in files
        ],
    }
    return Body(data, "multipart/form-data", f"multipart fields={sorted(fields)!r} files={[f for _, f in files]!r}")


@st.composite
def raw_bodies(draw: st.DrawFn) -> Body:
    data = draw(st.binary(max_size=300))
    return Body(data, draw(st.sampled_from(CONTENT_TYPES)), f"raw {data[:80]!r}")


bodies = st.one_of(st.none(), json_bodies(), form_bodies(), multipart_bodies(), raw_bodies())

header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Accept": st.one_of(st.sampled_from(["application/json", "text/html", "*/*"]), header_values),
        "Referer": st.one_of(st.builds("http://localhost/{}".format, header_values), header_values),
        "If-None-Match": header_values,
        "If-Modified-Since": header_values,
        "Range": header_values,
        "X-Forwarded-For": header_values,
    },
)

# --- requests -------------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:[^<>]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
# A walk of these ends the owner's session: the owner logs in again after each request to them.
LOGOUT_ENDPOINTS = frozenset({"auth.logout", "auth.logout_everywhere"})


@dataclass(frozen=True)
class Probe:
    """One generated request; ``path`` and ``query`` as the server hands them over (decoded bytes, raw)."""

    endpoint: str
    method: str
    path: bytes
    query: bytes
    headers: dict[str, str]
    body: Body | None

    def describe(self) -> str:
        body = f" [{self.body.summary} as {self.body.content_type}]" if self.body else ""
        return f"{self.method} {self.path[:100]!r}?{self.query[:100]!r} headers={self.headers}{body}"[:600]

    def send(self, caller: Caller) -> TestResponse:
        kwargs: dict[str, Any] = {}
        if self.body is not None:
            kwargs["data"] = self.body.data
            if self.body.content_type:
                kwargs["content_type"] = self.body.content_type
        environ = {"PATH_INFO": self.path.decode("latin-1"), "QUERY_STRING": self.query.decode("latin-1")}
        response = caller.open("/", self.method, headers=self.headers, environ_overrides=environ, **kwargs)
        if caller.name == "owner" and self.endpoint in LOGOUT_ENDPOINTS:
            caller.site.owner_cookie, caller.site.csrf = owner_session(caller.site.app)
        return response


def segments(rule: Rule, name: str, known: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A path segment for ``name``: the site's real value, one its converter matches, or anything."""
    converter = rule._converters[name]
    matching = st.from_regex(converter.regex, fullmatch=True).map(as_bytes)
    anything = st.one_of(
        st.binary(max_size=24), texts().map(as_bytes), long_texts().map(as_bytes), numbers().map(as_bytes)
    )
    if name in known:
        return st.one_of(st.just(as_bytes(converter.to_url(known[name]))), matching, anything)
    return st.one_of(matching, anything)


@st.composite
def probes(draw: st.DrawFn, rule: Rule, known: dict[str, Any]) -> Probe:
    method = draw(st.one_of(st.sampled_from(sorted(rule.methods)), st.sampled_from(METHODS)))
    filled = {name: draw(segments(rule, name, known)) for name in sorted(rule.arguments)}
    parts = re.split(_PARAM, rule.rule)  # static text and argument names, alternating
    path = b"".join(filled[part] if index % 2 else part.encode() for index, part in enumerate(parts))
    body = None if method == "HEAD" else draw(bodies)
    return Probe(rule.endpoint, method, path, draw(url_encoded()), draw(headers), body)


def known_values(site: Site) -> dict[str, Any]:
    """The real value behind each path argument name the site has one for."""
    return {
        "album_id": ALBUM,
        "photo_id": site.photo_id,
        "size_type": "thumbnails",
        "key": "0" * 64,
        "job_id": "0" * 32,
        "scope": "grid",
        "name": "dark",
        "filename": "app.js",
        "token_id": "999999",
    }  # revoking the walk's own token would change the bearer's walk


def check(response: TestResponse, records: list[logging.LogRecord], probe: Probe) -> str | None:
    """The first way this response breaks the standard, or None."""
    status = response.status_code
    if status >= 500 and (probe.endpoint, status) not in UPSTREAM_ERRORS:
        return f"status {status}"
    body = response.get_data()
    if b"Traceback" in body or b"__debugger__" in body or b"Werkzeug Debugger" in body:
        return "traceback or debugger in body"
    tracebacks = [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    if tracebacks:
        return f"logged a traceback: {tracebacks[0].getMessage()[:80]}"
    if status >= 400 and probe.path.startswith(b"/api/") and probe.method != "HEAD":
        document = response.get_json(silent=True)
        if not isinstance(document, dict) or not {"error", "detail"} <= set(document):
            return f"API error {status} is not JSON {{error, detail}}: {body[:60]!r}"
    unruly = [r for r in records if "\n" in r.getMessage() or len(r.getMessage()) > 1000]
    if unruly:
        return f"log message spans lines or runs long: {unruly[0].getMessage()[:80]!r}"
    if 400 <= status < 500 and not records:
        return f"{status} logged nothing"
    return None


def walk_rule(rule: Rule, caller: Caller, take_logs: Callable[[], list[logging.LogRecord]]) -> str | None:
    """Run the rule's generated requests; the smallest failing one, described, or None."""
    ensure_photo(caller.site)
    known = known_values(caller.site)

    @WALK
    @given(probe=probes(rule, known))
    def walk(probe: Probe) -> None:
        take_logs()
        try:
            response = probe.send(caller)
        except Exception as exc:
            raise AssertionError(f"{probe.describe()} -> raised {type(exc).__name__}: {exc}") from exc
        problem = check(response, take_logs(), probe)
        assert problem is None, f"{probe.describe()} -> {problem}"

    try:
        walk()
    except Exception as failure:  # noqa: BLE001 - every failure of every route is reported together
        return f"{rule.rule}: {first_failure(failure)}"
    return None


def first_failure(failure: BaseException) -> str:
    """The first line of the first real error (hypothesis groups one that did not fail again)."""
    while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
        failure = failure.exceptions[0]
    lines = str(failure).splitlines()
    return f"{type(failure).__name__}: {lines[0] if lines else ''}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["guest", "owner", "bearer"])
def test_every_route_survives_generated_requests(
    site: Site, callers: dict[str, Caller], who: str, request_logs: Callable[[], list[logging.LogRecord]]
) -> None:
    # Logging out last: a walk of /logout may end the owner's session for the routes after it.
    rules = sorted(site.app.url_map.iter_rules(), key=lambda rule: rule.endpoint in LOGOUT_ENDPOINTS)
    assert len(rules) > 40
    failures = [problem for rule in rules if (problem := walk_rule(rule, callers[who], request_logs))]
    assert not failures, f"{len(failures)} of {len(rules)} routes as {who} broke the standard:\n" + "\n".join(failures)
