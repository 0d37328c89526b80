"""gunicorn.conf.py running the real app: two workers, graceful stop, batched state flushed."""

from __future__ import annotations

import signal
from pathlib import Path

import config
from cache_engine.index import CacheIndex
from tests.support.demo_site import cache_local_cover
from tests.support.servers import GunicornServer, http_get

HITS = 12


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
