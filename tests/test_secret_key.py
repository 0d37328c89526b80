"""The session key is created once, atomically, even when workers start together."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import config
from vinylvault import _secret_key


def _read_key(data_dir: str, barrier, results) -> None:
    settings = config.load({}, DATA_DIR=Path(data_dir))
    barrier.wait()  # then nothing but the key: the workers really race
    results.put(_secret_key(settings))


def test_workers_starting_together_agree_on_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(12), context.Queue()
    workers = [context.Process(target=_read_key, args=(str(tmp_path), barrier, results)) for _ in range(12)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    keys = {results.get(timeout=5) for _ in workers}
    assert len(keys) == 1 and len(keys.pop()) == 64
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no candidate left behind


def test_a_configured_key_wins(tmp_path):
    assert _secret_key(config.load({}, DATA_DIR=tmp_path, SECRET_KEY="from-env")) == "from-env"
    assert not (tmp_path / "secret_key").exists()
