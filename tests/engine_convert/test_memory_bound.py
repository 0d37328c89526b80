"""Every accepted source converts within CONVERT_MEMORY_MB; bigger ones are refused from the header.

The bound is checked on real conversions in fresh processes (peak RSS growth,
``VmHWM``): memory, unlike time, does not depend on how busy the machine is.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import config
from cache_engine import errors
from cache_engine.convert import ConvertOptions, convert, identify
from tests.support.big_images import CASES, conversion_peak_mib, largest_accepted_side, square_image
from tests.support.images import png_declaring

OPTIONS = ConvertOptions.from_settings(config.load({}))
BUDGET_MIB = OPTIONS.max_memory_bytes / 2**20


def test_a_49_megapixel_png_is_refused_for_memory_before_decoding():
    # Under MAX_SOURCE_PIXELS, but decoding it would take about 200 MiB. Its
    # pixel data is only 8x8: decoding it would fail as corrupt, not this.
    data = png_declaring(7000, 7000)
    assert 7000 * 7000 <= OPTIONS.max_source_pixels

    with pytest.raises(errors.TooMuchMemory) as refused:
        list(convert(data, OPTIONS))
    assert refused.value.reason == "too_much_memory"
    assert "7000x7000 PNG" in refused.value.message
    with pytest.raises(errors.TooMuchMemory):
        identify(data, OPTIONS)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(square_image("JPEG", "RGB", 8))
    frame = data.index(b"\xff\xc0")  # SOF0: length (2), precision (1), height (2), width (2)
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_jpeg_of_the_same_size_is_accepted():
    # draft() decodes a JPEG at down to 1/8 scale: 7000x7000 becomes 875x875.
    assert identify(jpeg_declaring(7000, 7000), OPTIONS).width == 7000


@pytest.mark.parametrize("image_format,mode", CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_one_pixel_more_than_the_largest_accepted_side_is_refused(image_format: str, mode: str):
    side = largest_accepted_side(image_format, mode, OPTIONS)

    assert identify(square_image(image_format, mode, side), OPTIONS).width == side
    with pytest.raises(errors.TooMuchMemory):
        identify(square_image(image_format, mode, side + 1), OPTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("image_format,mode", CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_the_largest_accepted_source_converts_within_the_bound(tmp_path: Path, image_format: str, mode: str):
    side = largest_accepted_side(image_format, mode, OPTIONS)
    path = tmp_path / f"largest.{image_format.lower()}"
    path.write_bytes(square_image(image_format, mode, side))

    growth_mib, sizes = conversion_peak_mib(path)

    assert sizes == "[(150, 150), (600, 600)]"
    assert growth_mib <= BUDGET_MIB, f"{side}x{side} {image_format} {mode}: {growth_mib:.1f} MiB"
