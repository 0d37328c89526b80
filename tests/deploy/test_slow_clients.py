"""gunicorn.conf.py's worker against slow clients: the site keeps answering everyone else.

Real gunicorn with the project's config and two workers, the demo collection
with a warm cache, and 50 connections each sending a header line every
couple of seconds ("slow loris"). gunicorn's plain sync worker blocks on the
first of them, so these tests fail with it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import config
from gunicorn_worker import MAX_HEAD_BYTES
from tests.support.demo_site import prepare_demo_site
from tests.support.servers import GunicornServer, http_get
from tests.support.slow_clients import SlowClients
from vinylvault import db
from vinylvault.access import auth

SLOW_CLIENTS = 50
DRIP_SECONDS = 2.0
#: Long enough that no slow client is timed out while a test looks at them.
PATIENT = {"VINYL_VAULT_REQUEST_HEAD_TIMEOUT_SECONDS": "120"}


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """A data directory with the demo collection and every cover cached; the album titles, an API token."""
    data_dir = tmp_path_factory.mktemp("slow") / "data"
    albums = prepare_demo_site(data_dir, "slow-clients-password")
    conn = db.connect(config.load(DATA_DIR=data_dir).DATABASE_PATH)
    try:
        token = auth.create_api_token(conn, "slow-clients")
    finally:
        conn.close()
    return data_dir, [album.title for album in albums], token


@pytest.fixture
def start_server(
    demo_data: tuple[Path, list[str], str], tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], GunicornServer]]:
    """Start gunicorn with the project's config (two workers) over the demo data, plus ``env``."""
    with contextlib.ExitStack() as stack:

        def start(env: dict[str, str]) -> GunicornServer:
            full_env = {"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", **env}
            return stack.enter_context(
                GunicornServer(demo_data[0], log_path=tmp_path / "gunicorn.log", workers=2, env=full_env)
            )

        yield start


def raw_exchange(port: int, payload: bytes, timeout: float = 10.0) -> bytes:
    """Send ``payload`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


pytestmark = pytest.mark.slow


def test_health_and_grid_answer_while_50_slow_clients_are_connected(start_server, demo_data):
    server = start_server(PATIENT)
    with SlowClients(server.port, count=SLOW_CLIENTS, interval=DRIP_SECONDS) as slow:
        while slow.lines_sent < 1:  # every slow client is mid-head, and has sent more since
            time.sleep(0.1)

        status, _, body = http_get(server.url("/health"), timeout=10)
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        status, _, body = http_get(server.url("/"), timeout=10)
        assert status == 200
        assert demo_data[1][0].encode() in body

        assert slow.still_waiting() == SLOW_CLIENTS


def test_health_answers_while_50_clients_send_a_form_body_slowly(start_server):
    server = start_server(PATIENT)
    with SlowClients(server.port, count=SLOW_CLIENTS, interval=DRIP_SECONDS, path="/login", body=True) as slow:
        while slow.lines_sent < 1:
            time.sleep(0.1)

        status, _, body = http_get(server.url("/health"), timeout=10)
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        assert slow.still_waiting() == SLOW_CLIENTS


def test_a_small_body_sent_slowly_reaches_the_app_whole(start_server, demo_data):
    server = start_server(PATIENT)
    url = "ftp://covers.example/sleeve.jpg"  # refused by scheme: the answer names it
    body = json.dumps({"urls": [url]}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/cache/preload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (demo_data[2].encode(), len(body))
        )
        for start in range(0, len(body), 8):
            time.sleep(0.2)
            sock.sendall(body[start : start + 8])
        answer = sock.makefile("rb").read()

    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(payload)["error"] == "no_acceptable_urls"
    assert [item["url"] for item in json.loads(payload)["refused"]] == [url]


def test_a_slow_head_is_served_once_it_is_complete(start_server):
    server = start_server(PATIENT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for line in (b"GET /health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"Accept: application/json\r\n"):
            sock.sendall(line)
            time.sleep(0.5)
        sock.sendall(b"\r\n")
        answer = sock.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["status"] == "ok"


def test_a_head_not_complete_in_time_is_answered_408(start_server):
    server = start_server({"VINYL_VAULT_REQUEST_HEAD_TIMEOUT_SECONDS": "1"})
    answer = raw_exchange(server.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert "Refused a request from 127.0.0.1: request not complete after 1 s" in server.log_text()
    assert http_get(server.url("/health"))[0] == 200


def test_a_head_larger_than_the_limit_is_answered_431(start_server):
    server = start_server(PATIENT)
    huge = b"GET /health HTTP/1.1\r\nX-Padding: " + b"a" * MAX_HEAD_BYTES

    answer = raw_exchange(server.port, huge)

    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert f"request head larger than {MAX_HEAD_BYTES} bytes" in server.log_text()
    assert http_get(server.url("/health"))[0] == 200


def test_sigterm_stops_promptly_with_slow_clients_connected(start_server):
    server = start_server(PATIENT)
    with SlowClients(server.port, count=SLOW_CLIENTS, interval=DRIP_SECONDS):
        assert http_get(server.url("/health"))[0] == 200

        assert server.stop(signal.SIGTERM, timeout=15) == 0

    log = server.log_text()
    assert log.count("Worker exiting") == 2
    assert "Traceback" not in log
