"""A process SIGKILLed in the middle of a photo upload loses nothing and leaves nothing servable.

A real child process (upload_worker.py) uploads into the same DATA_DIR as the
app under test and is killed at each stage of :meth:`PhotoStore.upload`. The
parent then checks, over HTTP as owner and guest, that the photo does not
exist, that no final file name holds a partial file, that the album still
takes uploads, and that the image clean-up removes every leftover once it is
older than :data:`ORPHAN_GRACE_SECONDS` (younger ones may be an upload in
flight and are spared).
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from image_cache import LOCAL_PREFIX, key_for
from tests.photos.upload_worker import STAGES
from tests.support.images import image_bytes
from tests.support.photos import ALBUM, stored, upload_one
from vinylvault.photos.store import ORPHAN_GRACE_SECONDS, PHOTO_SIZE_TYPES

WORKER = Path(__file__).with_name("upload_worker.py")
#: Generous: the child imports Pillow and opens two databases before it gets there.
PAUSE_TIMEOUT_SECONDS = 30
pytestmark = pytest.mark.slow


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "sleeve.jpg"
    path.write_bytes(image_bytes(size=(900, 700), colour="maroon"))
    return path


def start_upload(app: Flask, image: Path, pause_at: str | None) -> subprocess.Popen:
    job = {
        "data_dir": str(app.config["SETTINGS"].DATA_DIR),
        "album_id": ALBUM,
        "image": str(image),
        "pause_at": pause_at,
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def kill_when_paused(proc: subprocess.Popen) -> str:
    """SIGKILL the child once it reports its pause; return the id of the photo it was uploading."""
    try:
        ready, _, _ = select.select([proc.stdout], [], [], PAUSE_TIMEOUT_SECONDS)
        line = proc.stdout.readline() if ready else ""
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=PAUSE_TIMEOUT_SECONDS)
    assert line.startswith("paused "), f"the child did not pause: {line!r}\n{err}"
    assert proc.returncode == -signal.SIGKILL
    return line.split()[1]


def photo_urls(photo_id: str) -> list[str]:
    return [f"/photos/{photo_id}/{size_type}.webp" for size_type in PHOTO_SIZE_TYPES] + [
        f"/photos/{photo_id}/original",
        f"/api/photos/{photo_id}/original",
    ]


def assert_unreachable(client: FlaskClient, owner_headers: dict[str, str], photo_id: str) -> None:
    """Neither the owner nor a guest can get the photo by any URL or see it in the album's listing."""
    for headers in (owner_headers, {}):
        for url in photo_urls(photo_id):
            assert client.get(url, headers=headers).status_code == 404, url
        listing = client.get(f"/api/albums/{ALBUM}/photos", headers=headers)
        assert listing.status_code == 200
        assert photo_id not in [photo["id"] for photo in listing.get_json()["photos"]]


def assert_final_names_complete(photos_dir: Path, uploaded: bytes) -> None:
    """Every original under its final name is the whole upload; every derivative decodes completely."""
    for path in (photos_dir / "originals").rglob("*.*"):
        assert path.read_bytes() == uploaded, path
    for path in (photos_dir / "derived").rglob("*.webp"):
        with Image.open(path) as webp:
            webp.load()  # raises on a truncated file


def in_flight_files(photos_dir: Path) -> list[Path]:
    """The originals and temporary files an upload still in progress could own."""
    folders = (photos_dir / "originals", photos_dir / ".tmp", photos_dir / "derived" / ".tmp")
    return sorted(path for folder in folders for path in folder.rglob("*") if path.is_file())


def age(photos_dir: Path) -> None:
    """Make every original and temporary file look older than the clean-up's grace period."""
    past = time.time() - ORPHAN_GRACE_SECONDS - 60
    for path in in_flight_files(photos_dir):
        os.utime(path, (past, past))


def clean_up(client: FlaskClient, owner_headers: dict[str, str]) -> dict[str, Any]:
    response = client.post("/api/images/cleanup", headers=owner_headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


#: What a kill at each stage leaves on disk, in counts: never a row, never a partial file under a
#: final name. Originals, derivative files, index entries, temp files of originals and of derivatives.
LEFTOVERS = {
    "original_temp_written": (0, 0, 0, 1, 0),
    "original_in_place": (1, 0, 0, 0, 0),
    "derivative_temp_written": (1, 0, 0, 0, 1),
    "derivative_placed": (1, 1, 0, 0, 0),
    "before_commit": (1, 3, 3, 0, 0),
}


def leftovers(app: Flask) -> tuple[int, ...]:
    state = stored(app)
    assert state["rows"] == []
    derived_temp = list((Path(app.config["PHOTOS_DIR"]) / "derived" / ".tmp").iterdir())
    return (len(state["originals"]), len(state["derived"]), state["entries"], len(state["temp"]), len(derived_temp))


def test_the_worker_uploads_into_the_apps_data_dir(client, albums, owner_headers, image):
    """Without a pause the child's upload is the app's photo: the kill tests watch the right files."""
    proc = start_upload(albums, image, pause_at=None)
    out, err = proc.communicate(timeout=PAUSE_TIMEOUT_SECONDS)
    assert proc.returncode == 0, err
    photo_id = json.loads(out.splitlines()[-1])["photo_id"]
    assert [
        photo["id"] for photo in client.get(f"/api/albums/{ALBUM}/photos", headers=owner_headers).get_json()["photos"]
    ] == [photo_id]
    assert client.get(f"/photos/{photo_id}/detail.webp", headers=owner_headers).status_code == 200


@pytest.mark.parametrize("stage", STAGES)
def test_upload_killed_mid_way_leaves_nothing_servable_and_cleanup_removes_it(
    client, albums, owner_headers, image, stage
):
    photos_dir = Path(albums.config["PHOTOS_DIR"])
    photo_id = kill_when_paused(start_upload(albums, image, pause_at=stage))

    assert leftovers(albums) == LEFTOVERS[stage]
    assert_final_names_complete(photos_dir, image.read_bytes())
    assert_unreachable(client, owner_headers, photo_id)

    # The killed upload held the write lock of the collection database (before_commit)
    # or of the photo index (derivative_*): it died with it, so the album takes uploads at once.
    later = upload_one(client, owner_headers, visibility="private")
    assert_unreachable(client, owner_headers, photo_id)

    # Young leftovers may be an upload in flight: the clean-up spares originals and temp files.
    young = in_flight_files(photos_dir)
    clean_up(client, owner_headers)
    assert in_flight_files(photos_dir) == young

    age(photos_dir)
    assert clean_up(client, owner_headers)["removed_photos"] == LEFTOVERS[stage][0]
    later_key = key_for(f"{LOCAL_PREFIX}originals/{ALBUM}/{later['id']}.jpg")
    assert stored(albums) == {
        "rows": [{"id": later["id"], "album_id": ALBUM, "visibility": "private"}],
        "originals": [f"{later['id']}.jpg"],
        "derived": [f"{later_key}.webp"] * len(PHOTO_SIZE_TYPES),
        "temp": [],
        "entries": len(PHOTO_SIZE_TYPES),
    }
    assert list((photos_dir / "derived" / ".tmp").iterdir()) == []
    detail = client.get(later["urls"]["detail"], headers=owner_headers)
    assert detail.status_code == 200
    assert Image.open(io.BytesIO(detail.data)).format == "WEBP"
    assert_unreachable(client, owner_headers, photo_id)
