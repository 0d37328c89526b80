"""cache_engine.jobs: persistent jobs shared by processes, resumed after a worker dies."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

import config
from cache_engine.jobs import KEEP_FINISHED_SECONDS, MAX_ERRORS, JobError, JobQueue
from image_cache import ImageCache
from tests.support.cache_api import serve_covers
from tests.support.images import jpeg_bytes
from tests.support.origin import Origin

WORKER = Path(__file__).with_name("job_worker.py")
SETTINGS = {
    "ALLOW_PRIVATE_SOURCES": True,
    "HOST_MIN_INTERVAL_SECONDS": 0.0,
    "FETCH_RETRIES": 0,
    "NEGATIVE_CACHE_MIN_SECONDS": 60.0,
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_queue(data_dir: Path) -> Iterator[Callable[..., JobQueue]]:
    """``make_queue(**kwargs)``: a JobQueue over a real ImageCache on ``data_dir``; stopped afterwards."""
    made: list[tuple[JobQueue, ImageCache]] = []

    def factory(**kwargs: Any) -> JobQueue:
        settings = config.load(environ={}, DATA_DIR=data_dir, **SETTINGS)
        cache = ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings)
        queue = JobQueue(cache, **{"poll_seconds": 0.05, **kwargs})
        made.append((queue, cache))
        return queue

    yield factory
    for queue, cache in made:
        queue.stop()
        cache.close()


def _worker(data_dir: Path, **job: Any) -> subprocess.Popen:
    payload = json.dumps({"data_dir": str(data_dir), "settings": SETTINGS, **job})
    return subprocess.Popen(
        [sys.executable, str(WORKER), payload], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _wait(queue: JobQueue, job_id: str, until: Callable[[dict], bool], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = queue.status(job_id)
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached the expected state: {status}")


def _ended(status: dict) -> bool:
    return status["state"] in ("done", "failed", "cancelled")


def test_submit_rejects_unknown_kinds_and_empty_jobs(make_queue):
    queue = make_queue()
    with pytest.raises(JobError):
        queue.submit("mine_bitcoin", ["http://example.com/a.jpg"])
    with pytest.raises(JobError):
        queue.submit("preload", [])
    assert queue.status("0" * 32) is None


def test_job_submitted_here_is_run_and_seen_by_another_process(make_queue, data_dir, origin):
    urls = serve_covers(origin, 3)
    queue = make_queue()
    job_id = queue.submit("preload", urls)
    queue.start()
    final = _wait(queue, job_id, _ended)
    assert (final["state"], final["done"], final["total"]) == ("done", 3, 3)
    other = _worker(data_dir, action="status", job_id=job_id)
    out, _ = other.communicate(timeout=60)
    seen = json.loads(out)
    assert (seen["state"], seen["done"], seen["failed"], seen["total"]) == ("done", 3, 0, 3)


def test_job_submitted_by_another_process_runs_here(make_queue, data_dir, origin):
    urls = serve_covers(origin, 2)
    queue = make_queue()
    other = _worker(data_dir, action="submit", urls=urls)
    out, _ = other.communicate(timeout=60)
    job_id = out.strip()
    assert queue.status(job_id)["state"] == "queued"
    queue.start()
    assert _wait(queue, job_id, _ended)["done"] == 2


def test_job_resumes_after_its_worker_is_killed(make_queue, data_dir, origin: Origin):
    fast = serve_covers(origin, 3)
    released = threading.Event()
    body = jpeg_bytes(320, 320, seed=99)

    def slow_first_time(handler, attempt: int) -> None:
        if attempt == 1:  # the first worker hangs here until it is killed
            released.wait(30)
        handler.send_body(200, body, "image/jpeg")

    slow = origin.add_route("/slow.jpg", slow_first_time)
    queue = make_queue(lease_seconds=1.0)
    job_id = queue.submit("preload", fast + [slow])

    worker = _worker(data_dir, action="run", lease_seconds=1.0)
    try:
        assert worker.stdout.readline().strip() == "running"
        _wait(queue, job_id, lambda s: s["done"] == 3)
        deadline = time.monotonic() + 30
        while origin.hits("/slow.jpg") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert origin.hits("/slow.jpg") == 1
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        released.set()
    # Its lease still stands, but its process is gone: the status says so.
    assert queue.status(job_id)["state"] == "resuming"

    # Forget the finished items' images: if the resumed job redid them, the origin would see them again.
    for url in fast:
        queue.cache.remove_source(url)
    queue.start()
    final = _wait(queue, job_id, _ended)
    assert (final["state"], final["done"], final["failed"], final["total"]) == ("done", 4, 0, 4)
    assert [origin.hits(urlsplit(url).path) for url in fast] == [1, 1, 1]
    assert origin.hits("/slow.jpg") == 2
    assert queue.cache.lookup(slow, "detail") is not None


def test_a_killed_runners_job_is_resumed_long_before_its_lease_ends(make_queue, data_dir, origin: Origin):
    """Within one poll, not the lease: the runner's process on this host is checked."""
    gate = threading.Event()
    body = jpeg_bytes(200, 200, seed=7)

    def hang_first_time(handler, attempt: int) -> None:
        if attempt == 1:
            gate.wait(30)
        handler.send_body(200, body, "image/jpeg")

    url = origin.add_route("/hang.jpg", hang_first_time)
    queue = make_queue(lease_seconds=3600.0)
    job_id = queue.submit("preload", [url])
    worker = _worker(data_dir, action="run", lease_seconds=3600.0)
    try:
        assert worker.stdout.readline().strip() == "running"
        _wait(queue, job_id, lambda s: s["state"] == "running" and origin.hits("/hang.jpg") == 1)
        assert queue.run_once() is None  # a live runner's job is left alone
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        gate.set()
    assert queue.status(job_id)["state"] == "resuming"
    queue.start()
    final = _wait(queue, job_id, _ended)  # at most 60 s here, against a lease of an hour
    assert (final["state"], final["done"], final["total"]) == ("done", 1, 1)
    assert origin.hits("/hang.jpg") == 2


def test_a_runner_name_reused_by_a_new_process_is_not_taken_for_alive(make_queue):
    from cache_engine import jobs

    queue = make_queue()
    host, pid, started, tag = queue.owner.rsplit(":", 3)
    assert started != "-" and not jobs._runner_dead_here(queue.owner)
    assert jobs._runner_dead_here(f"{host}:{pid}:{int(started) - 1}:{tag}")  # same pid, another process
    assert jobs._runner_dead_here(f"{host}:999999999:{started}:{tag}")
    assert not jobs._runner_dead_here(f"elsewhere.example:{pid}:0:{tag}")  # only its lease can tell


def test_stopping_a_runner_hands_its_job_back(make_queue, origin: Origin):
    gate = threading.Event()
    body = jpeg_bytes(200, 200, seed=5)

    def gated(handler, attempt: int) -> None:
        gate.wait(30)
        handler.send_body(200, body, "image/jpeg")

    urls = [origin.add_route(f"/gated/{n}.jpg", gated) for n in range(3)]
    first = make_queue(batch_size=1)
    job_id = first.submit("preload", urls)
    first.start()
    _wait(first, job_id, lambda s: s["state"] == "running")
    stopper = threading.Thread(target=first.stop)
    stopper.start()
    gate.set()
    stopper.join(30)
    assert first.status(job_id)["state"] in ("queued", "done")
    second = make_queue()
    second.start()
    final = _wait(second, job_id, _ended)
    assert (final["done"], final["total"]) == (3, 3)
    assert all(origin.hits(urlsplit(url).path) == 1 for url in urls)


def test_cancel_stops_a_queued_job(make_queue, origin):
    queue = make_queue()
    first, second = serve_covers(origin, 2)
    job_id = queue.submit("preload", [first])
    assert queue.cancel(job_id) is True
    assert queue.cancel(job_id) is False
    later = queue.submit("preload", [second])
    queue.start()
    # Jobs are claimed oldest first: once the later one is done, the cancelled one was passed over.
    assert _wait(queue, later, _ended)["state"] == "done"
    assert queue.status(job_id)["state"] == "cancelled"
    assert origin.hits(urlsplit(first).path) == 0


def test_errors_are_capped_but_counters_stay_exact(make_queue, origin):
    urls = [origin.add_status(f"/missing/{n}.jpg", 404) for n in range(MAX_ERRORS + 5)]
    queue = make_queue()
    job_id = queue.submit("preload", urls)
    queue.start()
    final = _wait(queue, job_id, _ended)
    assert (final["state"], final["failed"], final["done"]) == ("failed", MAX_ERRORS + 5, 0)
    assert len(final["errors"]) == MAX_ERRORS
    assert {e["reason"] for e in final["errors"]} == {"http_404"}


def test_jobs_ended_long_ago_are_pruned_on_submit(make_queue, origin):
    queue = make_queue()
    old = queue.submit("preload", serve_covers(origin, 1))
    queue.cancel(old)
    with queue.index.write() as conn:
        conn.execute("UPDATE jobs SET finished_at = finished_at - ? WHERE id = ?", (KEEP_FINISHED_SECONDS + 1, old))
    recent = queue.submit("preload", serve_covers(origin, 1, prefix="/other"))
    assert queue.status(old) is None and queue.status(recent)["state"] == "queued"
    assert queue.index.conn.execute("SELECT count(*) FROM job_items WHERE job_id = ?", (old,)).fetchone()[0] == 0
