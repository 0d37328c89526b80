"""The SSRF guard: URL validation, the allowlist, and the address check at connect time."""

from __future__ import annotations

import ipaddress

import pytest

from cache_engine.errors import FetchFailed, UnsafeURL
from cache_engine.fetch import AddressGuard

PUBLIC_IP = "93.184.216.34"


def resolve_to(*addresses: str):
    """A resolver answering every name with ``addresses``."""
    return lambda host, port: list(addresses)


PRIVATE_URLS = [
    "http://127.0.0.1/a.jpg",
    "http://localhost/a.jpg",
    "http://[::1]/a.jpg",
    "http://0.0.0.0/a.jpg",
    "http://[::]/a.jpg",
    "http://10.1.2.3/a.jpg",
    "http://172.16.0.1/a.jpg",
    "http://172.31.255.255/a.jpg",
    "http://192.168.1.10/a.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/a.jpg",  # CGNAT shared address space
    "http://[::ffff:127.0.0.1]/a.jpg",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/a.jpg",  # mapped 169.254.169.254
    "http://[64:ff9b::7f00:1]/a.jpg",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/a.jpg",  # 6to4 of 127.0.0.1
    "http://2130706433/a.jpg",  # decimal 127.0.0.1
    "http://0x7f.1/a.jpg",  # hex + short form
    "http://0177.0.0.1/a.jpg",  # octal
    "http://0x7f000001/a.jpg",
    "http://127.1/a.jpg",
    "http://[fe80::1]/a.jpg",  # IPv6 link-local
    "http://[fc00::1]/a.jpg",  # IPv6 unique local
    "http://224.0.0.1/a.jpg",  # multicast
    "http://[ff02::1]/a.jpg",
    "http://240.0.0.1/a.jpg",  # reserved
    "http://255.255.255.255/a.jpg",
    "http://198.18.0.1/a.jpg",  # benchmarking network
    "http://127.0.0.1.:8080/a.jpg",  # trailing dot
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_refused(make_fetcher, url):
    with pytest.raises(UnsafeURL) as info:
        make_fetcher(allow_private=False).validate_url(url)
    assert info.value.reason == "private_address"


@pytest.mark.parametrize(
    "url, reason",
    [
        ("file:///etc/passwd", "bad_scheme"),
        ("ftp://example.com/a.jpg", "bad_scheme"),
        ("gopher://example.com:70/_x", "bad_scheme"),
        ("javascript:alert(1)", "bad_scheme"),
        ("data:image/png;base64,iVBORw0KGgo=", "bad_scheme"),
        ("//example.com/a.jpg", "bad_scheme"),
        ("http://user:pass@example.com/a.jpg", "credentials_in_url"),
        ("http://user@example.com/a.jpg", "credentials_in_url"),
        ("http://:@example.com/a.jpg", "credentials_in_url"),
        ("http://example.com/" + "a" * 3000, "url_too_long"),
        ("http:///a.jpg", "bad_host"),
        ("http://example.com:99999/a.jpg", "bad_url"),
        ("http://[::1/a.jpg", "bad_url"),
        ("http://example.com/a b.jpg", "bad_url"),
        ("http://example.com/a.jpg\r\nX-Injected: 1", "bad_url"),
    ],
)
def test_malformed_urls_refused(make_fetcher, url, reason):
    with pytest.raises(UnsafeURL) as info:
        make_fetcher(resolver=resolve_to(PUBLIC_IP)).validate_url(url)
    assert info.value.reason == reason


def test_public_url_normalized(make_fetcher):
    fetcher = make_fetcher(allow_private=False, resolver=resolve_to(PUBLIC_IP))
    assert fetcher.validate_url("HTTP://I.Discogs.COM:80/R-1.jpg?w=600#top") == "http://i.discogs.com/R-1.jpg?w=600"
    assert fetcher.validate_url("https://i.discogs.com:8443") == "https://i.discogs.com:8443/"
    assert fetcher.validate_url(f"http://{PUBLIC_IP}/x.jpg") == f"http://{PUBLIC_IP}/x.jpg"


def test_one_private_address_among_public_ones_refuses_the_host(make_fetcher):
    fetcher = make_fetcher(allow_private=False, resolver=resolve_to(PUBLIC_IP, "10.0.0.7"))
    with pytest.raises(UnsafeURL):
        fetcher.validate_url("http://mixed.test/a.jpg")


def test_unresolvable_host_left_to_the_connect_guard(make_fetcher):
    fetcher = make_fetcher(allow_private=False, resolver=resolve_to())
    assert fetcher.validate_url("http://nowhere.test/a.jpg") == "http://nowhere.test/a.jpg"
    with pytest.raises(FetchFailed) as info:
        fetcher.fetch("http://nowhere.test/a.jpg")
    assert info.value.reason == "connection_error"


def test_allow_private_lets_loopback_through(make_fetcher):
    assert make_fetcher(allow_private=True).validate_url("http://127.0.0.1:8080/a") == "http://127.0.0.1:8080/a"


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("i.discogs.com", True),
        ("I.DISCOGS.COM", True),
        ("img.discogs.com", False),
        ("example.org", True),
        ("a.b.example.org", True),
        ("badexample.org", False),
        ("example.org.evil.test", False),
    ],
)
def test_host_allowlist(make_fetcher, host, allowed):
    fetcher = make_fetcher(
        allow_private=False, resolver=resolve_to(PUBLIC_IP), host_allowlist=("i.discogs.com", ".example.org")
    )
    url = f"https://{host}/cover.jpg"
    if allowed:
        assert fetcher.validate_url(url) == f"https://{host.lower()}/cover.jpg"
    else:
        with pytest.raises(UnsafeURL) as info:
            fetcher.validate_url(url)
        assert info.value.reason == "host_not_allowed"


# -- the guard at connect time, against the real origin ------------------------------
def test_connects_to_the_resolved_address_keeping_the_host_name(origin, make_fetcher):
    origin.add_file("/a.jpg", b"\xff\xd8\xff")
    fetcher = make_fetcher(
        allow_private=False, extra_allowed_networks=("127.0.0.1/32",), resolver=resolve_to("127.0.0.1")
    )
    assert fetcher.fetch(origin.url("/a.jpg", host="public.test")).content == b"\xff\xd8\xff"
    assert origin.requests[0].headers["Host"] == f"public.test:{origin.port}"


def test_loopback_origin_refused_without_allow_private(origin, make_fetcher):
    url = origin.add_file("/a.jpg", b"\xff\xd8\xff")
    with pytest.raises(UnsafeURL):
        make_fetcher(allow_private=False).fetch(url)
    assert origin.requests == []


def test_dns_rebinding_caught_at_connect_time(origin, make_fetcher):
    """The name is public when validated, private when the socket opens: no request leaves."""
    origin.add_file("/a.jpg", b"\xff\xd8\xff")
    answers = iter(["127.0.0.1"])

    def rebinding(host, port):
        return [next(answers, "10.0.0.1")]

    fetcher = make_fetcher(allow_private=False, extra_allowed_networks=("127.0.0.1/32",), resolver=rebinding)
    with pytest.raises(UnsafeURL) as info:
        fetcher.fetch(origin.url("/a.jpg", host="rebind.test"))
    assert info.value.reason == "private_address"
    assert origin.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://0x0a000001/x",  # 10.0.0.1 in hex
    ],
)
def test_redirect_to_private_address_refused(origin, make_fetcher, location):
    origin.add_redirect("/cover.jpg", location)
    fetcher = make_fetcher(
        allow_private=False, extra_allowed_networks=("127.0.0.1/32",), resolver=resolve_to("127.0.0.1")
    )
    with pytest.raises(UnsafeURL) as info:
        fetcher.fetch(origin.url("/cover.jpg", host="public.test"))
    assert info.value.reason == "private_address"
    assert origin.hits("/cover.jpg") == 1


def test_redirect_to_host_outside_allowlist_refused(origin, make_fetcher):
    origin.add_redirect("/cover.jpg", "http://elsewhere.test/x.jpg")
    fetcher = make_fetcher(host_allowlist=("public.test",), resolver=resolve_to("127.0.0.1"))
    with pytest.raises(UnsafeURL) as info:
        fetcher.fetch(origin.url("/cover.jpg", host="public.test"))
    assert info.value.reason == "host_not_allowed"


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("100.127.255.255", False),
        ("::ffff:8.8.8.8", True),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::808:808", True),
        ("64:ff9b::a00:1", False),
    ],
)
def test_guard_address_table(address, public):
    assert AddressGuard().is_allowed(ipaddress.ip_address(address)) is public
