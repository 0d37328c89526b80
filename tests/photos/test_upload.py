"""Uploads: what is accepted, what is refused with a clear 4xx, and that a refusal stores nothing."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import ExifTags, Image, ImageCms

from tests.support.images import image_bytes, png_declaring
from tests.support.owner import session_csrf
from tests.support.paths import image_corpus
from tests.support.photos import ALBUM, NOTHING, stored, upload, upload_one


def test_several_files_at_once_answer_201_with_urls(client, albums, owner_headers):
    files = [
        ("sleeve.JPG", image_bytes(size=(800, 600))),
        ("label.png", image_bytes("PNG")),
        ("runout.webp", image_bytes("WEBP")),
        ("spine.gif", image_bytes("GIF")),
        ("back.bmp", image_bytes("BMP")),
        ("inner.jpeg", image_bytes()),
    ]
    response = upload(
        client, files, headers=owner_headers, visibility="shared", title="My copy", description="VG+ sleeve"
    )
    assert response.status_code == 201, response.get_json()
    photos = response.get_json()["photos"]
    assert [p["visibility"] for p in photos] == ["shared"] * 6
    assert photos[0]["title"] == "My copy" and photos[0]["description"] == "VG+ sleeve"
    assert (photos[0]["width"], photos[0]["height"]) == (800, 600)
    assert set(photos[0]["urls"]) == {"thumbnail", "detail", "square"}
    state = stored(albums)
    # The stored extension comes from the decoded format, not the client's name.
    assert sorted(name.rsplit(".", 1)[1] for name in state["originals"]) == ["bmp", "gif", "jpg", "jpg", "png", "webp"]
    assert len(state["derived"]) == 18 and state["entries"] == 18
    square = client.get(photos[0]["urls"]["square"], headers=owner_headers)
    assert square.status_code == 200
    assert Image.open(io.BytesIO(square.data)).size == (200, 200)


def test_originals_are_owner_only_files(client, albums, owner_headers):
    photo = upload_one(client, owner_headers)
    (path,) = (albums.config["PHOTOS_DIR"] / "originals" / str(ALBUM)).iterdir()
    assert path.name == f"{photo['id']}.jpg"
    assert path.stat().st_mode & 0o777 == 0o600


def test_derivatives_are_owner_only_files_too(client, albums, owner_headers):
    upload_one(client, owner_headers, visibility="public")
    derived = albums.config["PHOTOS_DIR"] / "derived"
    files = [path for size in ("thumbnails", "detail", "square") for path in (derived / size).rglob("*.webp")]
    assert len(files) == 3
    assert {path.stat().st_mode & 0o777 for path in files} == {0o600}


def test_the_photo_cache_reads_sources_from_the_originals_only(albums):
    from vinylvault.photos import views as photos

    photos_dir = albums.config["PHOTOS_DIR"]
    for folder in ("originals/1", ".tmp", "derived"):
        (photos_dir / folder).mkdir(parents=True, exist_ok=True)
        (photos_dir / folder / "planted.jpg").write_bytes(image_bytes())
    cache = albums.extensions[photos.PHOTOS]
    assert cache.get_image("local:originals/1/planted.jpg", "square") is not None
    for url in ("local:.tmp/planted.jpg", "local:derived/planted.jpg"):
        assert cache.get_image(url, "square") is None, url
        assert cache.index.failure_state(cache.key_for(url)).last_error == "path_traversal"


def test_seed_visibility_name_subscribers_means_shared(client, albums, owner_headers):
    assert upload_one(client, owner_headers, visibility="SUBSCRIBERS")["visibility"] == "shared"


CORPUS = image_corpus()

BAD_FILES = [
    ("executable renamed .jpg", "setup.jpg", b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" * 200, 400, "not_an_image"),
    ("ELF renamed .png", "tool.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 500, 400, "not_an_image"),
    ("zero bytes", "empty.jpg", b"", 400, "empty_file"),
    ("PNG named .jpg", "photo.jpg", image_bytes("PNG"), 400, "format_mismatch"),
    ("JPEG named .gif", "photo.gif", image_bytes("JPEG"), 400, "format_mismatch"),
    ("no extension", "photo", image_bytes(), 400, "unsupported_extension"),
    ("text extension", "photo.txt", image_bytes(), 400, "unsupported_extension"),
    ("TIFF renamed .jpg", "scan.jpg", (CORPUS / "hopper.tif").read_bytes(), 400, "unsupported_format"),
    (
        "GIF decompression bomb, renamed",
        "cover.gif",
        (CORPUS / "decompression_bomb.gif").read_bytes(),
        400,
        "too_many_pixels",
    ),
    ("PNG pixel bomb", "huge.png", png_declaring(100_000, 100_000), 400, "too_many_pixels"),
    ("PNG too big to decode in memory", "big.png", png_declaring(7000, 7000), 400, "too_much_memory"),
    ("PNG zlib text bomb", "dos.png", (CORPUS / "png_decompression_dos.png").read_bytes(), 400, None),
    ("PNG cut off mid-data", "cut.png", (CORPUS / "truncated_image.png").read_bytes(), 400, "corrupt_image"),
]


@pytest.mark.parametrize("name,filename,content,status,code", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_refused_clearly_and_nothing_is_stored(
    client, albums, owner_headers, name, filename, content, status, code
):
    response = upload(client, [(filename, content)], headers=owner_headers)
    assert response.status_code == status
    body = response.get_json()
    if code:
        assert body["error"] == code
    assert body["detail"] and "\n" not in body["detail"]
    assert stored(albums) == NOTHING


def test_25_mb_file_is_413_and_nothing_is_stored(client, albums, owner_headers):
    big = image_bytes() + b"\x00" * (25 * 1024 * 1024)
    response = upload(client, [("big.jpg", big)], headers=owner_headers)
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert "20 MB" in response.get_json()["detail"]
    assert stored(albums) == NOTHING


def test_one_bad_file_refuses_the_whole_batch(client, albums, owner_headers):
    response = upload(client, [("good.jpg", image_bytes()), ("bad.jpg", image_bytes("PNG"))], headers=owner_headers)
    assert response.status_code == 400
    assert "'bad.jpg'" in response.get_json()["detail"]
    assert stored(albums) == NOTHING


def test_the_51st_photo_is_refused(client, albums, owner_headers):
    files = [(f"p{i}.jpg", image_bytes(size=(16, 16))) for i in range(49)]
    assert upload(client, files, headers=owner_headers).status_code == 201
    # A batch that would go past the limit is refused whole.
    over = upload(client, [("a.jpg", image_bytes()), ("b.jpg", image_bytes())], headers=owner_headers)
    assert over.status_code == 409 and over.get_json()["error"] == "album_full"
    assert len(stored(albums)["rows"]) == 49
    upload_one(client, owner_headers)
    fifty_first = upload(client, [("51.jpg", image_bytes())], headers=owner_headers)
    assert fifty_first.status_code == 409
    assert "at most 50 photos" in fifty_first.get_json()["detail"]
    state = stored(albums)
    assert len(state["rows"]) == len(state["originals"]) == 50


def test_wrong_csrf_token_is_403_and_nothing_is_stored(albums, owner_client):
    csrf = session_csrf(owner_client)
    wrong = upload(owner_client, [("p.jpg", image_bytes())], headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    missing = upload(owner_client, [("p.jpg", image_bytes())])
    assert missing.status_code == 403
    assert stored(albums) == NOTHING
    assert upload(owner_client, [("p.jpg", image_bytes())], headers={"X-CSRF-Token": csrf}).status_code == 201


def test_guest_and_bad_token_cannot_upload(client, albums):
    assert upload(client, [("p.jpg", image_bytes())]).status_code == 401
    assert upload(client, [("p.jpg", image_bytes())], headers={"Authorization": "Bearer vv_nope"}).status_code == 403
    assert stored(albums) == NOTHING


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"visibility": "friends"}, "invalid_visibility"),
        ({"title": "t" * 201}, "invalid_title"),
        ({"description": "d" * 2001}, "invalid_description"),
    ],
)
def test_bad_fields_are_400(client, albums, owner_headers, fields, code):
    response = upload(client, [("p.jpg", image_bytes())], headers=owner_headers, **fields)
    assert response.status_code == 400 and response.get_json()["error"] == code
    assert stored(albums) == NOTHING


def test_no_files_and_unknown_album(client, albums, owner_headers):
    assert upload(client, [], headers=owner_headers).get_json()["error"] == "no_files"
    unknown = upload(client, [("p.jpg", image_bytes())], album_id=999, headers=owner_headers)
    assert unknown.status_code == 404
    assert stored(albums) == NOTHING


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 22.0, 31.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (4.0, 53.0, 12.0),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return image_bytes(size=(900, 700), exif=exif.tobytes(), icc_profile=icc)


def _riff_chunks(webp: bytes) -> list[bytes]:
    chunks, offset = [], 12
    while offset + 8 <= len(webp):
        name, size = webp[offset : offset + 4], struct.unpack("<I", webp[offset + 4 : offset + 8])[0]
        chunks.append(name)
        offset += 8 + size + (size & 1)
    return chunks


def test_no_exif_gps_xmp_or_icc_in_any_derivative(client, albums, owner_headers):
    original = _jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as source:
        assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test input really carries GPS
    photo = upload_one(client, owner_headers, content=original)
    for name, url in photo["urls"].items():
        data = client.get(url, headers=owner_headers).data
        assert _riff_chunks(data)[0] in (b"VP8 ", b"VP8L", b"VP8X"), name
        assert not {b"EXIF", b"XMP ", b"ICCP"} & set(_riff_chunks(data)), name
        assert b"SecretCam" not in data and b"GPS" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif() and "icc_profile" not in image.info and "xmp" not in image.info
    # The original is kept as uploaded, for the owner.
    kept = client.get(f"/photos/{photo['id']}/original", headers=owner_headers)
    assert kept.data == original
    assert "attachment" in kept.headers["Content-Disposition"]
