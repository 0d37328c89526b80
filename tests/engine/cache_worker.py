"""A child process for the multi-process tests: ``python cache_worker.py <json>``.

The JSON names the data directory, settings, URLs and what to do with them;
the child prints one JSON line with its results. A ``pause_at`` stage makes
the child print ``paused`` and sleep at that point of a store, so the parent
can SIGKILL it there.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from cache_engine import index as index_module  # noqa: E402
from image_cache import ImageCache  # noqa: E402


def _pause_inside_add_entry(stage: str) -> None:
    """Make CacheIndex.add_entry stop (for a SIGKILL) before or after placing the file."""
    original = index_module.CacheIndex.add_entry

    def add_entry(self, entry, place_file, limit_bytes, low_water_bytes):
        def place():
            if stage == "before_place":
                print("paused", flush=True)
                time.sleep(60)
            place_file()
            if stage == "after_place":
                print("paused", flush=True)
                time.sleep(60)

        return original(self, entry, place, limit_bytes, low_water_bytes)

    index_module.CacheIndex.add_entry = add_entry


def main(job: dict) -> dict:
    settings = config.load(environ={}, DATA_DIR=Path(job["data_dir"]), **job.get("settings", {}))
    if job.get("pause_at"):
        _pause_inside_add_entry(job["pause_at"])
    cache = ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings)
    results: dict[str, object] = {}
    try:
        if job["action"] == "hammer":

            def worker(url: str) -> None:
                results[url] = cache.get_image(url, "thumbnails", wait=60) is not None

            threads = [
                threading.Thread(target=worker, args=(url,))
                for url in job["urls"]
                for _ in range(job.get("threads_per_url", 2))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elif job["action"] == "preload":
            results = cache.preload_images(job["urls"])
        elif job["action"] == "get":
            for _ in range(job.get("repeat", 1)):
                for url in job["urls"]:
                    results[url] = cache.get_image(url, "detail", wait=60) is not None
    finally:
        cache.close()
    return results


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
