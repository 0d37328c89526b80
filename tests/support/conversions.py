"""Looking at what the conversion pipeline made: variants by size type, WebP chunks, metadata, pixels.

Also the corpus manifest (../shared/corpus/images/MANIFEST.tsv), read at
collection time to parametrize over its files.
"""

from __future__ import annotations

import csv
import io
import struct

from PIL import Image

from cache_engine.convert import Variant
from tests.support.paths import image_manifest

THUMB, DETAIL = 150, 600


def manifest_rows() -> dict[str, dict[str, str]]:
    """The corpus manifest's rows by file name."""
    with open(image_manifest(), newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def by_type(variants: list[Variant]) -> dict[str, Variant]:
    return {variant.size_type: variant for variant in variants}


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, payload) of every top-level chunk of a WebP file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", "not a WebP RIFF container"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size does not match the file"
    chunks, offset = [], 12
    while offset < len(data):
        fourcc, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        chunks.append((fourcc, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    return chunks


def assert_no_metadata(data: bytes) -> None:
    """No EXIF, XMP or ICC chunk, and no VP8X flag announcing one."""
    chunks = riff_chunks(data)
    names = {fourcc for fourcc, _ in chunks}
    assert not names & {b"EXIF", b"XMP ", b"ICCP"}, names
    for fourcc, payload in chunks:
        if fourcc == b"VP8X":
            flags = payload[0]
            assert flags & 0b0010_1100 == 0, f"VP8X announces metadata (flags {flags:#x})"


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel in 0..255, on RGB."""
    a, b = a.convert("RGB"), b.convert("RGB")
    assert a.size == b.size
    return sum(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes())) / (a.size[0] * a.size[1] * 3)
