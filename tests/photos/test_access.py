"""Who sees what: a guest/owner/share-link matrix over every URL of photos and derivatives.

Forbidden and absent answer the same 404, and a photo's bytes or id never
reach someone who may not see it: not through the file routes, the listing,
the cover cache's /cache/ routes or the album page.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.support.images import image_bytes
from tests.support.owner import set_owner_password
from tests.support.photos import ALBUM, OTHER_ALBUM, upload_one
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord

VISIBILITIES = ("public", "private", "shared")
VIEWERS = ("guest", "owner", "valid share", "revoked share", "other album's share")
#: Which visibilities each viewer may see.
MAY_SEE = {
    "guest": {"public"},
    "owner": set(VISIBILITIES),
    "valid share": {"public", "shared"},
    "revoked share": {"public"},
    "other album's share": {"public"},
}
ABSENT_ID = "0" * 32


@pytest.fixture
def gallery(client, albums, owner_headers):
    """One photo of each visibility in ALBUM, and every kind of share token."""
    photos = {
        v: upload_one(client, owner_headers, visibility=v, content=image_bytes(colour=colour))
        for v, colour in zip(VISIBILITIES, ("red", "green", "blue"))
    }
    revoked = client.post(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json()["token"]
    assert client.delete(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json() == {"revoked": True}
    valid = client.post(f"/api/albums/{ALBUM}/share", headers=owner_headers).get_json()["token"]
    other = client.post(f"/api/albums/{OTHER_ALBUM}/share", headers=owner_headers).get_json()["token"]
    owner_bytes = {
        (v, size): client.get(f"/photos/{p['id']}/{size}.webp", headers=owner_headers).data
        for v, p in photos.items()
        for size in ("thumbnails", "detail", "square")
    }
    return {
        "photos": photos,
        "bytes": owner_bytes,
        "tokens": {"valid share": valid, "revoked share": revoked, "other album's share": other},
    }


def _request(viewer: str, gallery, owner_headers) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) a viewer sends."""
    if viewer == "owner":
        return owner_headers, {}
    token = gallery["tokens"].get(viewer)
    return {}, ({"share": token} if token else {})


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_photo_url_answers_by_visibility(client, albums, owner_headers, gallery, viewer):
    headers, query = _request(viewer, gallery, owner_headers)
    absent = client.get(f"/photos/{ABSENT_ID}/detail.webp", query_string=query, headers=headers)
    assert absent.status_code == 404
    wrong = []
    for visibility, photo in gallery["photos"].items():
        allowed = visibility in MAY_SEE[viewer]
        for size in ("thumbnails", "detail", "square"):
            url = f"/photos/{photo['id']}/{size}.webp"
            for method in (client.get, client.head):
                response = method(url, query_string=query, headers=headers)
                expected = 200 if allowed else 404
                if response.status_code != expected:
                    wrong.append((visibility, size, method.__name__, response.status_code))
                if not allowed and method is client.get and response.data != absent.data:
                    wrong.append((visibility, size, "404 differs from an absent photo's"))
            body = client.get(url, query_string=query, headers=headers).data
            if allowed != (body == gallery["bytes"][(visibility, size)]):
                wrong.append((visibility, size, "bytes"))
        for original in (f"/photos/{photo['id']}/original", f"/api/photos/{photo['id']}/original"):
            response = client.get(original, query_string=query, headers=headers)
            if response.status_code != (200 if viewer == "owner" else 404):
                wrong.append((visibility, original, response.status_code))
    assert not wrong


@pytest.mark.parametrize("viewer", VIEWERS)
def test_listing_shows_only_what_the_viewer_may_see(client, albums, owner_headers, gallery, viewer):
    headers, query = _request(viewer, gallery, owner_headers)
    response = client.get(f"/api/albums/{ALBUM}/photos", query_string=query, headers=headers)
    assert response.status_code == 200
    listed = {p["visibility"]: p for p in response.get_json()["photos"]}
    assert set(listed) == MAY_SEE[viewer]
    text = response.get_data(as_text=True)
    for visibility, photo in gallery["photos"].items():
        assert (photo["id"] in text) == (visibility in MAY_SEE[viewer])
    # Every URL a viewer is handed works for that viewer.
    for photo in listed.values():
        for url in photo["urls"].values():
            assert client.get(url, headers=headers).status_code == 200, (viewer, url)
    assert ("original_url" in listed["public"]) == (viewer == "owner")


@pytest.mark.parametrize("viewer", VIEWERS)
def test_stats_are_for_the_owner_only(client, albums, owner_headers, gallery, viewer):
    headers, query = _request(viewer, gallery, owner_headers)
    response = client.get(f"/api/albums/{ALBUM}/photos/stats", query_string=query, headers=headers)
    assert response.status_code == (200 if viewer == "owner" else 401)
    if viewer == "owner":
        assert response.get_json()["total"] == 3


@pytest.mark.parametrize("viewer", VIEWERS)
def test_album_page_shows_only_what_the_viewer_may_see(client, albums, owner_headers, gallery, viewer):
    headers, query = _request(viewer, gallery, owner_headers)
    response = client.get(f"/album/{ALBUM}", query_string=query, headers=headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for visibility, photo in gallery["photos"].items():
        assert (photo["id"] in html) == (visibility in MAY_SEE[viewer]), visibility
    assert ('name="photos"' in html) == (viewer == "owner")  # the upload widget


def test_cover_cache_routes_never_serve_photos(client, albums, owner_headers, gallery):
    for photo in gallery["photos"].values():
        key = hashlib.sha256(f"local:originals/{ALBUM}/{photo['id']}.jpg".encode()).hexdigest()
        for size in ("thumbnails", "detail"):
            assert client.get(f"/cache/{size}/{key}.webp", headers=owner_headers).status_code == 404
    covers = albums.config["COVERS_DIR"]
    assert not list(covers.rglob("*.webp")) or all("placeholder" in p.name for p in covers.rglob("*.webp"))


def test_cache_headers_and_etag(client, albums, owner_headers, gallery):
    public = client.get(gallery["photos"]["public"]["urls"]["detail"])
    assert public.headers["Cache-Control"].startswith("public")
    private = client.get(gallery["photos"]["private"]["urls"]["detail"], headers=owner_headers)
    assert private.headers["Cache-Control"].startswith("private")
    again = client.get(gallery["photos"]["public"]["urls"]["detail"], headers={"If-None-Match": public.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    # A 304 is no way around the access check either.
    hidden = client.get(
        gallery["photos"]["private"]["urls"]["detail"], headers={"If-None-Match": private.headers["ETag"]}
    )
    assert hidden.status_code == 404


def test_unknown_album_is_404_everywhere(client, albums, owner_headers):
    for method, url in (
        ("get", "/api/albums/999/photos"),
        ("get", "/api/albums/999/photos/stats"),
        ("post", "/api/albums/999/share"),
        ("delete", "/api/albums/999/share"),
    ):
        response = getattr(client, method)(url, headers=owner_headers)
        assert response.status_code == 404 and response.get_json()["error"] == "unknown_album", url


def test_photo_bytes_are_accounted_in_the_photos_memory_scope(make_app, tmp_path):
    """With the memory tier on, photos share the covers' budget under their own page scope."""
    app = make_app(MEMORY_CACHE_ENABLED=True, MEMORY_CACHE_SIZE_MB=8)
    set_owner_password(app)
    with app.app_context():
        collection.save_album(db.get_db(), AlbumRecord(id=ALBUM, source="csv", title="R"))
        headers = {"Authorization": f"Bearer {auth.create_api_token(db.get_db())}"}
    client = app.test_client()
    photo = upload_one(client, headers, visibility="public")
    assert client.get(photo["urls"]["detail"]).status_code == 200
    scopes = client.get("/api/cache/stats").get_json()["memory_tier"]["scopes"]
    assert scopes["photos"]["items"] == 1
