"""Sources at the largest size the converter accepts, per format and pixel mode.

:func:`largest_accepted_side` solves ``conversion_memory`` (linear in the
pixel count for every format but JPEG) for the budget in ``options``;
:func:`square_image` encodes a flat square of that side. The memory tests and
bench/bench_convert.py convert these and measure the peak RSS growth.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path

from PIL import Image

from cache_engine.convert import ConvertOptions, conversion_memory
from tests.support.paths import ROOT

#: (format, mode) pairs covering each decoder and each full-size copy the
#: pipeline makes (palette to RGB, 16-bit to 8-bit, alpha premultiplied).
CASES: tuple[tuple[str, str], ...] = (
    ("PNG", "RGB"),
    ("PNG", "RGBA"),
    ("PNG", "P"),
    ("PNG", "I;16"),
    ("WEBP", "RGB"),
    ("WEBP", "RGBA"),
    ("TIFF", "RGB"),
    ("TIFF", "CMYK"),
    ("GIF", "P"),
    ("BMP", "RGB"),
    ("BMP", "P"),
)

_SAVE_OPTIONS = {"WEBP": {"quality": 50, "method": 0}, "TIFF": {"compression": "tiff_deflate"}}


def square_image(image_format: str, mode: str, side: int) -> bytes:
    """A flat ``side`` x ``side`` image of ``mode`` encoded as ``image_format``."""
    colour = {"P": 3, "I;16": 40000, "CMYK": (20, 40, 60, 0), "RGBA": (200, 40, 40, 128)}.get(mode, (200, 40, 40))
    image = Image.new(mode, (side, side), colour)
    if mode == "P":  # a colour palette: a grey one would make BMP and PNG decode as L
        image.putpalette(bytes(range(256)) + bytes(range(255, -1, -1)) + bytes(256))
    buffer = io.BytesIO()
    image.save(buffer, image_format, **_SAVE_OPTIONS.get(image_format, {}))
    return buffer.getvalue()


def memory_of(data: bytes, options: ConvertOptions) -> int:
    """``conversion_memory`` of an encoded image (its header only)."""
    with Image.open(io.BytesIO(data)) as image:
        return conversion_memory(image, options.specs)


def largest_accepted_side(image_format: str, mode: str, options: ConvertOptions) -> int:
    """The largest square side of ``image_format``/``mode`` within ``options.max_memory_bytes``."""
    small, large = 64, 128
    at_small = memory_of(square_image(image_format, mode, small), options)
    at_large = memory_of(square_image(image_format, mode, large), options)
    per_pixel = (at_large - at_small) / (large**2 - small**2)
    fixed = at_small - per_pixel * small**2
    side = math.isqrt(int((options.max_memory_bytes - fixed) / per_pixel))
    # Rounding in conversion_memory may move the limit by one pixel.
    while fixed + per_pixel * side**2 > options.max_memory_bytes:
        side -= 1
    return side


_PEAK_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import config
from PIL import Image
from cache_engine.convert import ConvertOptions, convert

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

options = ConvertOptions.from_settings(config.load({}))
data = open(sys.argv[2], "rb").read()
Image.open(sys.argv[2]).close()  # the format's plugin is loaded in a running worker too
before = peak_kib()
sizes = [(v.width, v.height) for v in convert(data, options)]
print((peak_kib() - before) / 1024, sizes)
"""


def conversion_peak_mib(path: Path) -> tuple[float, str]:
    """Peak RSS growth (MiB) of converting ``path`` in a fresh process, and the variant sizes it made.

    ``VmHWM`` of the child itself: a child's ``ru_maxrss`` starts from its
    parent's, which would hide its own peak.
    """
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(ROOT), str(path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    growth, sizes = done.stdout.strip().split(" ", 1)
    return float(growth), sizes
