"""HTTPS through the guarded connections: the socket goes to the vetted address, TLS still checks the name."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from cache_engine.errors import FetchFailed
from tests.support.origin import Origin


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``public.test`` (its own CA)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=public.test",
            "-addext",
            "subjectAltName=DNS:public.test",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_origin(certificate: tuple[Path, Path]) -> Iterator[Origin]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with Origin(tls=context) as server:
        server.add_file("/a.jpg", b"\xff\xd8\xff")
        yield server


def tls_fetcher(make_fetcher, certificate):
    return make_fetcher(
        allow_private=False,
        extra_allowed_networks=("127.0.0.1/32",),
        resolver=lambda host, port: ["127.0.0.1"],
        ca_bundle=str(certificate[0]),
    )


def test_https_verified_against_the_host_name(tls_origin, make_fetcher, certificate):
    result = tls_fetcher(make_fetcher, certificate).fetch(tls_origin.url("/a.jpg", host="public.test"))
    assert result.content == b"\xff\xd8\xff"
    assert result.url.startswith("https://public.test:")


def test_https_certificate_for_another_name_refused(tls_origin, make_fetcher, certificate):
    with pytest.raises(FetchFailed) as info:
        tls_fetcher(make_fetcher, certificate).fetch(tls_origin.url("/a.jpg", host="other.test"))
    assert info.value.reason == "tls_error"
    assert tls_origin.requests == []
