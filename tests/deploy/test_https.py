"""deploy/vinylvault.conf's HTTPS, with a LAN certificate deploy/lan_tls.py made in a temporary folder:
the chain and names checked by Python's ssl against that authority, the authority's certificate offered
for download, covers still sent from disk with the app's headers, and plain HTTP still answering, with
the way to HTTPS on its pages rather than a redirect. Chromium over HTTPS: tests/browser/test_phones_offline.py."""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from pathlib import Path

import pytest

import config
from tests.deploy.test_nginx import _expected_headers, _header_values
from tests.support.servers import http_get
from vinylvault import db
from vinylvault.access import auth
from vinylvault.web import lan

LAN_HOST = "192.168.1.20"  # a Host header as a phone on the LAN sends it; nginx answers any


@pytest.fixture(scope="module")
def owned(stack):
    """The stack with an owner password set: its pages render instead of sending everyone to /setup."""
    conn = db.connect(config.load(DATA_DIR=stack.data_dir).DATABASE_PATH)
    try:
        auth.set_password(conn, "https-test-password")
    finally:
        conn.close()
    return stack


@pytest.fixture(scope="module")
def ca_cert(stack) -> Path:
    return stack.web.tls_dir / "ca.crt"


@pytest.fixture(scope="module")
def trusting(ca_cert) -> ssl.SSLContext:
    """A client that trusts the LAN authority only, as a phone that installed it (and no other root)."""
    return ssl.create_default_context(cafile=str(ca_cert))


def handshake(stack, context: ssl.SSLContext, server_name: str, alpn: list[str] | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", stack.web.https_port), timeout=10)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context.wrap_socket(raw, server_hostname=server_name)


def expected_names() -> set[tuple[str, str]]:
    names = set()
    for host in [*lan.certificate_hosts(), "127.0.0.1"]:
        try:
            names.add(("IP Address", str(ipaddress.ip_address(host))))
        except ValueError:
            names.add(("DNS", host))
    return names


def test_the_certificate_chains_to_the_lan_authority_for_every_name_of_this_machine(stack, trusting):
    for name in [*lan.certificate_hosts(), "127.0.0.1"]:
        with handshake(stack, trusting, name) as tls:
            cert = tls.getpeercert()
            assert set(cert["subjectAltName"]) == expected_names(), name
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            issuer = dict(part[0] for part in cert["issuer"])
            assert issuer["organizationName"] == "VinylVault"


def test_only_a_device_trusting_the_authority_accepts_it(stack, trusting):
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(stack, ssl.create_default_context(), "127.0.0.1")  # the system's roots only
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(stack, trusting, "example.com")  # a name it does not carry


def test_https_offers_http2(stack, ca_cert):
    # HTTP/2: a phone fetches a screen of covers over one connection.
    context = ssl.create_default_context(cafile=str(ca_cert))
    with handshake(stack, context, "127.0.0.1", alpn=["h2", "http/1.1"]) as tls:
        assert tls.selected_alpn_protocol() == "h2"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_authoritys_certificate_is_offered_for_download(stack, trusting, ca_cert, scheme):
    url = (stack.web.url if scheme == "http" else stack.web.https_url)("/vinylvault-ca.crt")
    status, headers, body = http_get(url, context=trusting)
    assert status == 200
    assert headers["Content-Type"] == "application/x-x509-ca-cert"
    assert headers["Cache-Control"] == "no-cache"
    assert body == ca_cert.read_bytes()
    assert b"PRIVATE KEY" not in body
    assert _header_values(url, context=trusting) == (200, _expected_headers())
    for private in ("/vinylvault-ca.key", "/ca.key", "/server.key", "/vinylvault-ca.crt/../ca.key"):
        status, _, body = http_get(url.replace("/vinylvault-ca.crt", private), context=trusting)
        assert status != 200 and b"PRIVATE KEY" not in body, private


def test_covers_are_still_sent_from_disk_over_https(own_stack):
    key = own_stack.cache_cover("green", (30, 160, 60))
    context = ssl.create_default_context(cafile=str(own_stack.web.tls_dir / "ca.crt"))
    own_stack.app.stop()  # only nginx can answer now
    url = own_stack.web.https_url(f"/cache/thumbnails/{key}.webp")
    status, headers, body = http_get(url, context=context)
    assert (status, body) == (200, own_stack.cover_path(key).read_bytes())
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert _header_values(url, context=context) == (200, _expected_headers())


def test_pages_over_https_carry_the_apps_headers_once(stack, trusting):
    assert _header_values(stack.web.https_url("/login"), context=trusting) == (200, _expected_headers())


def test_plain_http_keeps_working_and_shows_the_way_to_https(owned, trusting):
    status, _, body = http_get(owned.web.url("/login"), {"Host": LAN_HOST})
    assert status == 200  # never redirected: a phone that does not trust the authority yet keeps browsing
    assert b"data-https-invite" in body and b'href="/secure"' in body
    status, _, body = http_get(owned.web.url("/secure"), {"Host": LAN_HOST})
    assert status == 200
    page = body.decode()
    address = f"https://{LAN_HOST}:{owned.web.https_port}"
    assert re.search(rf'href="{re.escape(address)}/" data-secure-address', page)
    assert 'href="/vinylvault-ca.crt"' in page
    assert "Certificate Trust Settings" in page and "CA certificate" in page
    # Over HTTPS, nothing to invite to.
    status, _, body = http_get(owned.web.https_url("/login"), {"Host": LAN_HOST}, context=trusting)
    assert status == 200 and b"data-https-invite" not in body
