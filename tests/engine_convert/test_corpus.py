"""Every file of the shared image corpus is handled as MANIFEST.tsv says."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageStat, features

from cache_engine import errors
from cache_engine.convert import ConvertOptions, convert, identify
from tests.support.conversions import (
    DETAIL,
    THUMB,
    assert_no_metadata,
    by_type,
    decode,
    manifest_rows,
    mean_abs_diff,
)

#: The specific refusal of every file the manifest says to reject.
REFUSALS: dict[str, type[errors.SourceRefused]] = {
    "avif_hopper.heif": errors.NotAnImage,
    "bmp_b_reallybig.bmp": errors.TooManyPixels,
    "bmp_g_rgb32bf.bmp": errors.CorruptImage,
    "broken.png": errors.NotAnImage,
    "broken_data_stream.png": errors.CorruptImage,
    "decompression_bomb.gif": errors.TooManyPixels,
    "l2rgb_read.bmp": errors.TooManyPixels,
    "png_decompression_dos.png": errors.CorruptImage,
    "truncated_image.png": errors.CorruptImage,
    "truncated_jpeg.jpg": errors.CorruptImage,
    "ultrahdr.jpg": errors.CorruptImage,
    "zero_width.gif": errors.NotAnImage,
}
if not features.check("avif"):
    REFUSALS["avif_hopper.avif"] = errors.NotAnImage

#: Files whose first frame has real transparency: the WebP keeps alpha.
WITH_ALPHA = {
    "transparent.png",
    "transparent.webp",
    "p_trns_single.png",
    "pil123p.png",
    "uncompressed_la.png",
    "i_trns.png",
    "dispose_bgnd_rgba.gif",
    "tRNS_null_1x1.png",
    "bmp_q_rgba32.bmp",
    "xmp_tags_orientation_exiftool.png",
}
#: RGBA sources whose alpha is fully opaque: the useless channel is dropped.
OPAQUE_ALPHA = {"icc_profile.png", "apng_delay.png", "apng_mode_16bit.png", "iss634.webp"}

#: (thumbnail, detail) sizes checked exactly.
EXACT_SIZES = {
    "orientation_rectangle.jpg": ((1, 2), (1, 2)),
    "high_ascii_chars.png": ((150, 6), (600, 24)),
    "bw_gradient.png": ((150, 6), (256, 10)),
    "g4_orientation_6.tif": ((150, 22), (590, 88)),
    "tRNS_null_1x1.png": ((1, 1), (1, 1)),
    "xmp_test.jpg": ((150, 80), (600, 322)),
    "truncated_exif_dpi.jpg": ((112, 150), (450, 600)),
    "junk_jpeg_header.jpg": ((150, 112), (600, 450)),
    "hopper.jpg": ((128, 128), (128, 128)),
}

ALL_FILES = list(manifest_rows())


def test_manifest_covers_every_image_in_the_folder(corpus_dir: Path) -> None:
    documentation = {"MANIFEST.tsv", "PROBE_RESULTS.tsv"}
    on_disk = {
        p.name
        for p in corpus_dir.iterdir()
        if p.is_file() and p.name not in documentation and p.suffix not in (".txt", ".md")
    }
    assert on_disk == set(ALL_FILES)
    assert len(ALL_FILES) == 62


def test_refusal_table_matches_the_manifest(manifest: dict[str, dict[str, str]]) -> None:
    rejected = {name for name, row in manifest.items() if row["expected_handling"].startswith("reject")}
    if not features.check("avif"):
        rejected.add("avif_hopper.avif")
    assert rejected == set(REFUSALS)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", ALL_FILES)
def test_corpus_file(name: str, corpus_dir: Path, options: ConvertOptions) -> None:
    data = (corpus_dir / name).read_bytes()
    if name in REFUSALS:
        with pytest.raises(REFUSALS[name]) as caught:
            list(convert(data, options))
        assert caught.value.reason and "\n" not in str(caught.value)
        return
    info = identify(data, options)
    variants = list(convert(data, options))
    assert [v.size_type for v in variants] == ["thumbnails", "detail"]
    for variant in variants:
        box = THUMB if variant.size_type == "thumbnails" else DETAIL
        image = decode(variant.data)
        assert image.format == "WEBP"
        assert image.size == (variant.width, variant.height)
        assert 1 <= image.width <= min(box, info.width) and 1 <= image.height <= min(box, info.height)
        assert max(image.size) == min(box, max(info.width, info.height)), "not fitted to the box"
        source_ratio, ratio = info.width / info.height, image.width / image.height
        assert abs(ratio - source_ratio) <= source_ratio / min(image.size), "aspect ratio changed"
        assert image.mode == ("RGBA" if name in WITH_ALPHA else "RGB")
        assert_no_metadata(variant.data)
    if name in EXACT_SIZES:
        sizes = by_type(variants)
        assert (
            (sizes["thumbnails"].width, sizes["thumbnails"].height),
            (sizes["detail"].width, sizes["detail"].height),
        ) == EXACT_SIZES[name]


def test_opaque_alpha_is_dropped_and_real_alpha_kept(corpus_dir: Path, options: ConvertOptions) -> None:
    for name in OPAQUE_ALPHA:
        assert Image.open(corpus_dir / name).mode == "RGBA"
        assert decode(next(convert((corpus_dir / name).read_bytes(), options)).data).mode == "RGB"
    transparent = decode(next(convert((corpus_dir / "transparent.png").read_bytes(), options)).data)
    assert transparent.getchannel("A").getextrema()[0] < 50


def _detail_from_bytes(data: bytes, options: ConvertOptions) -> Image.Image:
    return decode(by_type(list(convert(data, options)))["detail"].data)


def _detail(path: Path, options: ConvertOptions) -> Image.Image:
    return _detail_from_bytes(path.read_bytes(), options)


@pytest.mark.parametrize("name", [n for n in ALL_FILES if n.startswith("hopper_orientation_")])
def test_orientation_matches_upright_reference(name: str, corpus_dir: Path, options: ConvertOptions) -> None:
    reference = Image.open(corpus_dir / "hopper.jpg")
    converted = _detail(corpus_dir / name, options)
    assert mean_abs_diff(converted, reference) < 10
    # Without applying the orientation the same pixels are far off: the check has teeth.
    assert mean_abs_diff(Image.open(corpus_dir / name), reference) > 30


def test_xmp_only_orientation_is_applied(corpus_dir: Path, options: ConvertOptions) -> None:
    source = Image.open(corpus_dir / "xmp_tags_orientation_exiftool.png").convert("RGBA")
    converted = _detail(corpus_dir / "xmp_tags_orientation_exiftool.png", options).convert("RGBA")
    upright = source.transpose(Image.Transpose.ROTATE_180)
    assert mean_abs_diff(converted, upright) < mean_abs_diff(converted, source)


def test_libtiff_orientation_is_not_applied_twice(corpus_dir: Path, options: ConvertOptions) -> None:
    assert _detail(corpus_dir / "g4_orientation_6.tif", options).size == (590, 88)


def _to_srgb(image: Image.Image, profile: bytes) -> Image.Image:
    """The reference: littlecms applied by the test itself."""
    return ImageCms.profileToProfile(
        image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )


def _mean_distance(a: Image.Image, b: Image.Image) -> float:
    return sum(abs(x - y) for x, y in zip(ImageStat.Stat(a.convert("RGB")).mean, ImageStat.Stat(b.convert("RGB")).mean))


def test_adobe_rgb_photo_converted_to_srgb(corpus_dir: Path, options: ConvertOptions) -> None:
    source = Image.open(corpus_dir / "xmp_test.jpg")
    converted = _detail(corpus_dir / "xmp_test.jpg", options)
    naive = source.convert("RGB").resize(converted.size, Image.Resampling.LANCZOS)
    managed = _to_srgb(naive, source.info["icc_profile"])
    # Channel means: WebP's per-pixel noise averages out, a colour shift does not.
    assert _mean_distance(managed, naive) > 1, "profile makes no difference: the test proves nothing"
    assert _mean_distance(converted, managed) < _mean_distance(converted, naive) / 3


@pytest.mark.parametrize("name", ["xmp_test.jpg", "truncated_exif_dpi.jpg", "frame_size.mpo"])
def test_embedded_profile_applied_to_saturated_colour(
    name: str, corpus_dir: Path, tmp_path: Path, options: ConvertOptions
) -> None:
    # truncated_exif_dpi.jpg is plain white, which no profile changes: put its
    # profile on a saturated colour to see it applied.
    profile = Image.open(corpus_dir / name).info["icc_profile"]
    colour = Image.new("RGB", (64, 64), (40, 200, 60))
    buffer = io.BytesIO()
    colour.save(buffer, "PNG", icc_profile=profile)
    converted = _detail_from_bytes(buffer.getvalue(), options)
    expected = _to_srgb(colour, profile)
    assert mean_abs_diff(expected, colour) > 3, "profile makes no difference: the test proves nothing"
    assert mean_abs_diff(converted, expected) < 3


def test_big_icc_profile_is_not_copied(corpus_dir: Path, options: ConvertOptions) -> None:
    variants = list(convert((corpus_dir / "icc_profile_big.jpg").read_bytes(), options))
    for variant in variants:
        assert_no_metadata(variant.data)
        assert len(variant.data) < 60_000


@pytest.mark.parametrize("name", ["pil_sample_cmyk.jpg", "tiff_tiled_cmyk_jpeg.tif"])
def test_cmyk_becomes_sane_rgb(name: str, corpus_dir: Path, options: ConvertOptions) -> None:
    converted = _detail(corpus_dir / name, options)
    assert converted.mode == "RGB"
    pixels = list(converted.get_flattened_data())
    red = [p for p in pixels if p[0] > 150 and p[1] < 90 and p[2] < 90]
    dark = [p for p in pixels if max(p) < 60]
    # The sample is red lettering on a black ground; inverted CMYK would be cyan on white.
    assert len(red) > len(pixels) * 0.05
    assert len(dark) > len(pixels) * 0.4


def test_16bit_greyscale_with_transparency_is_scaled_not_clipped(corpus_dir: Path, options: ConvertOptions) -> None:
    source = Image.open(corpus_dir / "i_trns.png")
    assert source.mode == "I;16" and source.info["transparency"] == 255
    converted = _detail(corpus_dir / "i_trns.png", options)
    assert converted.mode == "RGBA"
    opaque = [p for p in converted.get_flattened_data() if p[3] == 255]
    assert opaque and max(max(p[:3]) for p in opaque) < 16  # 16-bit values 0..254 are near black
    assert any(p[3] == 0 for p in converted.get_flattened_data())
