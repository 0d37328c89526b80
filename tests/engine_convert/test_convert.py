"""The conversion pipeline on synthetic sources: geometry, order, metadata, refusals."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import config
from cache_engine import errors
from cache_engine.convert import (
    DEFAULT_FORMATS,
    ConvertOptions,
    SourceInfo,
    VariantSpec,
    convert,
    identify,
    make_preview,
)
from tests.support.big_images import conversion_peak_mib
from tests.support.conversions import assert_no_metadata, by_type, decode
from tests.support.images import photo_jpeg


def _sizes(data: bytes, options: ConvertOptions) -> dict[str, tuple[int, int]]:
    return {v.size_type: (v.width, v.height) for v in convert(data, options)}


@pytest.mark.parametrize(
    ("source", "thumbnail", "detail"),
    [
        ((3000, 2000), (150, 100), (600, 400)),
        ((2000, 3000), (100, 150), (400, 600)),
        ((750, 30), (150, 6), (600, 24)),
        ((3000, 120), (150, 6), (600, 24)),
        ((4000, 10), (150, 1), (600, 2)),
        ((1, 1), (1, 1), (1, 1)),
        ((100, 50), (100, 50), (100, 50)),
        ((400, 300), (150, 112), (400, 300)),
        ((601, 601), (150, 150), (600, 600)),
    ],
)
def test_fits_in_box_keeps_aspect_never_upscales(source, thumbnail, detail, options) -> None:
    sizes = _sizes(photo_jpeg(source), options)
    assert sizes == {"thumbnails": thumbnail, "detail": detail}


def test_variants_decode_to_their_declared_size(options) -> None:
    for variant in convert(photo_jpeg((1400, 1400)), options):
        image = decode(variant.data)
        assert (image.format, image.size) == ("WEBP", (variant.width, variant.height))


def test_thumbnail_is_yielded_before_detail_is_encoded(options) -> None:
    variants = convert(photo_jpeg((1400, 1000)), options)
    first = next(variants)
    assert first.size_type == "thumbnails"
    # The generator is lazy: the detail image only exists once asked for.
    assert variants.gi_frame is not None
    assert next(variants).size_type == "detail"
    assert next(variants, None) is None


def test_square_crop_variant(options) -> None:
    square = ConvertOptions(specs=(VariantSpec("detail", 600), VariantSpec("square", 200, crop=True)))
    assert _sizes(photo_jpeg((3000, 1000)), square) == {"square": (200, 200), "detail": (600, 200)}
    assert _sizes(photo_jpeg((100, 50)), square) == {"square": (50, 50), "detail": (100, 50)}
    # A 10:1 source still gives a square from enough pixels (the working image is sized for it).
    tall = by_type(list(convert(photo_jpeg((200, 2000)), square)))
    assert (tall["square"].width, tall["square"].height) == (200, 200)
    assert (tall["detail"].width, tall["detail"].height) == (60, 600)


def test_centre_crop_takes_the_middle(tmp_path) -> None:
    image = Image.new("RGB", (900, 300), (0, 0, 255))
    image.paste((255, 0, 0), (300, 0, 600, 300))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    square = ConvertOptions(specs=(VariantSpec("square", 200, crop=True),))
    (variant,) = convert(buffer.getvalue(), square)
    red, green, blue = decode(variant.data).convert("RGB").getpixel((100, 100))
    assert red > 200 and blue < 50


def test_from_settings_maps_size_types_and_encoding() -> None:
    settings = config.load(
        {},
        THUMBNAIL_SIZE=120,
        DETAIL_SIZE=500,
        SQUARE_SIZE=180,
        IMAGE_QUALITY=70,
        WEBP_METHOD=3,
        MAX_SOURCE_PIXELS=1000,
    )
    options = ConvertOptions.from_settings(settings, size_types=("thumbnails", "detail", "square"))
    assert options.specs == (
        VariantSpec("thumbnails", 120),
        VariantSpec("detail", 500),
        VariantSpec("square", 180, crop=True),
    )
    assert (options.quality, options.method, options.max_source_pixels) == (70, 3, 1000)
    assert options.allowed_formats == DEFAULT_FORMATS
    assert ConvertOptions.from_settings(config.load({})).specs == (
        VariantSpec("thumbnails", 150),
        VariantSpec("detail", 600),
    )
    with pytest.raises(ValueError):
        ConvertOptions.from_settings(settings, size_types=("../etc",))


def test_quality_setting_changes_the_output(options) -> None:
    source = photo_jpeg((800, 800))
    low = ConvertOptions(specs=options.specs, quality=20)
    assert len(by_type(list(convert(source, low)))["detail"].data) < len(
        by_type(list(convert(source, options)))["detail"].data
    )


def test_identify_reads_the_header_only(options) -> None:
    data = photo_jpeg((2000, 1000))
    # Cut the entropy-coded data: a decoder would fail, the header is intact.
    assert identify(data[:2000], options) == SourceInfo("JPEG", 2000, 1000)
    with pytest.raises(errors.CorruptImage):
        list(convert(data[:2000], options))


def test_identify_reports_the_displayed_orientation(options) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    assert identify(photo_jpeg((300, 100), exif=exif), options) == SourceInfo("JPEG", 100, 300)
    assert _sizes(photo_jpeg((300, 100), exif=exif), options)["detail"] == (100, 300)


def test_pixel_cap_from_the_header(options) -> None:
    capped = ConvertOptions(specs=options.specs, max_source_pixels=999_999)
    data = photo_jpeg((1000, 1000))
    with pytest.raises(errors.TooManyPixels) as caught:
        identify(data, capped)
    assert caught.value.reason == "too_many_pixels"
    with pytest.raises(errors.TooManyPixels):
        list(convert(data, capped))
    assert identify(data, ConvertOptions(specs=options.specs, max_source_pixels=1_000_000)).width == 1000


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"", errors.NotAnImage),
        (b"<!doctype html><html><body>Not found</body></html>", errors.NotAnImage),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, errors.NotAnImage),  # JPEG magic, no JPEG
    ],
)
def test_bad_bytes_are_refused(data, refusal, options) -> None:
    with pytest.raises(refusal):
        list(convert(data, options))


@pytest.mark.parametrize("pillow_format", ["PPM", "TGA", "ICO", "PCX"])
def test_formats_outside_the_allowlist_are_refused(pillow_format, options) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(buffer, pillow_format)
    with pytest.raises(errors.UnsupportedFormat) as caught:
        list(convert(buffer.getvalue(), options))
    assert caught.value.reason == "unsupported_format"


def test_allowlist_is_an_option(options) -> None:
    png_only = ConvertOptions(specs=options.specs, allowed_formats=frozenset({"PNG"}))
    with pytest.raises(errors.UnsupportedFormat):
        list(convert(photo_jpeg((64, 64)), png_only))


def test_metadata_never_reaches_the_output(options) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8825)[2] = (52.0, 22.0, 1.5)  # GPS latitude: owner photos must not leak it
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    data = photo_jpeg((900, 700), exif=exif, xmp=xmp)
    assert b"Camera maker" in data
    for variant in convert(data, options):
        assert_no_metadata(variant.data)
        assert b"Camera maker" not in variant.data


def test_sixteen_bit_greyscale_gradient_keeps_its_tones(options) -> None:
    gradient = Image.linear_gradient("L").resize((256, 256)).convert("I")
    wide = gradient.point(lambda value: value * 257).convert("I;16")
    buffer = io.BytesIO()
    wide.save(buffer, "PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "I;16"
    detail = decode(by_type(list(convert(buffer.getvalue(), options)))["detail"].data).convert("L")
    top, bottom = detail.getpixel((128, 5)), detail.getpixel((128, 250))
    assert top < 30 and bottom > 225  # a plain convert("L") would clip everything to white


def test_first_frame_only_of_an_animation(options) -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    (thumbnail, _) = convert(buffer.getvalue(), options)
    red, green, blue = decode(thumbnail.data).convert("RGB").getpixel((32, 32))
    assert red > 200 and blue < 50


def test_preview_is_tiny_and_decodes(options) -> None:
    thumbnail = next(convert(photo_jpeg((1200, 800)), options))
    preview = make_preview(thumbnail.data)
    image = decode(preview)
    assert image.format == "WEBP" and 16 <= max(image.size) <= 24
    assert len(preview) < 300
    assert_no_metadata(preview)
    with pytest.raises(errors.CorruptImage):
        make_preview(b"RIFF\x00\x00\x00\x00WEBPjunk")


def test_preview_keeps_transparency() -> None:
    image = Image.new("RGBA", (150, 150), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 75, 150))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP")
    assert decode(make_preview(buffer.getvalue())).mode == "RGBA"


@pytest.mark.slow
def test_large_jpeg_is_never_decoded_at_full_size(tmp_path) -> None:
    # 9 MP at full size is 27 MB of RGB alone; draft() decodes it at 1/4 scale.
    path = tmp_path / "nine_megapixels.jpg"
    path.write_bytes(photo_jpeg((3680, 2456)))
    growth_mib, _sizes = conversion_peak_mib(path)
    assert 0 < growth_mib < 20, f"RSS grew {growth_mib:.1f} MiB converting a 9 MP JPEG"
