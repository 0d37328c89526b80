"""A child process that uploads one photo: ``python upload_worker.py <json>``.

The JSON names the data directory, the album, the image file to upload and
``pause_at``, one of :data:`STAGES` or null. At that stage the child prints
``paused <photo id>`` and sleeps, so the parent can SIGKILL it there. Without
a pause it prints one JSON line, ``{"photo_id": ...}``, once the upload is
committed.

It builds the store exactly as the app does (:func:`open_photo_cache` and
:class:`PhotoStore` over the same ``DATA_DIR``), so what a kill leaves behind
is what a killed gunicorn worker would leave.
"""

from __future__ import annotations

import io
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from cache_engine import files  # noqa: E402
from vinylvault import db  # noqa: E402
from vinylvault.photos.store import Photo, PhotoStore, Upload, open_photo_cache  # noqa: E402

#: Where an upload can be stopped, in the order it passes them.
STAGES = (
    "original_temp_written",  # the original's temp file is synced, not yet renamed
    "original_in_place",  # the original has its final name, nothing is converted yet
    "derivative_temp_written",  # the first derivative's temp file is synced, its index transaction open
    "derivative_placed",  # the first derivative has its final name, its row not committed
    "before_commit",  # derivatives stored, the photos row inserted but not committed
)
#: Longer than any test waits: the parent always kills the child first.
PAUSE_SECONDS = 120


class _PausingConnection:
    """A collection database connection that stops at its first ``COMMIT``."""

    def __init__(self, conn: sqlite3.Connection, pause: Callable[[], None]) -> None:
        self._conn = conn
        self._pause = pause

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self._pause()
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _install_pause(store: PhotoStore, stage: str, conn: sqlite3.Connection) -> Any:
    """Arrange for the upload through ``store`` to stop at ``stage``; return the connection to use."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    current: dict[str, Photo] = {}

    def pause() -> None:
        print(f"paused {current['photo'].id}", flush=True)
        time.sleep(PAUSE_SECONDS)

    store_files = store._store_files

    def remember_photo(photo: Photo, data: bytes, filename: str) -> None:
        current["photo"] = photo
        store_files(photo, data, filename)

    store._store_files = remember_photo
    if stage == "original_temp_written":
        # write_atomically looks write_synced_temp up in its module at each call.
        write_synced_temp = files.write_synced_temp

        def written_then_pause(temp_dir: Path, data: bytes, **options: Any) -> Path:
            temp = write_synced_temp(temp_dir, data, **options)
            if Path(temp_dir) == store.temp_dir:
                pause()
            return temp

        files.write_synced_temp = written_then_pause
    elif stage == "original_in_place":
        convert = store.cache.store_source_bytes

        def pause_then_convert(url: str, data: bytes) -> bool:
            pause()
            return convert(url, data)

        store.cache.store_source_bytes = pause_then_convert
    elif stage.startswith("derivative_"):
        add_entry = store.cache.index.add_entry

        def add_entry_with_pause(entry: Any, place_file: Callable[[], None], *limits: int) -> Any:
            # place() runs inside the index's write transaction: the rename, then the row.
            def place() -> None:
                if stage == "derivative_temp_written":
                    pause()
                place_file()
                pause()

            return add_entry(entry, place, *limits)

        store.cache.index.add_entry = add_entry_with_pause
    elif stage == "before_commit":
        return _PausingConnection(conn, pause)
    return conn


def main(job: dict[str, Any]) -> dict[str, Any]:
    settings = config.load(environ={}, DATA_DIR=Path(job["data_dir"]))
    cache = open_photo_cache(settings)
    store = PhotoStore(settings.PHOTOS_DIR, settings.DATABASE_PATH, cache, settings)
    conn = db.connect(settings.DATABASE_PATH)
    try:
        used = _install_pause(store, job["pause_at"], conn) if job.get("pause_at") else conn
        image = Path(job["image"])
        (photo,) = store.upload(
            used,
            job["album_id"],
            [Upload(image.name, io.BytesIO(image.read_bytes()))],
            visibility=job.get("visibility", "private"),
        )
    finally:
        conn.close()
        cache.close()
    return {"photo_id": photo.id}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
