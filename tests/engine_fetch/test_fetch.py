"""Fetcher against the real misbehaving origin: statuses, caps, deadline, retries, redirects, pacing."""

from __future__ import annotations

import logging
import socket
import tracemalloc
from email.utils import formatdate
from pathlib import Path

import pytest

import config
from cache_engine import fetch as fetch_module
from cache_engine.coordination import HostPacer
from cache_engine.errors import (
    DownloadTimeout,
    FetchFailed,
    NotAnImage,
    RemoteStatusError,
    TooLarge,
    TooManyRedirects,
    UnsafeURL,
)
from cache_engine.fetch import FetchPolicy
from tests.support.fetching import USER_AGENT

CAP = 1024 * 1024


class RecordingPacer:
    """A pacer that only records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float | None]] = []

    def wait_turn(self, host: str, min_interval: float, deadline: float | None = None) -> None:
        self.calls.append((host, min_interval, deadline))


@pytest.fixture
def image(corpus_dir: Path) -> bytes:
    return (corpus_dir / "hopper.jpg").read_bytes()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records the fetcher's back-off sleeps (and skips them)."""
    recorded: list[float] = []
    monkeypatch.setattr(fetch_module.time, "sleep", recorded.append)
    return recorded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- plain downloads ---------------------------------------------------------
def test_downloads_image_with_headers(origin, make_fetcher, image):
    url = origin.add_file("/a.jpg", image)
    result = make_fetcher().fetch(url)
    assert result.content == image
    assert (result.url, result.status, result.content_type) == (url, 200, "image/jpeg")
    request = origin.requests[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "image/*"
    assert origin.hits("/a.jpg") == 1


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "image/webp; charset=binary"])
def test_accepts_binary_or_missing_content_type(origin, make_fetcher, image, content_type):
    result = make_fetcher().fetch(origin.add_file("/a", image, content_type=content_type))
    assert result.content == image


def test_serves_corpus_files(origin, make_fetcher, corpus_dir):
    urls = origin.add_directory("/corpus", corpus_dir)
    fetcher = make_fetcher(max_bytes=20 * CAP)
    for name in ("hopper.jpg", "apng_delay.png"):
        assert fetcher.fetch(urls[name]).content == (corpus_dir / name).read_bytes()


# -- statuses and retries ------------------------------------------------------
def test_404_fails_at_once(origin, make_fetcher):
    url = origin.add_status("/missing", 404)
    with pytest.raises(RemoteStatusError) as info:
        make_fetcher().fetch(url)
    assert (info.value.status, info.value.reason) == (404, "http_404")
    assert origin.hits("/missing") == 1


def test_503_retried_then_succeeds(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/flaky", image, failures=2, status=503)
    assert make_fetcher(retries=3).fetch(url).content == image
    assert origin.hits("/flaky") == 3
    assert len(sleeps) == 2


def test_500_retries_exhausted(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/down", image, failures=10, status=500)
    with pytest.raises(RemoteStatusError) as info:
        make_fetcher(retries=2).fetch(url)
    assert info.value.status == 500
    assert origin.hits("/down") == 3


def test_backoff_grows_with_full_jitter(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/down", image, failures=10, status=502)
    with pytest.raises(RemoteStatusError):
        make_fetcher(retries=4, backoff_base=1.0, backoff_max=4.0).fetch(url)
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(4.0, 2**attempt)


def test_429_retry_after_seconds_honoured(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/busy", image, failures=2, status=429, retry_after="3")
    assert make_fetcher().fetch(url).content == image
    assert origin.hits("/busy") == 3
    assert sleeps == [3.0, 3.0]


def test_429_retry_after_beyond_deadline_gives_up_at_once(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/busy", image, failures=1, status=429, retry_after="3600")
    with pytest.raises(RemoteStatusError) as info:
        make_fetcher(deadline=5.0).fetch(url)
    assert info.value.status == 429
    assert origin.hits("/busy") == 1
    assert sleeps == []


def test_429_retry_after_http_date(origin, make_fetcher, image, sleeps):
    url = origin.add_flaky("/busy", image, failures=1, status=429, retry_after=formatdate(usegmt=True))
    assert make_fetcher().fetch(url).content == image
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1.0

    far = origin.add_flaky("/later", image, failures=1, status=429, retry_after="Wed, 01 Jan 2098 00:00:00 GMT")
    with pytest.raises(RemoteStatusError):
        make_fetcher().fetch(far)
    assert origin.hits("/later") == 1


def test_connection_refused_retried_then_fails(make_fetcher, sleeps):
    with pytest.raises(FetchFailed) as info:
        make_fetcher(retries=2).fetch(f"http://127.0.0.1:{free_port()}/a.jpg")
    assert info.value.reason == "connection_error"
    assert len(sleeps) == 2


def test_read_timeout(origin, make_fetcher, image):
    url = origin.add_file("/stall", image, delay=3.0)
    with pytest.raises(DownloadTimeout) as info:
        make_fetcher(read_timeout=0.3, retries=0).fetch(url)
    assert info.value.reason == "read_timeout"


# -- content checks ----------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain", "application/json"])
def test_non_image_content_type_refused_before_body(origin, make_fetcher, content_type):
    # 50 MiB behind the header: only the content-type check can refuse it as NotAnImage.
    url = origin.add_oversize("/page", 50 * CAP, framing="chunked", content_type=content_type)
    with pytest.raises(NotAnImage) as info:
        make_fetcher(max_bytes=100 * CAP).fetch(url)
    assert info.value.reason == "bad_content_type"


def test_html_served_as_jpeg_refused(origin, make_fetcher):
    url = origin.add_html("/fake.jpg", content_type="image/jpeg")
    with pytest.raises(NotAnImage) as info:
        make_fetcher().fetch(url)
    assert info.value.reason == "html_body"


# -- byte cap and deadline ---------------------------------------------------------
def test_content_length_over_cap_refused(origin, make_fetcher):
    url = origin.add_oversize("/big", CAP + 1, framing="length")
    with pytest.raises(TooLarge):
        make_fetcher(max_bytes=CAP).fetch(url)


def test_body_exactly_at_cap_accepted(origin, make_fetcher):
    url = origin.add_file("/edge", b"\xff" * CAP)
    assert len(make_fetcher(max_bytes=CAP).fetch(url).content) == CAP


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_body_without_length_cut_at_cap(origin, make_fetcher, framing):
    url = origin.add_oversize("/big", 64 * CAP, framing=framing)
    fetcher = make_fetcher(max_bytes=CAP)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetcher.fetch(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The 64 MiB body never lands in memory: the read stops at the 1 MiB cap.
    assert peak < 4 * CAP


def test_slow_drip_cut_at_deadline(origin, make_fetcher):
    # 1 byte every 50 ms never trips the read timeout; only the deadline stops it.
    url = origin.add_slow_drip("/drip", size=100_000, chunk=1, interval=0.05)
    with pytest.raises(DownloadTimeout) as info:
        make_fetcher(deadline=1.0, read_timeout=5.0).fetch(url)
    assert info.value.reason == "deadline"


# -- redirects -------------------------------------------------------------------
def test_redirect_chain_of_five_followed(origin, make_fetcher, image):
    origin.add_file("/final.jpg", image)
    result = make_fetcher().fetch(origin.add_redirect_chain("/hop", 5, "/final.jpg"))
    assert result.content == image
    assert result.url == origin.url("/final.jpg")
    assert origin.hits("/final.jpg") == 1


def test_sixth_redirect_refused(origin, make_fetcher, image):
    origin.add_file("/final.jpg", image)
    with pytest.raises(TooManyRedirects) as info:
        make_fetcher().fetch(origin.add_redirect_chain("/hop", 6, "/final.jpg"))
    assert info.value.reason == "too_many_redirects"
    assert origin.hits("/final.jpg") == 0


def test_redirect_loop_refused(origin, make_fetcher):
    origin.add_redirect("/a", "/b")
    url = origin.add_redirect("/b", origin.url("/a"))
    with pytest.raises(TooManyRedirects) as info:
        make_fetcher().fetch(url)
    assert info.value.reason == "redirect_loop"
    assert origin.hits("/a") == 1 and origin.hits("/b") == 1


def test_redirect_without_location(origin, make_fetcher):
    url = origin.add_status("/odd", 302)
    with pytest.raises(FetchFailed) as info:
        make_fetcher().fetch(url)
    assert info.value.reason == "bad_redirect"


@pytest.mark.parametrize(
    "location, reason",
    [
        ("file:///etc/passwd", "bad_scheme"),
        ("http://user:secret@127.0.0.1/x", "credentials_in_url"),
    ],
)
def test_redirect_hop_validated(origin, make_fetcher, location, reason):
    url = origin.add_redirect("/r", location)
    with pytest.raises(UnsafeURL) as info:
        make_fetcher().fetch(url)
    assert info.value.reason == reason


# -- pacing ------------------------------------------------------------------------
def test_pacer_consulted_before_every_attempt_and_hop(origin, make_fetcher, image, sleeps):
    origin.add_flaky("/final.jpg", image, failures=1, status=503)
    pacer = RecordingPacer()
    make_fetcher(pacer=pacer, host_min_interval=1.5).fetch(origin.add_redirect_chain("/hop", 2, "/final.jpg"))
    # two redirect hops, then the failed attempt and its retry
    assert [(host, interval) for host, interval, _ in pacer.calls] == [("127.0.0.1", 1.5)] * 4
    assert all(deadline is not None for _, _, deadline in pacer.calls)


def test_pacer_turn_past_deadline_is_a_timeout(origin, make_fetcher, image, tmp_path):
    url = origin.add_file("/a.jpg", image)
    fetcher = make_fetcher(pacer=HostPacer(tmp_path), host_min_interval=3600.0, deadline=2.0)
    fetcher.fetch(url)
    with pytest.raises(DownloadTimeout) as info:
        fetcher.fetch(url)
    assert info.value.reason == "deadline"
    assert origin.hits("/a.jpg") == 1


# -- logging and settings -------------------------------------------------------------
def test_refusal_logged_on_one_line_without_query(origin, make_fetcher, caplog):
    origin.add_status("/private.jpg", 403)
    with caplog.at_level(logging.WARNING, logger="image_cache.fetch"):
        with pytest.raises(RemoteStatusError):
            make_fetcher().fetch(origin.url("/private.jpg?token=SECRET"))
    records = [r for r in caplog.records if r.name == "image_cache.fetch"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert "\n" not in line and "SECRET" not in line
    assert "/private.jpg" in line and "http_403" in line


def test_policy_from_settings():
    settings = config.load(
        environ={},
        USER_AGENT="UA/1",
        CONNECT_TIMEOUT_SECONDS=1.5,
        READ_TIMEOUT_SECONDS=2.5,
        DOWNLOAD_DEADLINE_SECONDS=9.0,
        MAX_DOWNLOAD_MB=2.0,
        MAX_REDIRECTS=3,
        FETCH_RETRIES=1,
        ALLOW_PRIVATE_SOURCES=True,
        SOURCE_HOST_ALLOWLIST=("i.discogs.com",),
        HOST_MIN_INTERVAL_SECONDS=0.5,
    )
    assert FetchPolicy.from_settings(settings) == FetchPolicy(
        user_agent="UA/1",
        connect_timeout=1.5,
        read_timeout=2.5,
        deadline=9.0,
        max_bytes=2 * CAP,
        max_redirects=3,
        retries=1,
        allow_private=True,
        host_allowlist=("i.discogs.com",),
        host_min_interval=0.5,
    )
