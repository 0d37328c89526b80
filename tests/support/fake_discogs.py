"""A fake Discogs API: a real threaded HTTP server on 127.0.0.1, built from recorded responses.

The collection items are the recorded ones in ../shared/corpus/discogs
(joalla ~2015, buntine ~2013, ricbra 2014 doc example: their different
shapes, missing keys and spacer.gif thumbs), repeated and varied to any size
with unique ``instance_id``s. It implements the endpoints VinylVault uses:

    GET /oauth/identity
    GET /users/<u>/collection/folders
    GET /users/<u>/collection/fields
    GET /users/<u>/collection/folders/0/releases?page=&per_page=
    GET /releases/<id>
    GET /users/<u>/wants?page=&per_page=
    GET /users/<u>/collection/value

and the behaviours the client must cope with: a token check (401), a
required User-Agent (403 without), ``X-Discogs-Ratelimit*`` headers (with a
settable ``remaining``), injected failures (429 without Retry-After, 500),
pages shorter than ``per_page`` (``short_pages``), deletions between runs,
and a log of every request. With ``cover_base`` every recorded image URL of
item ``n`` (``cover_image``, ``thumb``, spacer.gif included) becomes
``<cover_base><n>.jpg``, so a real collection's covers come from a test
image origin (tests/support/origin.py) instead of Discogs' hosts.

    with FakeDiscogs(corpus_dir, items=2500) as fake:
        fake.url, fake.token, fake.count("/collection/folders/0/releases")
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_http import JSONHandler, LoopbackServer

USERNAME = "example"
TOKEN = "fake-token-0123456789"
#: The keys of a collection item's basic_information that hold image URLs.
IMAGE_KEYS = frozenset({"cover_image", "thumb"})


def _http_body(path: Path) -> Any:
    """The JSON body of a raw recorded HTTP response (.http file)."""
    raw = path.read_text(encoding="utf-8")
    return json.loads(raw.split("\r\n\r\n", 1)[-1] if "\r\n\r\n" in raw else raw.split("\n\n", 1)[-1])


def load_item_templates(corpus: Path) -> list[dict[str, Any]]:
    """Every recorded collection item, in a stable order."""
    items = json.loads(
        (corpus / "joalla__users_example_collection_folders_0_releases_page1.json").read_text(encoding="utf-8")
    )["releases"]
    items += json.loads((corpus / "buntine__valid_user_collection.json").read_text(encoding="utf-8"))["releases"]
    items += _http_body(corpus / "ricbra__get_collection_items_by_folder.http")["releases"]
    return items


def load_release_templates(corpus: Path) -> list[dict[str, Any]]:
    names = [
        "joalla__releases_1.json",
        "joalla__releases_79.json",
        "joalla__releases_3329867.json",
        "buntine__valid_release.json",
    ]
    releases = [json.loads((corpus / name).read_text(encoding="utf-8")) for name in names]
    releases.append(_http_body(corpus / "ricbra__get_release.http"))
    return releases


@dataclass
class Failure:
    status: int
    path_contains: str
    times: int  # -1: forever


def _paging(query: dict[str, list[str]]) -> tuple[int, int] | None:
    """(page, per_page) of a paginated request as Discogs reads them (per_page 1 to 100); None if not numbers."""
    try:
        return int(query.get("page", ["1"])[0]), min(100, max(1, int(query.get("per_page", ["50"])[0])))
    except ValueError:
        return None


class FakeDiscogs(LoopbackServer):
    """The server and its knobs; thread-safe. Use as a context manager."""

    def __init__(
        self,
        corpus: Path,
        items: int = 0,
        *,
        username: str = USERNAME,
        token: str = TOKEN,
        cover_base: str | None = None,
    ) -> None:
        self.cover_base = cover_base
        self.username = username
        self.token = token
        self.templates = load_item_templates(corpus)
        self.release_templates = load_release_templates(corpus)
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = [self.make_item(i) for i in range(items)]
        self.short_pages = False
        self.ratelimit = 60
        self.remaining: int | None = None  # None: count requests in a 60-request window
        self.failures: deque[Failure] = deque()
        self.log: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.fields = [
            {"id": 1, "name": "Media", "type": "dropdown"},
            {"id": 2, "name": "Sleeve", "type": "dropdown"},
            {"id": 3, "name": "Notes", "type": "textarea"},
            {"id": 4, "name": "Originally from", "type": "textarea"},
        ]
        self.folders = [{"id": 0, "name": "All"}, {"id": 1, "name": "Uncategorized"}, {"id": 2, "name": "Jazz shelf"}]
        self.wants: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # wall-clock arrival of every request, for pacing checks
        self.value: dict[str, str] = {"minimum": "€1,234.56", "median": "€2,000.00", "maximum": "€3,210.99"}
        super().__init__(self._handler_class())

    # -- data ---------------------------------------------------------------------------

    def make_item(self, n: int) -> dict[str, Any]:
        """Item ``n``: recorded item ``n % len(templates)`` with a unique instance id and varied fields."""
        item = copy.deepcopy(self.templates[n % len(self.templates)])
        item["instance_id"] = 100_000 + n
        basic = item.setdefault("basic_information", {})
        release_id = 5_000_000 + n // 2  # items 2k and 2k+1: two copies of one release
        item["id"] = basic["id"] = release_id
        basic["title"] = f"{basic.get('title', 'Untitled')} #{n}"
        if "rating" in item:
            item["rating"] = n % 6
        if "folder_id" in item:
            item["folder_id"] = 1 + n % 2
        if n % 7 == 0:
            item["notes"] = [
                {"field_id": 1, "value": "Very Good Plus (VG+)"},
                {"field_id": 2, "value": "Near Mint (NM or M-)"},
                {"field_id": 4, "value": "Record fair"},
            ]
        if self.cover_base is not None:
            for key in IMAGE_KEYS & basic.keys():
                basic[key] = self.cover_url(n)
        return item

    # -- the wantlist and the collection value -------------------------------------------

    def make_want(self, n: int) -> dict[str, Any]:
        """Want ``n``: recorded item ``n % len(templates)`` as a wantlist entry (release ``6_000_000 + n``).

        Wants share the recorded items' master ids, so some are other
        pressings of owned copies; every third has the owner's note.
        """
        item = copy.deepcopy(self.templates[n % len(self.templates)])
        for key in ("instance_id", "folder_id"):
            item.pop(key, None)
        basic = item.setdefault("basic_information", {})
        item["id"] = basic["id"] = 6_000_000 + n
        basic["title"] = f"{basic.get('title', 'Untitled')} (wanted #{n})"
        item["notes"] = "Only the first pressing" if n % 3 == 0 else ""
        return item

    def _wants_page(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """``/users/<u>/wants``: paginated like the collection, ``wants[]`` instead of ``releases[]``."""
        paging = _paging(query)
        if paging is None:
            return 400, {"message": "Bad page."}
        page, per_page = paging
        with self.lock:
            pages = max(1, -(-len(self.wants) // per_page))
            if page < 1 or page > pages:
                return 404, {"message": "Page not found."}
            wants = copy.deepcopy(self.wants[(page - 1) * per_page : page * per_page])
            total = len(self.wants)
        return 200, {
            "pagination": {"page": page, "pages": pages, "per_page": per_page, "items": total, "urls": {}},
            "wants": wants,
        }

    def _collector_route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any] | None:
        """The wantlist and collection value endpoints; ``None`` for any other path."""
        user = re.escape(self.username)
        if re.fullmatch(rf"/users/{user}/wants", path):
            return self._wants_page(query)
        if re.fullmatch(rf"/users/{user}/collection/value", path):
            with self.lock:
                return 200, dict(self.value)
        return None

    def cover_url(self, n: int) -> str:
        """Where item ``n``'s images point when ``cover_base`` is set."""
        return f"{self.cover_base}{n}.jpg"

    def delete_items(self, instance_ids: set[int]) -> None:
        with self.lock:
            self.items = [item for item in self.items if item["instance_id"] not in instance_ids]

    def fail(self, status: int, path_contains: str = "", times: int = 1) -> None:
        """The next ``times`` requests whose path contains ``path_contains`` answer ``status`` (-1: forever)."""
        with self.lock:
            self.failures.append(Failure(status, path_contains, times))

    def clear_failures(self) -> None:
        with self.lock:
            self.failures.clear()

    def count(self, path_contains: str = "") -> int:
        """How many requests reached the server with ``path_contains`` in their path."""
        with self.lock:
            return sum(1 for path, _q, _h in self.log if path_contains in path)

    def pages_requested(self) -> list[int]:
        with self.lock:
            return [int(q.get("page", ["1"])[0]) for path, q, _h in self.log if path.endswith("/releases")]

    # -- lifecycle -------------------------------------------------------------------------

    # -- serving ---------------------------------------------------------------------------

    def _page_bounds(self, per_page: int) -> list[tuple[int, int]]:
        """(start, end) of each page; with ``short_pages`` every third page holds 3 items fewer."""
        bounds, start, page = [], 0, 1
        while start < len(self.items) or not bounds:
            size = per_page - 3 if self.short_pages and page % 3 == 0 and per_page > 3 else per_page
            bounds.append((start, min(start + size, len(self.items))))
            start += size
            page += 1
        return bounds

    def _collection_page(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        paging = _paging(query)
        if paging is None:
            return 400, {"message": "Bad page."}
        page, per_page = paging
        with self.lock:
            bounds = self._page_bounds(per_page)
            if page < 1 or page > len(bounds):
                return 404, {"message": "Page not found."}
            start, end = bounds[page - 1]
            releases = copy.deepcopy(self.items[start:end])
            total = len(self.items)
        urls = {}
        if page < len(bounds):
            urls["next"] = f"{self.url}/users/{self.username}/collection/folders/0/releases?page={page + 1}"
            urls["last"] = f"{self.url}/users/{self.username}/collection/folders/0/releases?page={len(bounds)}"
        pagination = {"page": page, "pages": len(bounds), "per_page": per_page, "items": total, "urls": urls}
        return 200, {"pagination": pagination, "releases": releases}

    def _release(self, release_id: int) -> tuple[int, Any]:
        with self.lock:
            owned = any(item["id"] == release_id for item in self.items)
        recorded = {r["id"]: r for r in self.release_templates}
        if release_id in recorded:
            return 200, recorded[release_id]
        if not owned:
            return 404, {"message": "Release not found."}
        release = copy.deepcopy(self.release_templates[release_id % len(self.release_templates)])
        release["id"] = release_id
        return 200, release

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        user = re.escape(self.username)
        if path == "/oauth/identity":
            return 200, {"id": 1, "username": self.username, "resource_url": f"{self.url}/users/{self.username}"}
        if re.fullmatch(rf"/users/{user}/collection/folders/0/releases", path):
            return self._collection_page(query)
        if re.fullmatch(rf"/users/{user}/collection/folders", path):
            return 200, {"folders": self.folders}
        if re.fullmatch(rf"/users/{user}/collection/fields", path):
            return 200, {"fields": self.fields}
        match = re.fullmatch(r"/releases/(\d+)", path)
        if match:
            return self._release(int(match.group(1)))
        collector = self._collector_route(path, query)
        if collector is not None:
            return collector
        return 404, {"message": "The requested resource was not found."}

    def _injected_failure(self, path: str) -> int | None:
        with self.lock:
            for failure in self.failures:
                if failure.path_contains in path and failure.times != 0:
                    if failure.times > 0:
                        failure.times -= 1
                    return failure.status
        return None

    def _ratelimit_headers(self) -> dict[str, str]:
        with self.lock:
            used = len(self.log) % self.ratelimit
            remaining = self.remaining if self.remaining is not None else self.ratelimit - used
        return {
            "X-Discogs-Ratelimit": str(self.ratelimit),
            "X-Discogs-Ratelimit-Used": str(self.ratelimit - remaining),
            "X-Discogs-Ratelimit-Remaining": str(remaining),
        }

    def _handler_class(self) -> type[JSONHandler]:
        fake = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                with fake.lock:
                    fake.log.append((parts.path, query, dict(self.headers)))
                    fake.arrivals.append(time.time())
                if not self.headers.get("User-Agent"):
                    return self.send_json(403, None, {})
                headers = fake._ratelimit_headers()
                if self.headers.get("Authorization") != f"Discogs token={fake.token}":
                    return self.send_json(401, {"message": "You must authenticate to access this resource."}, headers)
                injected = fake._injected_failure(parts.path)
                if injected == 429:
                    return self.send_json(429, {"message": "You are making requests too quickly."}, headers)
                if injected is not None:
                    return self.send_json(injected, {"message": "Something went wrong."}, headers)
                status, body = fake.route(parts.path, query)
                self.send_json(status, body, headers)

        return Handler
