"""The vinyl-record placeholder shown while a cover is missing or converting.

Drawn once per size with ``PIL.ImageDraw`` at twice the size and downsampled
(ImageDraw has no anti-aliasing), on a transparent background so it sits on
the dark UI, and kept in memory: the app serves it from there, so it answers
even on a full disk. :func:`ensure_placeholder` also writes it atomically
next to the cached covers for callers that want a file.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

from PIL import Image, ImageDraw

from .files import write_atomically

__all__ = ["render_placeholder", "ensure_placeholder", "placeholder_name"]

_SUPERSAMPLE = 2
_DISC = (24, 24, 27, 255)
_GROOVE = (48, 48, 54, 255)
_SHEEN = (72, 72, 80, 255)
_LABEL = (196, 64, 52, 255)
_LABEL_RING = (228, 132, 84, 255)
_HOLE = (0, 0, 0, 0)
_QUALITY = 90


_SIZE_TYPE = re.compile(r"[a-z][a-z_]{0,31}")


def placeholder_name(size_type: str) -> str:
    """File name of the placeholder for ``size_type``.

    :raises ValueError: ``size_type`` is not a plain lower-case name, so it
        can never smuggle a path component into the file name.
    """
    if not isinstance(size_type, str) or not _SIZE_TYPE.fullmatch(size_type):
        raise ValueError(f"invalid size type {size_type!r}")
    return f"placeholder_{size_type}.webp"


def _circle(draw: ImageDraw.ImageDraw, centre: float, radius: float, **style: object) -> None:
    draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), **style)


def _draw_record(side: int) -> Image.Image:
    """A record on a transparent ``side`` x ``side`` canvas (supersampled size)."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = side / 2
    radius = side * 0.48
    _circle(draw, centre, radius, fill=_DISC)
    groove_width = max(1, side // 256)
    for fraction in (0.94, 0.86, 0.79, 0.72, 0.66, 0.60, 0.54, 0.48, 0.43):
        _circle(draw, centre, radius * fraction, outline=_GROOVE, width=groove_width)
    # Two light arcs suggest the sheen of a glossy surface.
    arc_box = (centre - radius * 0.8, centre - radius * 0.8, centre + radius * 0.8, centre + radius * 0.8)
    draw.arc(arc_box, 200, 250, fill=_SHEEN, width=groove_width * 3)
    draw.arc(arc_box, 20, 70, fill=_SHEEN, width=groove_width * 3)
    _circle(draw, centre, radius * 0.36, fill=_LABEL)
    _circle(draw, centre, radius * 0.30, outline=_LABEL_RING, width=groove_width * 2)
    _circle(draw, centre, max(1.0, radius * 0.035), fill=_HOLE)
    return image


@functools.lru_cache(maxsize=8)
def render_placeholder(size: int) -> bytes:
    """A ``size`` x ``size`` vinyl-record graphic as WebP bytes (with alpha), drawn once per size
    and process and then kept in memory (a few KB each), so serving one never touches the disk.

    :raises ValueError: ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"placeholder size must be positive, got {size}")
    image = _draw_record(size * _SUPERSAMPLE).resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=_QUALITY, method=4)
    return buffer.getvalue()


def ensure_placeholder(directory: Path, size_type: str, size: int) -> Path:
    """Path of ``directory/placeholder_<size_type>.webp``, writing it first if missing.

    The file is written to a temporary file in ``directory``, fsynced and
    renamed into place, so concurrent callers (threads or processes) never see
    a partial file; if several race, the last complete rename wins and every
    version is identical.
    """
    directory = Path(directory)
    target = directory / placeholder_name(size_type)
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    # Mode 0644: nginx serves placeholders straight from disk.
    write_atomically(target, render_placeholder(size), directory, mode=0o644, prefix=".placeholder-")
    return target
