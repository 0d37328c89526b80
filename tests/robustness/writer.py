"""A second process writing to the same DATA_DIR as others: ``python writer.py DATA_DIR TOKEN PHOTO_ID N``.

Builds the app the way a gunicorn worker does and sends ``N`` rounds of
rate-limited writes (a photo upload and a PATCH of an existing photo), then
prints the status codes it got, one per line.
"""

from __future__ import annotations

import sys

from tests.support.apps import BASE_SETTINGS
from tests.support.images import image_bytes
from tests.support.owner import bearer
from tests.support.photos import upload
from tests.support.robust_site import ALBUM, ROBUST_SETTINGS
from vinylvault import create_app, lifecycle


def main(data_dir: str, token: str, photo_id: str, rounds: int) -> None:
    app = create_app({**BASE_SETTINGS, **ROBUST_SETTINGS, "DATA_DIR": data_dir})
    client, headers = app.test_client(), bearer(token)
    try:
        for n in range(rounds):
            uploaded = upload(client, [(f"{n}.jpg", image_bytes(colour="navy"))], ALBUM, headers)
            patch = client.patch(f"/api/photos/{photo_id}", headers=headers, json={"title": f"round {n}"})
            print(uploaded.status_code, patch.status_code, flush=True)
    finally:
        lifecycle.shutdown(app)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
