"""The placeholder graphic and the exception tree."""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import pytest
from PIL import Image

from cache_engine import errors
from cache_engine.placeholder import ensure_placeholder, placeholder_name, render_placeholder
from tests.support.conversions import assert_no_metadata


@pytest.mark.parametrize("size", [1, 150, 600])
def test_render_placeholder_is_a_transparent_record(size: int) -> None:
    data = render_placeholder(size)
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size, image.mode) == ("WEBP", (size, size), "RGBA")
    assert_no_metadata(data)
    if size >= 150:
        assert image.getpixel((0, 0))[3] == 0, "corners are transparent"
        assert image.getpixel((size // 2, size // 2))[3] < 64, "spindle hole is see-through"
        red, green, blue, alpha = image.getpixel((size // 2 + size // 8, size // 2))
        assert alpha == 255 and red > green + 60, "the label is coloured"
        red, green, blue, alpha = image.getpixel((size // 2 + int(size * 0.4), size // 2))
        assert alpha == 255 and max(red, green, blue) < 90, "the disc is dark"


def test_render_placeholder_refuses_a_bad_size() -> None:
    with pytest.raises(ValueError):
        render_placeholder(0)


def test_ensure_placeholder_writes_once(tmp_path: Path) -> None:
    path = ensure_placeholder(tmp_path / "placeholders", "thumbnails", 150)
    assert path == tmp_path / "placeholders" / "placeholder_thumbnails.webp"
    assert Image.open(path).size == (150, 150)
    assert path.stat().st_mode & 0o777 == 0o644
    first = path.stat()
    os.utime(path, ns=(1, 1))
    assert ensure_placeholder(tmp_path / "placeholders", "thumbnails", 150) == path
    assert path.stat().st_mtime_ns == 1 and path.stat().st_ino == first.st_ino, "rewritten"
    assert sorted(p.name for p in path.parent.iterdir()) == ["placeholder_thumbnails.webp"]


@pytest.mark.parametrize("size_type", ["../x", "a/b", "", "DETAIL", "x" * 40, None])
def test_size_type_never_becomes_a_path(tmp_path: Path, size_type) -> None:
    with pytest.raises(ValueError):
        ensure_placeholder(tmp_path, size_type, 150)
    assert list(tmp_path.iterdir()) == []
    assert placeholder_name("detail") == "placeholder_detail.webp"


def _race(directory: str, barrier) -> str:
    barrier.wait()
    return str(ensure_placeholder(Path(directory), "detail", 600))


def test_processes_racing_leave_one_complete_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = 6
    with context.Manager() as manager:
        barrier = manager.Barrier(workers)
        with context.Pool(workers) as pool:
            paths = pool.starmap(_race, [(str(tmp_path), barrier)] * workers)
    assert set(paths) == {str(tmp_path / "placeholder_detail.webp")}
    assert [p.name for p in tmp_path.iterdir()] == ["placeholder_detail.webp"], "temp files left"
    image = Image.open(tmp_path / "placeholder_detail.webp")
    image.load()
    assert image.size == (600, 600)


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (errors.ImageCacheError("x"), "image_cache_error"),
        (errors.UnsafeURL("x"), "unsafe_url"),
        (errors.UnsafeURL("x", reason="private_address"), "private_address"),
        (errors.FetchFailed("x"), "fetch_failed"),
        (errors.RemoteStatusError("x", 404), "http_404"),
        (errors.TooManyRedirects("x"), "too_many_redirects"),
        (errors.DownloadTimeout("x"), "timeout"),
        (errors.TooLarge("x"), "too_large"),
        (errors.NotAnImage("x"), "not_an_image"),
        (errors.UnsupportedFormat("x"), "unsupported_format"),
        (errors.TooManyPixels("x"), "too_many_pixels"),
        (errors.CorruptImage("x"), "corrupt_image"),
        (errors.EntryTooLarge("x"), "entry_too_large"),
        (errors.CacheTimeout("x"), "busy"),
    ],
)
def test_reason_codes(exception: errors.ImageCacheError, reason: str) -> None:
    assert exception.reason == reason
    assert isinstance(exception, errors.ImageCacheError)


def test_error_tree_and_one_line_messages() -> None:
    refused = [
        errors.UnsafeURL,
        errors.FetchFailed,
        errors.RemoteStatusError,
        errors.TooManyRedirects,
        errors.DownloadTimeout,
        errors.TooLarge,
        errors.NotAnImage,
        errors.UnsupportedFormat,
        errors.TooManyPixels,
        errors.CorruptImage,
    ]
    assert all(issubclass(cls, errors.SourceRefused) for cls in refused)
    assert all(issubclass(cls, errors.FetchFailed) for cls in refused[2:5])
    assert not issubclass(errors.EntryTooLarge, errors.SourceRefused)
    assert not issubclass(errors.CacheTimeout, errors.SourceRefused)
    status = errors.RemoteStatusError("origin said\n503\tagain", 503)
    assert (str(status), status.status, status.reason) == ("origin said 503 again", 503, "http_503")
    assert errors.UnsafeURL("x", reason="bad_scheme").reason == "bad_scheme"
    assert errors.UnsafeURL("y").reason == "unsafe_url", "an instance override leaked to the class"
