"""gunicorn.conf.py running the real app: two workers, graceful stop, recycling, batched state flushed."""

from __future__ import annotations

import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import config
from cache_engine.index import CacheIndex
from tests.support.demo_site import cache_local_cover
from tests.support.servers import ROOT, GunicornServer, app_environment, free_port, http_get
from vinylvault import db
from vinylvault.access import auth
from vinylvault.web import lan

HITS = 12
RECYCLE_AFTER = 3


def index_entry(data_dir: Path, key: str):
    settings = config.load(DATA_DIR=data_dir)
    index = CacheIndex(settings.CACHE_DATABASE_PATH, settings.COVERS_DIR)
    try:
        return index.get(key, "thumbnails")
    finally:
        index.close()


def test_two_workers_serve_and_flush_hits_on_sigterm(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = cache_local_cover(data_dir, "green", (30, 160, 60))
    before = index_entry(data_dir, key)
    # Flushing on a timer must not be what writes the hits down: only shutdown.
    env = {"VINYL_VAULT_ACCESS_FLUSH_INTERVAL_SECONDS": "3600", "VINYL_VAULT_DEMO_WHEN_EMPTY": "false"}
    server = GunicornServer(data_dir, log_path=tmp_path / "gunicorn.log", workers=2, env=env)
    with server:
        assert len(server.worker_pids()) == 2
        for _ in range(HITS):
            status, headers, _ = http_get(server.url(f"/cache/thumbnails/{key}.webp"))
            assert status == 200
            assert headers["Content-Type"] == "image/webp"
        assert index_entry(data_dir, key).hits == before.hits  # batched in the workers' memory

        assert server.stop(signal.SIGTERM) == 0

    after = index_entry(data_dir, key)
    assert after.hits == before.hits + HITS
    assert after.last_access > before.last_access
    log = server.log_text()
    assert log.count("Worker exiting") == 2
    assert "Shutting down" in log
    assert "Exception during worker exit" not in log


# --- what a new owner sees at start-up ------------------------------------------------

READY = "VinylVault is ready. Open it in a browser on this network:"


def wait_for_log(server: GunicornServer, text: str, timeout: float = 30.0) -> None:
    """Wait (not a timed assertion: the deadline only bounds a hang) until the log holds ``text``."""
    deadline = time.monotonic() + timeout
    while text not in server.log_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never logged:\n{server.log_text()}")
        time.sleep(0.05)


@pytest.mark.parametrize("password_set", [False, True], ids=["fresh install", "owner exists"])
def test_start_up_ends_with_the_address_to_open_and_the_next_step(tmp_path: Path, password_set: bool):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if password_set:
        db.initialize(data_dir / "vinylvault.db")
        conn = db.connect(data_dir / "vinylvault.db")
        auth.set_password(conn, "correct horse battery staple")
        conn.close()
    server = GunicornServer(
        data_dir, log_path=tmp_path / "gunicorn.log", workers=2, env={"VINYL_VAULT_DEMO_WHEN_EMPTY": "false"}
    )
    with server:
        wait_for_log(server, READY)
        assert server.stop(signal.SIGTERM) == 0
    lines = server.log_text().splitlines()
    assert lines.count(READY) == 1  # once, not once per worker
    ready = lines.index(READY)
    # After every worker has booted, before the shutdown.
    assert [i for i, line in enumerate(lines) if "Booting worker" in line][-1] < ready
    expected = [READY, f"    {server.base_url}"]
    if not password_set:
        expected.append(f"Next: choose the owner's password at {server.base_url}/setup")
    assert lines[ready : ready + len(expected) + 1] == expected + [lines[ready + len(expected)]]
    assert "Next: choose" not in lines[ready + len(expected)]


def test_with_https_the_start_up_lines_give_phones_the_https_addresses(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", "VINYL_VAULT_HTTPS_PORT": "8443"}
    with GunicornServer(data_dir, log_path=tmp_path / "gunicorn.log", workers=1, env=env) as server:
        wait_for_log(server, "Next: choose")
        lines = server.log_text().splitlines()
    ready = lines.index(READY)
    https = [f"    https://{name}:8443" for name in lan.lan_hosts()]
    assert lines[ready + 2 : ready + 4 + len(https)] == [
        f"Phones, to install it and use it offline (first trust this machine: {server.base_url}/secure):",
        *https,
        f"Next: choose the owner's password at {server.base_url}/setup",
    ]


def test_all_interfaces_are_shown_as_the_machines_lan_name_and_address():
    urls = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["site_urls"]("0.0.0.0", 8080)
    assert urls[0] == f"http://{socket.gethostname()}.local:8080"
    lan_addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    assert len(urls) == 2 and urls[1].removeprefix("http://").removesuffix(":8080") in lan_addresses


def start_gunicorn_on(data_dir: Path, bind: str) -> tuple[int, list[str]]:
    """Run gunicorn with the project's config on ``bind`` until it exits: (status, output lines)."""
    env = app_environment(data_dir, {"VINYL_VAULT_BIND": bind})
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "vinylvault:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, (result.stdout + result.stderr).splitlines()


def the_one_problem(output: list[str]) -> str:
    assert "Traceback" not in "\n".join(output) and "Retrying in 1 second" not in "\n".join(output)
    problems = [line for line in output if "Starting gunicorn" not in line]
    assert len(problems) == 1, output
    return problems[0]


def test_a_busy_port_is_one_line_naming_the_setting(tmp_path: Path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        status, output = start_gunicorn_on(tmp_path / "data", f"127.0.0.1:{port}")
    assert status == 2
    problem = the_one_problem(output)
    assert "Address already in use" not in problem
    assert problem.startswith(f"vinylvault: 127.0.0.1:{port} is already in use by another program")
    assert f"VINYL_VAULT_BIND=127.0.0.1:{port + 1}" in problem


def test_an_address_of_another_machine_is_one_line(tmp_path: Path):
    elsewhere = "203.0.113.254"  # TEST-NET-3, documentation only
    assert elsewhere not in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    status, output = start_gunicorn_on(tmp_path / "data", f"{elsewhere}:8080")
    assert status == 2
    assert the_one_problem(output).startswith(f"vinylvault: {elsewhere}:8080 is not an address of this machine")


def test_max_requests_recycles_the_worker_and_flushes_its_hits(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = cache_local_cover(data_dir, "blue", (30, 60, 160))
    before = index_entry(data_dir, key)
    env = {
        "VINYL_VAULT_ACCESS_FLUSH_INTERVAL_SECONDS": "3600",
        "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
        # gunicorn reads this over the config file: recycle after a few requests.
        "GUNICORN_CMD_ARGS": f"--max-requests {RECYCLE_AFTER} --max-requests-jitter 0",
    }
    server = GunicornServer(data_dir, log_path=tmp_path / "gunicorn.log", workers=1, env=env)
    with server:
        first_worker = server.worker_pids()
        for _ in range(RECYCLE_AFTER):
            assert http_get(server.url(f"/cache/thumbnails/{key}.webp"))[0] == 200
        deadline = time.monotonic() + 30
        while server.worker_pids() in ([], first_worker) and time.monotonic() < deadline:
            time.sleep(0.1)

        assert server.worker_pids() not in ([], first_worker)
        assert "Autorestarting worker after current request." in server.log_text()
        # The old worker's hits reached the index when it exited, not on a timer.
        assert index_entry(data_dir, key).hits > before.hits

        assert server.stop(signal.SIGTERM) == 0
    assert index_entry(data_dir, key).hits == before.hits + RECYCLE_AFTER
    assert "Exception during worker exit" not in server.log_text()
