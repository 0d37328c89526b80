"""Helpers shared by the conversion pipeline tests."""

from __future__ import annotations

import csv
import io
import struct
from pathlib import Path

from PIL import Image, ImageDraw

from cache_engine.convert import Variant

THUMB, DETAIL = 150, 600

#: Same place as tests/conftest.py's corpus_dir fixture; needed at collection
#: time to parametrize over the manifest.
MANIFEST_PATH = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "images" / "MANIFEST.tsv"


def manifest_files() -> list[str]:
    """File names listed in the corpus manifest (for parametrize, read at collection)."""
    with open(MANIFEST_PATH, newline="", encoding="utf-8") as handle:
        return [row["file"] for row in csv.DictReader(handle, delimiter="\t")]


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


def jpeg_bytes(size: tuple[int, int], **save_args) -> bytes:
    """A JPEG with photographic-ish content (gradients, shapes) of ``size``."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_90).resize(size), Image.new("L", size, 90))
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **save_args)
    return buffer.getvalue()
