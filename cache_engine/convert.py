"""Image conversion: source bytes in, small WebP variants out.

Pure functions over bytes (no file or network I/O), built on Pillow::

    options = ConvertOptions.from_settings(settings)
    for variant in convert(data, options):     # the thumbnail comes first
        store(variant.size_type, variant.data)

The pipeline reads the header first (format allowlist, pixel cap, memory
estimate) and only then decodes, once: JPEGs at a reduced scale with ``draft()``, everything
else with ``reduce()`` inside ``resize()``. Per-pixel work (orientation,
colour management, alpha checks) happens on the already small image.
Variants are derived from the resized working image, never from the full
source, and no metadata (EXIF, XMP, ICC) reaches the output.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from PIL import ExifTags, Image, ImageCms, ImageMath, ImageOps, TiffImagePlugin, features

from .errors import CorruptImage, NotAnImage, TooManyPixels, TooMuchMemory, UnsupportedFormat

__all__ = [
    "DEFAULT_FORMATS",
    "SIZE_TYPES",
    "VariantSpec",
    "ConvertOptions",
    "SourceInfo",
    "Variant",
    "identify",
    "conversion_memory",
    "convert",
    "make_preview",
]

# Pillow warns from 89.5 Mpx and refuses from 179 Mpx. Our own cap
# (MAX_SOURCE_PIXELS, checked on the header before any decoding) is stricter,
# so the warning only adds noise for files we refuse anyway.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

DEFAULT_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"} | ({"AVIF"} if features.check("avif") else set())
)

#: What a damaged file makes Pillow's decoders raise; all mean "corrupt".
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    ZeroDivisionError,
)

#: ``resize(reducing_gap=...)``: box-reduce first, then LANCZOS over at least
#: this many times the target size; 2.0 is indistinguishable from a full
#: LANCZOS and much cheaper on large sources.
_REDUCING_GAP = 2.0

_TRANSPOSE_BY_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_PREVIEW_SIZE = 20
_PREVIEW_QUALITY = 30

_SIZE_SETTINGS = {
    "thumbnails": ("THUMBNAIL_SIZE", False),
    "detail": ("DETAIL_SIZE", False),
    "square": ("SQUARE_SIZE", True),
}
#: The renditions every cover gets, smallest first (the folders of a covers cache, too);
#: ``square`` is for photos only.
SIZE_TYPES = ("thumbnails", "detail")


@dataclass(frozen=True)
class VariantSpec:
    """One output: fitted in a ``box`` x ``box`` square, or centre-cropped to it."""

    size_type: str
    box: int
    crop: bool = False


@dataclass(frozen=True)
class ConvertOptions:
    """What :func:`convert` produces and what it accepts."""

    specs: tuple[VariantSpec, ...]
    quality: int = 85
    method: int = 2  # see BENCHMARKS.md, "Conversion"
    max_source_pixels: int = 50_000_000
    max_memory_bytes: int = 64 * 1024 * 1024
    allowed_formats: frozenset[str] = DEFAULT_FORMATS

    @classmethod
    def from_settings(cls, settings: Any, size_types: tuple[str, ...] = SIZE_TYPES) -> "ConvertOptions":
        """Options from :class:`config.Settings` for the given size types.

        :raises ValueError: for a size type other than thumbnails, detail, square.
        """
        specs = []
        for size_type in size_types:
            if size_type not in _SIZE_SETTINGS:
                raise ValueError(f"unknown size type {size_type!r}")
            setting, crop = _SIZE_SETTINGS[size_type]
            specs.append(VariantSpec(size_type, int(getattr(settings, setting)), crop))
        return cls(
            specs=tuple(specs),
            quality=int(settings.IMAGE_QUALITY),
            method=int(settings.WEBP_METHOD),
            max_source_pixels=int(settings.MAX_SOURCE_PIXELS),
            max_memory_bytes=int(settings.CONVERT_MEMORY_MB * 1024 * 1024),
        )


@dataclass(frozen=True)
class SourceInfo:
    """A source's format and its displayed size (after orientation)."""

    format: str
    width: int
    height: int


@dataclass(frozen=True)
class Variant:
    """One encoded WebP output."""

    size_type: str
    data: bytes
    width: int
    height: int


# --- Header ----------------------------------------------------------------


def _open(data: bytes, options: ConvertOptions) -> Image.Image:
    """Open ``data`` with the allowed decoders only and check its header."""
    try:
        image = Image.open(io.BytesIO(data), formats=_openers(options.allowed_formats))
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"source refused: {exc}") from None
    except Image.UnidentifiedImageError:
        raise _unidentified(data) from None
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"unreadable image header: {exc}") from None
    if image.format not in options.allowed_formats:
        raise UnsupportedFormat(f"image format {image.format} is not accepted")
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImage(f"image declares a {width}x{height} size")
    if width * height > options.max_source_pixels:
        raise TooManyPixels(
            f"image is {width}x{height} ({width * height} pixels), "
            f"more than MAX_SOURCE_PIXELS={options.max_source_pixels}"
        )
    needed = conversion_memory(image, options.specs)
    if needed > options.max_memory_bytes:
        raise TooMuchMemory(
            f"a {width}x{height} {image.format} image is too big to convert on this device: it needs about "
            f"{needed / 2**20:.0f} MiB of memory, CONVERT_MEMORY_MB allows {options.max_memory_bytes / 2**20:g}"
        )
    return image


@functools.lru_cache(maxsize=8)
def _openers(allowed_formats: frozenset[str]) -> tuple[str, ...]:
    """Pillow openers for ``allowed_formats``, in Pillow's own probing order.

    Restricting the openers means a file of any other format is never even
    parsed by its plugin. MPO files are opened by the JPEG plugin.
    """
    Image.init()
    wanted = set(allowed_formats) | ({"JPEG"} if "MPO" in allowed_formats else set())
    return tuple(name for name in Image.ID if name in wanted)


def _unidentified(data: bytes) -> NotAnImage | UnsupportedFormat:
    """Tell an image of a refused format from bytes that are no image at all.

    Only headers are parsed here; a refused format is never decoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
    except (Image.DecompressionBombError, *_DECODE_ERRORS):
        return NotAnImage("bytes are not a recognised image")
    return UnsupportedFormat(f"image format {found} is not accepted")


def _pending_orientation(image: Image.Image, *, header_only: bool = False) -> int:
    """The EXIF/XMP orientation still to be applied to ``image``'s pixels.

    Pillow's TIFF plugin reports the oriented size and transposes the pixels
    itself while loading, so for TIFF nothing is left to do (rotating again
    would turn g4_orientation_6.tif on its side). With ``header_only`` the
    metadata already parsed is used: PNG's own ``getexif()`` would decode the
    whole image to reach chunks stored after the pixels.
    """
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        return 1
    try:
        exif = Image.Image.getexif(image) if header_only else image.getexif()
        orientation = exif.get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return 1  # broken EXIF is metadata damage, not a broken image
    return orientation if orientation in _TRANSPOSE_BY_ORIENTATION else 1


def _oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation >= 5 else size


# --- Memory ------------------------------------------------------------------

#: What one conversion takes besides the pixels: codec state, the encoder's
#: buffers, the outputs.
_FIXED_MEMORY = 8 * 1024 * 1024
#: Bytes per pixel of a decoded image in Pillow, by mode (every other mode: 4).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: Copies of the pixels a format's decoder holds besides Pillow's image, in
#: bytes per pixel: libwebp decodes into its own 4-byte canvas, hands Pillow
#: the frame as a bytes object and Pillow reads it through a raw decoder's
#: buffer (three copies, measured). AVIF goes the same way and measures less.
_DECODER_COPIES = {"WEBP": 12, "AVIF": 12}
#: Where draft() stops: the JPEG decoder scales by 1/8 at most.
_SMALLEST_DRAFT = 1 / 64


def _full_size_copy(mode: str, transparency: Any) -> tuple[int, int, bool]:
    """What :func:`_resizable` makes of a ``mode`` image before it is resized.

    Returns the bytes per pixel of the full-size copies it makes (0: none),
    those of the image then resized, and whether that image has alpha (the
    resize then premultiplies a full-size copy). Follows :func:`_resizable`.
    """
    if mode.startswith("I;16") or mode == "I":
        return 9, 1, False  # to I (4), scaled (4), to L (1)
    if mode == "F":
        return 1, 1, False
    if mode in ("P", "PA"):
        alpha = transparency is not None or mode == "PA"
        return 4, 4, alpha
    if mode == "1":
        return 1, 1, False
    if (mode in ("L", "RGB") and transparency is not None) or mode in ("La", "RGBa"):
        return 4, 4, True
    return 0, _STORED_BYTES.get(mode, 4), mode in ("LA", "RGBA")


def _decoded_pixels(image: Image.Image, specs: tuple[VariantSpec, ...]) -> int:
    """How many pixels decoding ``image`` produces: JPEGs decode at a reduced scale.

    ``draft()`` picks the smallest scale whose result still covers the working
    size, so a JPEG decodes to under 4 times the working size, or to 1/64 of
    its pixels when even 1/8 would be larger than that.
    """
    width, height = image.size
    if image.format not in ("JPEG", "MPO") or not specs:
        return width * height
    working = _working_size(specs, image.size)
    return min(width * height, max(4 * working[0] * working[1], round(width * height * _SMALLEST_DRAFT)))


def conversion_memory(image: Image.Image, specs: tuple[VariantSpec, ...]) -> int:
    """Peak bytes :func:`convert` needs for the opened (not decoded) ``image``, from its header.

    The decoded pixels, the decoder's own copies, the full-size copy made for
    resizing (palette or 16-bit to 8-bit RGB/L, transparency keys to alpha),
    the premultiplied copy of an image with alpha, and the resize's
    intermediate (half the resized image's bytes at most). Measured against
    real conversions of every format in bench/bench_convert.py.
    """
    copy_bytes, resized_bytes, alpha = _full_size_copy(image.mode, image.info.get("transparency"))
    per_pixel = (
        _STORED_BYTES.get(image.mode, 4)
        + _DECODER_COPIES.get(image.format, 0)
        + copy_bytes
        + (4 if alpha else 0)
        + resized_bytes / 2
    )
    return _FIXED_MEMORY + round(_decoded_pixels(image, specs) * per_pixel)


def identify(data: bytes, options: ConvertOptions) -> SourceInfo:
    """Format and displayed size of ``data``, from the header only (no decoding).

    :raises NotAnImage: the bytes are no recognised image.
    :raises UnsupportedFormat: an image outside ``options.allowed_formats``.
    :raises TooManyPixels: more pixels than ``options.max_source_pixels``.
    :raises TooMuchMemory: converting it would take more than ``options.max_memory_bytes``.
    :raises CorruptImage: the header cannot be parsed.
    """
    with _open(data, options) as image:
        width, height = _oriented_size(image.size, _pending_orientation(image, header_only=True))
        return SourceInfo(image.format, width, height)


# --- Geometry ----------------------------------------------------------------


def _scale_for(spec: VariantSpec, size: tuple[int, int]) -> float:
    """Scale factor taking an image of ``size`` to ``spec`` (never above 1)."""
    width, height = size
    if spec.crop:
        return min(1.0, spec.box / min(width, height))
    return min(1.0, spec.box / width, spec.box / height)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``size`` times ``scale``, rounded, never below one pixel."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _target_size(spec: VariantSpec, source: tuple[int, int]) -> tuple[int, int]:
    """Output dimensions of ``spec`` for a source of displayed size ``source``."""
    if spec.crop:
        side = min(spec.box, *source)
        return side, side
    return _scaled(source, _scale_for(spec, source))


# --- Pixels --------------------------------------------------------------


def _working_size(specs: tuple[VariantSpec, ...], source: tuple[int, int]) -> tuple[int, int]:
    """The smallest size (displayed orientation) every spec can be cut from."""
    return _scaled(source, max(_scale_for(spec, source) for spec in specs))


def _draft(image: Image.Image, specs: tuple[VariantSpec, ...]) -> tuple[float, ...] | None:
    """Make a JPEG decode at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the specs.

    Returns the source box for an exact ``resize(box=...)`` when the decoder
    will scale the image down (its size is rounded up), else ``None``.
    """
    if image.format not in ("JPEG", "MPO"):
        return None
    orientation = _pending_orientation(image, header_only=True)
    working = _working_size(specs, _oriented_size(image.size, orientation))
    drafted = image.draft(None, _oriented_size(working, orientation))
    if drafted is None or drafted[1][2:] == image.size:
        return None
    return drafted[1]


def _load(image: Image.Image) -> None:
    """Decode the first frame (never seeking further: later frames can be bombs)."""
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"source refused: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"image data cannot be decoded: {exc}") from None


def _resizable(image: Image.Image) -> Image.Image:
    """Bring ``image`` to a mode ``resize()`` filters properly.

    Transparency keys (palette tRNS, RGB/L/I;16 colour keys) must become an
    alpha channel now, before filtering mixes the keyed colour away.
    """
    mode = image.mode
    transparency = image.info.get("transparency")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _from_high_depth(image, transparency)
    if mode in ("P", "PA"):
        return image.convert("RGBA" if transparency is not None or mode == "PA" else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode in ("L", "RGB") and transparency is not None:
        return image.convert("LA" if mode == "L" else "RGBA")
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper())
    return image


def _from_high_depth(image: Image.Image, transparency: Any) -> Image.Image:
    """16/32-bit greyscale to 8-bit L (or LA), scaled rather than clipped."""
    if image.mode == "F":
        return image.convert("L")
    wide = image.convert("I")
    # 16-bit samples span 0..65535; dividing by 256 keeps the tones that a
    # plain convert("L") would clip to white.
    grey = wide.point(lambda value: value * (1 / 256)).convert("L")
    if not isinstance(transparency, int):
        return grey
    alpha = ImageMath.lambda_eval(lambda args: (args["i"] != transparency) * 255, i=wide).convert("L")
    grey.putalpha(alpha)
    return grey


@functools.lru_cache(maxsize=16)
def _srgb_transform(profile: bytes, in_mode: str) -> ImageCms.ImageCmsTransform:
    """A cached transform from an embedded ICC ``profile`` to sRGB.

    Built with ``NOCACHE``: littlecms' one-pixel cache is not thread-safe, and
    the cache engine converts from several threads sharing these transforms.
    """
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), in_mode, "RGB", flags=ImageCms.Flags.NOCACHE)


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """Convert colours to sRGB RGB or RGBA; alpha passes through unchanged."""
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image.convert(image.mode[:-1]) if alpha is not None else image
    converted = None
    if profile and colour.mode in ("RGB", "L", "CMYK", "LAB"):
        try:
            converted = ImageCms.applyTransform(colour, _srgb_transform(profile, colour.mode))
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # an unusable profile: fall back to Pillow's plain conversion
    if converted is None:
        converted = colour.convert("RGB")
    if alpha is not None and alpha.getextrema() != (255, 255):
        converted.putalpha(alpha)
    return converted


def _fit(image: Image.Image, spec: VariantSpec, size: tuple[int, int]) -> Image.Image:
    """Resize (or centre-crop and resize) the working ``image`` to ``size`` for ``spec``."""
    if image.size == size:
        return image
    if spec.crop:
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _encode(image: Image.Image, quality: int, method: int) -> bytes:
    """Encode ``image`` as WebP with no EXIF, XMP or ICC chunk."""
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=method, exif=b"", xmp=b"", icc_profile=None)
    return buffer.getvalue()


def _working_image(data: bytes, options: ConvertOptions) -> tuple[Image.Image, tuple[int, int]]:
    """Decode once into the smallest sRGB, upright image every spec can be cut from.

    Returns that image and the source's displayed size (after orientation).
    """
    with _open(data, options) as image:
        declared = image.size
        box = _draft(image, options.specs)
        _load(image)
        orientation = _pending_orientation(image)
        source = _oriented_size(declared, orientation)
        working = _oriented_size(_working_size(options.specs, source), orientation)
        try:
            pixels = _resizable(image)
            if pixels.size != working or box is not None:
                pixels = pixels.resize(working, Image.Resampling.LANCZOS, box=box, reducing_gap=_REDUCING_GAP)
            if orientation != 1:
                pixels = pixels.transpose(_TRANSPOSE_BY_ORIENTATION[orientation])
            pixels = _to_srgb(pixels, image.info.get("icc_profile"))
        except _DECODE_ERRORS as exc:
            raise CorruptImage(f"image data cannot be converted: {exc}") from None
    pixels.info = {}  # never let source metadata reach an encoder
    return pixels, source


def convert(data: bytes, options: ConvertOptions) -> Iterator[Variant]:
    """Decode ``data`` once and yield one WebP :class:`Variant` per spec, smallest first.

    The smallest variant is encoded and yielded before the larger ones so a
    caller can store the thumbnail while the detail image is still encoding.
    Images are fitted in each box keeping their aspect ratio and are never
    upscaled; every variant is cut from one resized working image.

    :raises NotAnImage, UnsupportedFormat, TooManyPixels, TooMuchMemory, CorruptImage: see
        :func:`identify`; ``CorruptImage`` also for data that fails to decode.
    """
    if not options.specs:
        return
    working, source = _working_image(data, options)
    for spec in sorted(options.specs, key=lambda s: (s.box, s.crop)):
        image = _fit(working, spec, _target_size(spec, source))
        yield Variant(spec.size_type, _encode(image, options.quality, options.method), *image.size)


def make_preview(webp_thumbnail: bytes) -> bytes:
    """A tiny low-quality WebP (about 20 px on the long side) for blur-up ``data:`` URIs.

    :raises CorruptImage: ``webp_thumbnail`` cannot be decoded.
    """
    try:
        with Image.open(io.BytesIO(webp_thumbnail), formats=["WEBP"]) as image:
            image.thumbnail((_PREVIEW_SIZE, _PREVIEW_SIZE), Image.Resampling.BOX)
            preview = image.copy()
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"thumbnail cannot be decoded for a preview: {exc}") from None
    preview.info = {}
    return _encode(preview, _PREVIEW_QUALITY, 4)
