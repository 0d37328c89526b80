"""Edit, delete, stats and view counts, share links, the page forms, orphan clean-up."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest

from tests.support.images import image_bytes
from tests.support.owner import session_csrf
from tests.support.photos import ALBUM, NOTHING, stored, upload_one
from vinylvault import db
from vinylvault.library import collection
from vinylvault.photos import store
from vinylvault.photos import views as photos


def _patch(client, photo_id, headers, body):
    return client.patch(f"/api/photos/{photo_id}", json=body, headers=headers)


def test_edit_title_description_and_visibility(client, albums, owner_headers):
    photo = upload_one(client, owner_headers, visibility="public")
    assert client.get(photo["urls"]["detail"]).status_code == 200
    response = _patch(
        client,
        photo["id"],
        owner_headers,
        {"title": "  Label, side A ", "description": "Runout: A1", "visibility": "private"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["description"], body["visibility"]) == ("Label, side A", "Runout: A1", "private")
    assert client.get(photo["urls"]["detail"]).status_code == 404  # the guest lost it at once
    assert (
        _patch(client, photo["id"], owner_headers, {"visibility": "public"}).get_json()["title"] == "Label, side A"
    )  # fields not sent are kept


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"visibility": "everyone"}, 400, "invalid_visibility"),
        ({"title": "x" * 201}, 400, "invalid_title"),
        ({"title": 5}, 400, "invalid_title"),
        ({"album_id": 2}, 400, "unknown_fields"),
        ([], 400, "invalid_body"),
        ({}, 400, "invalid_body"),
    ],
)
def test_bad_edits_are_400(client, albums, owner_headers, body, status, code):
    photo = upload_one(client, owner_headers)
    response = _patch(client, photo["id"], owner_headers, body)
    assert (response.status_code, response.get_json()["error"]) == (status, code)


def test_edit_and_delete_need_the_owner_and_a_known_photo(client, albums, owner_headers):
    photo = upload_one(client, owner_headers)
    assert _patch(client, photo["id"], {}, {"title": "x"}).status_code == 401
    assert client.delete(f"/api/photos/{photo['id']}").status_code == 401
    assert _patch(client, "0" * 32, owner_headers, {"title": "x"}).status_code == 404
    assert client.delete("/api/photos/../../etc", headers=owner_headers).status_code == 404
    not_json = client.patch(
        f"/api/photos/{photo['id']}",
        data="title=x",
        headers=owner_headers,
        content_type="application/x-www-form-urlencoded",
    )
    assert not_json.status_code == 415


def test_delete_removes_original_derivatives_and_cache_entries(client, albums, owner_headers):
    kept = upload_one(client, owner_headers)
    photo = upload_one(client, owner_headers)
    before = stored(albums)
    response = client.delete(f"/api/photos/{photo['id']}", headers=owner_headers)
    assert response.status_code == 200 and response.get_json() == {"deleted": photo["id"]}
    after = stored(albums)
    assert [row["id"] for row in after["rows"]] == [kept["id"]]
    assert after["originals"] == [f"{kept['id']}.jpg"]
    assert len(after["derived"]) == after["entries"] == before["entries"] - 3 == 3
    with albums.app_context():
        assert (
            albums.extensions[photos.PHOTOS].source_url(
                albums.extensions[photos.PHOTOS].key_for(f"local:originals/{ALBUM}/{photo['id']}.jpg")
            )
            is None
        )
    for url in photo["urls"].values():
        assert client.get(url, headers=owner_headers).status_code == 404
    assert client.delete(f"/api/photos/{photo['id']}", headers=owner_headers).status_code == 404


def test_evicted_derivative_is_made_again_from_the_original(client, albums, owner_headers):
    photo = upload_one(client, owner_headers, visibility="public")
    first = client.get(photo["urls"]["detail"]).data
    cache = albums.extensions[photos.PHOTOS]
    assert cache.clear_cache()
    assert stored(albums)["derived"] == []
    assert client.get(photo["urls"]["detail"]).data == first


def test_stats_and_view_counts(client, albums, owner_headers):
    public = [upload_one(client, owner_headers, visibility="public") for _ in range(2)]
    upload_one(client, owner_headers, visibility="private")
    upload_one(client, owner_headers, visibility="shared", content=image_bytes(size=(1200, 900)))
    assert client.get(f"/api/albums/{ALBUM}/photos/stats", headers=owner_headers).get_json()["most_viewed"] is None
    for _ in range(3):
        assert client.get(public[1]["urls"]["detail"]).status_code == 200
    client.get(public[0]["urls"]["detail"])
    client.get(public[0]["urls"]["thumbnail"])  # thumbnails are not views
    client.head(public[0]["urls"]["detail"])
    stats = client.get(f"/api/albums/{ALBUM}/photos/stats", headers=owner_headers).get_json()
    assert {k: stats[k] for k in ("total", "public", "private", "shared")} == {
        "total": 4,
        "public": 2,
        "private": 1,
        "shared": 1,
    }
    assert stats["most_viewed"] == {"id": public[1]["id"], "title": "", "view_count": 3}
    total = sum(p.stat().st_size for p in (albums.config["PHOTOS_DIR"] / "originals").rglob("*.*"))
    assert stats["total_size_mb"] == round(total / 1048576, 2)
    listed = client.get(f"/api/albums/{ALBUM}/photos", headers=owner_headers).get_json()["photos"]
    assert {p["id"]: p["view_count"] for p in listed}[public[0]["id"]] == 1
    assert {p["id"]: p["last_viewed_at"] for p in listed}[public[1]["id"]] is not None


def test_share_link_rotates_and_revokes(client, albums, owner_headers):
    shared = upload_one(client, owner_headers, visibility="shared")
    first = client.post(f"/api/albums/{ALBUM}/share", headers=owner_headers)
    assert first.status_code == 201
    token = first.get_json()["token"]
    assert first.get_json()["url"] == f"/album/{ALBUM}?share={token}" and len(token) >= 32

    def guest_sees(share: str) -> bool:
        listed = client.get(f"/api/albums/{ALBUM}/photos", query_string={"share": share}).get_json()["photos"]
        return [p["id"] for p in listed] == [shared["id"]]

    assert guest_sees(token)
    assert shared["id"] in client.get(f"/album/{ALBUM}", query_string={"share": token}).get_data(as_text=True)
    second = client.post(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json()["token"]
    assert second != token and not guest_sees(token) and guest_sees(second)
    with albums.app_context():  # only a hash is stored
        assert second not in repr(db.get_db().execute("SELECT * FROM album_shares").fetchall())
    assert client.delete(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json() == {"revoked": True}
    assert not guest_sees(second)
    assert client.delete(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json() == {"revoked": False}
    assert client.post(f"/api/albums/{ALBUM}/share").status_code == 401


def test_page_forms_work_without_javascript(albums, owner_client):
    csrf = session_csrf(owner_client)
    page = owner_client.get(f"/album/{ALBUM}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="visibility"' in page
    response = owner_client.post(
        f"/album/{ALBUM}/photos",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf,
            "visibility": "shared",
            "title": "Sleeve",
            "photos": [(io.BytesIO(image_bytes()), "a.jpg"), (io.BytesIO(image_bytes("PNG")), "b.png")],
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/album/{ALBUM}#photos")
    assert "Uploaded 2 photos." in owner_client.get(f"/album/{ALBUM}").get_data(as_text=True)
    (first, second) = stored(albums)["rows"]
    bad = owner_client.post(
        f"/album/{ALBUM}/photos",
        content_type="multipart/form-data",
        data={"csrf_token": csrf, "photos": [(io.BytesIO(b"MZ\x90"), "x.jpg")]},
    )
    assert bad.status_code == 303
    assert "Nothing was uploaded" in owner_client.get(f"/album/{ALBUM}").get_data(as_text=True)
    assert len(stored(albums)["rows"]) == 2
    shared = owner_client.post(f"/album/{ALBUM}/share", data={"csrf_token": csrf, "action": "create"})
    token = re.search(r"share=([\w-]+)", shared.headers["Location"]).group(1)
    assert (
        owner_client.application.test_client()
        .get(f"/api/albums/{ALBUM}/photos", query_string={"share": token})
        .get_json()["photos"]
    )
    edit = owner_client.post(
        f"/photos/{first['id']}/edit",
        data={"csrf_token": csrf, "title": "Front", "description": "", "visibility": "public"},
    )
    assert edit.status_code == 303
    owner_client.post(f"/photos/{second['id']}/edit", data={"csrf_token": csrf, "action": "delete"})
    assert [(r["id"], r["visibility"]) for r in stored(albums)["rows"]] == [(first["id"], "public")]
    forged = owner_client.post(f"/photos/{first['id']}/edit", data={"csrf_token": "nope", "action": "delete"})
    assert forged.status_code == 403 and len(stored(albums)["rows"]) == 1


def test_deleting_an_album_leaves_orphans_that_clean_up_removes(client, albums, owner_headers):
    upload_one(client, owner_headers)
    with albums.app_context():
        conn = db.get_db()
        collection.delete_albums(conn, [ALBUM])
        assert stored(albums)["rows"] == []
        # A fresh original may belong to an upload whose row is not committed yet: spared.
        assert albums.extensions[photos.PHOTO_STORE].remove_orphans(conn) == 0
    assert stored(albums)["originals"]
    long_ago = time.time() - store.ORPHAN_GRACE_SECONDS - 60
    for original in (Path(albums.config["PHOTOS_DIR"]) / "originals").rglob("*.*"):
        os.utime(original, (long_ago, long_ago))
    response = client.post("/api/images/cleanup", headers=owner_headers)
    assert response.status_code == 200 and response.get_json()["removed_photos"] == 1
    assert stored(albums) == NOTHING
