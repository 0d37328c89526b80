"""A separate process for the job tests: ``python job_worker.py <json>``.

The JSON names the data directory, the settings and an action:

- ``submit``: queue a preload job over ``urls``, print its id, exit.
- ``status``: print the JSON status of ``job_id``.
- ``run``: start a runner (lease ``lease_seconds``, one item per batch), print
  ``running``, and work until killed or stdin closes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from cache_engine.jobs import JobQueue  # noqa: E402
from image_cache import ImageCache  # noqa: E402


def main(job: dict) -> None:
    settings = config.load(environ={}, DATA_DIR=Path(job["data_dir"]), **job.get("settings", {}))
    with ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings) as cache:
        queue = JobQueue(cache, lease_seconds=job.get("lease_seconds", 60), poll_seconds=0.05, batch_size=1)
        if job["action"] == "submit":
            print(queue.submit("preload", job["urls"]), flush=True)
        elif job["action"] == "status":
            print(json.dumps(queue.status(job["job_id"])), flush=True)
        elif job["action"] == "run":
            queue.start()
            print("running", flush=True)
            sys.stdin.read()
            queue.stop()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
