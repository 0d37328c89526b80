"""gunicorn.conf.py running the real app: two workers, graceful stop, recycling, batched state flushed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import config
from cache_engine.index import CacheIndex
from tests.support.demo_site import cache_local_cover
from tests.support.servers import GunicornServer, http_get

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


def test_max_requests_recycles_the_worker_and_flushes_its_hits(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = cache_local_cover(data_dir, "blue", (30, 60, 160))
    before = index_entry(data_dir, key)
    env = {"VINYL_VAULT_ACCESS_FLUSH_INTERVAL_SECONDS": "3600", "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
           # gunicorn reads this over the config file: recycle after a few requests.
           "GUNICORN_CMD_ARGS": f"--max-requests {RECYCLE_AFTER} --max-requests-jitter 0"}
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
