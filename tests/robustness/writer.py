"""A second process writing to the same DATA_DIR as others: ``python writer.py DATA_DIR TOKEN PHOTO_ID N``.

Builds the app the way a gunicorn worker does and sends ``N`` rounds of
rate-limited writes (a photo upload and a PATCH of an existing photo), then
prints the status codes it got, one per line.
"""

from __future__ import annotations

import io
import sys

from tests.robustness.conftest import ALBUM, ROBUST_SETTINGS, jpeg
from tests.web.conftest import BASE_SETTINGS
from vinylvault import create_app
from vinylvault import lifecycle


def main(data_dir: str, token: str, photo_id: str, rounds: int) -> None:
    app = create_app({**BASE_SETTINGS, **ROBUST_SETTINGS, "DATA_DIR": data_dir})
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    try:
        for n in range(rounds):
            upload = client.post(
                f"/api/albums/{ALBUM}/photos",
                headers=auth,
                content_type="multipart/form-data",
                data={"photos": [(io.BytesIO(jpeg(colour="navy")), f"{n}.jpg")]},
            )
            patch = client.patch(f"/api/photos/{photo_id}", headers=auth, json={"title": f"round {n}"})
            print(upload.status_code, patch.status_code, flush=True)
    finally:
        lifecycle.shutdown(app)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
