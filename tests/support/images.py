"""Real images made on the spot: plain covers, photographic ones, seeded noise, lying headers."""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

from PIL import Image, ImageDraw


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), colour: str = "teal", **save: Any) -> bytes:
    """An image of one colour in ``fmt`` (any format Pillow writes); ``save`` goes to ``Image.save``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt, **save)
    return buffer.getvalue()


def jpeg(width: int = 320, height: int = 240, colour: str = "teal") -> bytes:
    """A JPEG cover of one colour, bigger than a thumbnail by default."""
    return image_bytes("JPEG", (width, height), colour)


def jpeg_bytes(width: int, height: int, seed: int = 0, noise: bool = False) -> bytes:
    """A JPEG whose colour ``seed`` picks; ``noise`` fills it with seeded noise instead, which
    does not compress (WebP renditions of tens of KB, for budget and full-disk tests)."""
    rng = random.Random(seed)
    if noise:
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def photo_jpeg(size: tuple[int, int], **save: Any) -> bytes:
    """A JPEG with photographic-ish content (gradients, a shape) of ``size``; ``save`` as for ``Image.save``."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_90).resize(size), Image.new("L", size, 90))
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is rewritten to claim ``width`` x ``height`` (its data stays 8x8)."""
    data = bytearray(image_bytes("PNG", size=(8, 8)))
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)
