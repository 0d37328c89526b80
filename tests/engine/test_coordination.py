"""flock primitives: exclusion across threads and processes, slots, host pacing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from cache_engine.coordination import FileLock, HostPacer, KeyedLocks, Slots
from cache_engine.errors import CacheTimeout
from tests.support.paths import ROOT


def _hold_in_subprocess(code: str) -> subprocess.Popen:
    """Run ``code`` in a child that prints 'ready' once it holds what it takes."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_file_lock_excludes_a_second_descriptor_in_the_same_process(tmp_path):
    first, second = FileLock(tmp_path / "a.lock"), FileLock(tmp_path / "a.lock")
    assert first.acquire(timeout=0)
    assert not second.acquire(timeout=0.05)
    first.release()
    assert second.acquire(timeout=0)
    second.release()


def test_file_lock_excludes_threads(tmp_path):
    inside, overlaps = [0], []
    guard = threading.Lock()

    def worker():
        for _ in range(50):
            with FileLock(tmp_path / "t.lock"):
                with guard:
                    inside[0] += 1
                    overlaps.append(inside[0])
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(overlaps) == 1 and len(overlaps) == 200


def test_file_lock_excludes_another_process_and_frees_when_it_is_killed(tmp_path):
    path = tmp_path / "p.lock"
    proc = _hold_in_subprocess(
        "import sys, time; from cache_engine.coordination import FileLock\n"
        f"l = FileLock({str(path)!r}); l.acquire(); print('ready', flush=True); time.sleep(60)"
    )
    try:
        assert not FileLock(path).acquire(timeout=0.1)
    finally:
        proc.kill()
        proc.wait()
    lock = FileLock(path)
    assert lock.acquire(timeout=5)
    lock.release()


def test_file_lock_is_not_reentrant(tmp_path):
    lock = FileLock(tmp_path / "r.lock")
    with lock:
        with pytest.raises(RuntimeError):
            lock.acquire(0)


def test_keyed_locks_map_a_key_to_one_slot_and_refuse_non_hex(tmp_path):
    locks = KeyedLocks(tmp_path / "locks", slots=16)
    key = "ab" * 32
    assert locks.lock(key).path == locks.lock(key).path
    with locks.lock(key):
        assert not locks.lock(key).acquire(timeout=0)
    with pytest.raises(ValueError):
        locks.lock("../../etc/passwd")
    assert not list((tmp_path / "locks").glob("*etc*"))


def test_slots_bound_holders_across_processes(tmp_path):
    slots = Slots(tmp_path, "downloads", 2)
    proc = _hold_in_subprocess(
        "import time; from cache_engine.coordination import Slots\n"
        f"s = Slots({str(tmp_path)!r}, 'downloads', 2)\n"
        "with s.acquire(5):\n    print('ready', flush=True); time.sleep(60)"
    )
    try:
        with slots.acquire(timeout=1) as number:
            assert number in (0, 1)
            with pytest.raises(CacheTimeout):
                with slots.acquire(timeout=0.1):
                    pass
    finally:
        proc.kill()
        proc.wait()
    with slots.acquire(timeout=1), slots.acquire(timeout=1):
        pass


def test_slot_names_cannot_leave_the_lock_folder(tmp_path):
    with pytest.raises(ValueError):
        Slots(tmp_path, "../x", 1)


def test_host_pacer_reserves_spaced_turns_across_processes(tmp_path):
    pacer = HostPacer(tmp_path)
    code = (
        "import sys, time; from cache_engine.coordination import HostPacer\n"
        f"print(HostPacer({str(tmp_path)!r}).reserve('img.discogs.com', 10.0))"
    )
    waits = [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    waits.append(pacer.reserve("IMG.discogs.com", 10.0))
    # each caller got the next 10 s turn (processes start at different times: subtract their gaps)
    assert waits[0] == 0.0
    for earlier, later in zip(waits, waits[1:]):
        assert 5.0 < later - earlier <= 10.0
    assert pacer.reserve("other.example", 10.0) == 0.0
    assert all("discogs" not in p.name for p in tmp_path.iterdir())


def test_host_pacer_refuses_a_turn_beyond_the_deadline_without_reserving(tmp_path):
    pacer = HostPacer(tmp_path)
    pacer.reserve("h", 30.0)
    with pytest.raises(CacheTimeout):
        pacer.wait_turn("h", 30.0, deadline=time.monotonic() + 1)
    assert 25.0 < pacer.reserve("h", 30.0) <= 30.0  # the refused call took no turn


def test_host_pacer_wait_turn_sleeps_until_the_turn(tmp_path):
    pacer = HostPacer(tmp_path)
    pacer.wait_turn("h", 0.2)
    start = time.monotonic()
    pacer.wait_turn("h", 0.2)
    assert time.monotonic() - start >= 0.1
