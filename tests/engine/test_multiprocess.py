"""Several real processes sharing one cache directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.caches import CACHE_SETTINGS, disk_bytes
from tests.support.images import jpeg_bytes

WORKER = Path(__file__).with_name("cache_worker.py")
pytestmark = pytest.mark.slow


def start(job: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "database is locked" not in err and "Traceback" not in err, err
    return json.loads(out.strip().splitlines()[-1])


def test_processes_hammering_cold_urls_cause_one_get_each(origin, tmp_path):
    urls = [origin.add_file(f"/h{i}.jpg", jpeg_bytes(900, 900, seed=i), delay=0.3) for i in range(6)]
    job = {
        "data_dir": str(tmp_path),
        "settings": CACHE_SETTINGS,
        "action": "hammer",
        "urls": urls,
        "threads_per_url": 2,
    }
    procs = [start(job) for _ in range(4)]
    results = [finish(p) for p in procs]
    assert all(all(r.values()) and len(r) == 6 for r in results)
    assert [origin.hits(f"/h{i}.jpg") for i in range(6)] == [1] * 6


def test_download_bound_holds_across_processes(origin, tmp_path):
    in_flight, peak, lock = [0], [0], threading.Lock()
    body = jpeg_bytes(200, 200)

    def counted(handler, attempt):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.25)
        with lock:
            in_flight[0] -= 1
        handler.send_body(200, body, "image/jpeg")

    urls = [origin.add_route(f"/d{i}.jpg", counted) for i in range(12)]
    settings = {**CACHE_SETTINGS, "MAX_CONCURRENT_DOWNLOADS": 2}
    procs = [
        start({"data_dir": str(tmp_path), "settings": settings, "action": "preload", "urls": part})
        for part in (urls[:6], urls[6:])
    ]
    results = [finish(p) for p in procs]
    assert all(all(r.values()) for r in results)
    assert peak[0] == 2  # both processes downloaded, never more than two at a time


def test_a_caller_without_a_wait_waits_for_another_processs_slow_download(origin, tmp_path, make_cache):
    url = origin.add_file("/slow-elsewhere.jpg", jpeg_bytes(300, 300), delay=1.5)
    producer = start({"data_dir": str(tmp_path), "settings": CACHE_SETTINGS, "action": "get", "urls": [url]})
    while origin.hits("/slow-elsewhere.jpg") == 0:
        time.sleep(0.01)
    cache = make_cache(ON_DEMAND_WAIT_SECONDS=0.05)  # what a request would wait: far less than the download
    assert cache.get_image(url, "detail") is not None
    assert finish(producer) == {url: True}
    assert origin.hits("/slow-elsewhere.jpg") == 1


def test_stats_are_aggregated_across_processes(origin, tmp_path, make_cache):
    url = origin.add_file("/agg.jpg", jpeg_bytes(300, 300))
    job = {"data_dir": str(tmp_path), "settings": CACHE_SETTINGS, "action": "get", "urls": [url], "repeat": 3}
    finish(start(job))
    finish(start(job))
    stats = make_cache().get_cache_stats()
    # 6 look-ups in two processes: one miss, then five hits
    assert (stats["hits"], stats["misses"], stats["downloads"]) == (5, 1, 1)
    assert stats["hit_rate"] == pytest.approx(83.33)


@pytest.mark.parametrize("stage", ["before_place", "after_place"])
def test_sigkill_mid_write_leaves_nothing_servable_and_reconcile_repairs(origin, tmp_path, make_cache, stage):
    url = origin.add_file("/k.jpg", jpeg_bytes(800, 800))
    proc = start(
        {"data_dir": str(tmp_path), "settings": CACHE_SETTINGS, "action": "get", "urls": [url], "pause_at": stage}
    )
    assert proc.stdout.readline().strip() == "paused"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = make_cache()
    assert cache.lookup(url, "thumbnails") is None  # the killed transaction never committed
    final = cache.path_for(cache.key_for(url), "thumbnails")
    temps = list(cache.temp_dir.iterdir())
    if stage == "before_place":
        assert not final.exists() and len(temps) == 1  # only a temp file, never a final name
    else:
        assert final.exists() and final.stat().st_size > 0  # complete (renamed), but without a row
    for temp in temps:
        os.utime(temp, (time.time() - 3600,) * 2)
    report = cache.reconcile()
    assert report == {
        "files_removed": int(stage == "after_place"),
        "rows_removed": 0,
        "temp_files_removed": int(stage == "before_place"),
    }
    assert disk_bytes(cache) == cache.get_cache_stats()["total_size_bytes"] == 0
    assert list(cache.temp_dir.iterdir()) == []
    assert cache.get_image(url, "thumbnails")  # the lock died with the process
