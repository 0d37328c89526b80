"""The demo collection, and synthetic collections for tests and benchmarks.

:func:`load_demo` stores about 48 invented albums (artists, titles, labels,
years across seven decades, genres, tracklists) whose covers are drawn here
with Pillow into ``DATA_DIR/demo/covers/<n>.jpg``: gradients, circles,
stripes, rings and the title set in type, so that a fresh machine with no
Discogs account and no network shows a full grid through the real image
pipeline (``cover_url = "local:demo/covers/<n>.jpg"``). Demo albums have ids
and release ids ``-1 .. -48``, are marked ``is_demo`` and go away with
:func:`remove_demo`, together with their cached images.

:func:`make_synthetic_collection` fills a database with ``n`` plausible
albums (for the 10,000-album tests and page benchmarks).
"""

from __future__ import annotations

import colorsys
import contextlib
import os
import random
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from cache_engine.sqlite import write_transaction
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, Label, ReleaseDetails, Track

if TYPE_CHECKING:
    from image_cache import ImageCache

COVER_SIZE = 600
DEMO_COVERS = Path("demo") / "covers"
#: Every demo cover's source URL starts with this (``local:demo/covers/<n>.jpg``).
DEMO_URL_PREFIX = f"local:{DEMO_COVERS.as_posix()}/"

# (artist, genre, styles, label) x two albums each: (title, year, rating)
_DEMO_ARTISTS = [
    (
        "The Velvet Orchards",
        "Rock",
        ["Psychedelic Rock"],
        "Harvest Moon",
        [("Lanterns in the Rye", 1968, 5), ("Copper Sky", 1971, 4)],
    ),
    (
        "Mira Kestrel",
        "Jazz",
        ["Modal", "Post Bop"],
        "Blue Quay",
        [("Night Ferry", 1962, 5), ("Seven Bridges", 1965, 3)],
    ),
    (
        "Solaris Drift",
        "Electronic",
        ["Ambient", "Downtempo"],
        "Polar Labs",
        [("Low Orbit", 1997, 4), ("Aurora Tapes", 2003, 0)],
    ),
    (
        "Dust Bowl Choir",
        "Folk, World, & Country",
        ["Americana"],
        "Prairie Sound",
        [("Wheat and Iron", 1974, 3), ("Long Road Hymns", 1979, 0)],
    ),
    ("Neon Pagoda", "Electronic", ["Synth-pop"], "Kite Records", [("Tokyo Rain", 1984, 4), ("Glass Arcade", 1986, 2)]),
    ("Harbor Lights Quartet", "Jazz", ["Cool Jazz"], "Blue Quay", [("Fog Signals", 1958, 4), ("Tidewater", 1960, 0)]),
    ("Cassia Moon", "Pop", ["Dream Pop"], "Lumen", [("Paper Satellites", 1991, 5), ("Honey Static", 1994, 3)]),
    ("Iron Meridian", "Rock", ["Hard Rock"], "Anvil Works", [("Forge", 1977, 3), ("Black Horizon", 1980, 0)]),
    (
        "Ola Fenwick",
        "Classical",
        ["Contemporary"],
        "Northlight Classics",
        [("Études for Winter", 1989, 4), ("Cello Landscapes", 2011, 0)],
    ),
    (
        "Kalimba Sun",
        "Funk / Soul",
        ["Afrobeat"],
        "Lagos Groove",
        [("Market Day", 1973, 5), ("Brass Harmattan", 1976, 4)],
    ),
    ("Static Bloom", "Rock", ["Shoegaze"], "Lumen", [("Petal Noise", 1992, 4), ("Slow Dissolve", 1995, 0)]),
    ("Marisol Vega", "Latin", ["Bossa Nova"], "Rio Claro", [("Agua Viva", 1966, 5), ("Sol de Inverno", 1969, 0)]),
    (
        "Gridlock Theory",
        "Hip Hop",
        ["Boom Bap"],
        "Concrete Tapes",
        [("Blueprints", 1994, 4), ("Transit Maps", 1998, 3)],
    ),
    (
        "Amber Lowlands",
        "Folk, World, & Country",
        ["Folk"],
        "Prairie Sound",
        [("Hearth", 2008, 0), ("Salt Marsh Songs", 2012, 2)],
    ),
    (
        "Parallax Youth",
        "Rock",
        ["Post-Punk"],
        "Anvil Works",
        [("Concrete Flowers", 1981, 5), ("Vanishing Point", 1983, 1)],
    ),
    (
        "Deep Canopy",
        "Electronic",
        ["Deep House"],
        "Polar Labs",
        [("Understory", 2016, 3), ("Rainforest Sessions", 2019, 0)],
    ),
    ("Hollow Pines", "Rock", ["Indie Rock"], "Kite Records", [("Cabin Fever", 2005, 4), ("Winter Light", 2009, 0)]),
    ("The Ostinatos", "Jazz", ["Hard Bop"], "Blue Quay", [("Walking Bass", 1959, 3), ("Midnight Session", 1963, 0)]),
    (
        "Velour Avenue",
        "Funk / Soul",
        ["Soul", "Disco"],
        "Lagos Groove",
        [("Satin Nights", 1977, 4), ("Mirror Ball", 1979, 5)],
    ),
    (
        "Nadja Orsk (2)",
        "Rock",
        ["Doom Metal", "Drone"],
        "Anvil Works",
        [("Tectonic", 2014, 3), ("Glacier Mass", 2017, 0)],
    ),
    ("Lumen Choir", "Classical", ["Choral"], "Northlight Classics", [("Vespers", 1999, 4), ("Cathedral Air", 2002, 0)]),
    (
        "Pixel Harbor",
        "Electronic",
        ["Chiptune"],
        "Kite Records",
        [("Eight Bit Tides", 2010, 2), ("Save Point", 2013, 0)],
    ),
    (
        "Saffron Road",
        "Reggae",
        ["Roots Reggae", "Dub"],
        "Island Bay",
        [("Dub Monsoon", 1978, 4), ("Kingston Echo", 1982, 3)],
    ),
    ("Quiet Engines", "Electronic", ["Krautrock"], "Polar Labs", [("Autobahn Dreams", 1975, 5), ("Motorik", 2021, 0)]),
]
_FORMATS = [
    ("Vinyl", "Vinyl, LP, Album"),
    ("Vinyl", "2 x Vinyl, LP, Album, Gatefold"),
    ("CD", "CD, Album"),
    ("Vinyl", 'Vinyl, 7", 45 RPM'),
    ("Cassette", "Cassette, Album"),
]
_WORDS = (
    "Morning Tide Glass Ember River Signal Harbour Lantern Velvet Orbit Static Meadow Cinder Echo Marble "
    "Willow Neon Thunder Paper Silver Hollow Canyon Quartz Winter Summer Fever Shadow Comet Violet Atlas "
    "Drift Mirage Spiral Harvest Cobalt Juniper Ashes Lilac Tundra Halo"
).split()
_FOLDERS = ("Uncategorized", "Living room", "Jazz shelf")


def _font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans Bold where installed, else Pillow's bundled font (always present)."""
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    """Three harmonious colours: a base hue and two neighbours, varied lightness."""
    hue = rng.random()
    colours = []
    for shift, light, sat in ((0.0, 0.25, 0.65), (0.08, 0.55, 0.75), (0.5, 0.7, 0.55)):
        r, g, b = colorsys.hls_to_rgb((hue + shift) % 1.0, light, sat)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def _gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.new("RGB", (1, size))
    for y in range(size):
        t = y / (size - 1)
        column.putpixel((0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((size, size))


def _circles(img: Image.Image, pal: list, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(rng.randint(3, 7)):
        r = rng.randint(40, 220)
        x, y = rng.randint(0, COVER_SIZE), rng.randint(0, COVER_SIZE)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*rng.choice(pal[1:]), rng.randint(90, 200)))


def _stripes(img: Image.Image, pal: list, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    width = rng.randint(18, 60)
    for i, x in enumerate(range(-COVER_SIZE, COVER_SIZE * 2, width * 2)):
        colour = (*pal[1 + i % 2], 170)
        draw.polygon(
            [(x, 0), (x + width, 0), (x + width + COVER_SIZE, COVER_SIZE), (x + COVER_SIZE, COVER_SIZE)], fill=colour
        )


def _rings(img: Image.Image, pal: list, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img)
    cx, cy = rng.randint(150, 450), rng.randint(150, 450)
    for i, r in enumerate(range(560, 20, -rng.randint(28, 55))):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=pal[i % 3])


def _blocks(img: Image.Image, pal: list, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    cell = rng.choice((75, 100, 120))
    for x in range(0, COVER_SIZE, cell):
        for y in range(0, COVER_SIZE, cell):
            if rng.random() < 0.55:
                draw.rectangle((x + 6, y + 6, x + cell - 6, y + cell - 6), fill=(*rng.choice(pal), 210))


def _sunburst(img: Image.Image, pal: list, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    rays = rng.choice((12, 16, 24))
    for i in range(rays):
        draw.pieslice((-300, -300, 900, 900), 360 / rays * i, 360 / rays * (i + 0.5), fill=(*pal[1 + i % 2], 150))
    draw.ellipse((200, 200, 400, 400), fill=pal[0])


_DESIGNS: list[Callable[[Image.Image, list, random.Random], None]] = [_circles, _stripes, _rings, _blocks, _sunburst]


def _wrap(text: str, font: ImageFont.ImageFont, width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(trial, font=font) <= width:
            lines[-1] = trial
        else:
            lines.append(word)
    return lines


def draw_cover(n: int, artist: str, title: str) -> Image.Image:
    """A 600 px abstract cover for demo album ``n``: deterministic, different for every ``n``."""
    rng = random.Random(n * 7919)
    pal = _palette(rng)
    img = _gradient(COVER_SIZE, pal[0], tuple(max(0, c - 60) for c in pal[2]))
    _DESIGNS[n % len(_DESIGNS)](img, pal, rng)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    draw = ImageDraw.Draw(img, "RGBA")
    band_top = 410 if n % 2 else 40
    draw.rectangle((0, band_top, COVER_SIZE, band_top + 150), fill=(10, 10, 14, 150))
    # Long titles take two smaller lines so they never run into the artist below.
    lines = _wrap(title.upper(), _font(50), COVER_SIZE - 60, draw)
    size = 50 if len(lines) == 1 else 40
    title_font, artist_font = _font(size), _font(26)
    y = band_top + 14
    for line in _wrap(title.upper(), title_font, COVER_SIZE - 60, draw)[:2]:
        draw.text((30, y), line, font=title_font, fill=(250, 248, 240))
        y += size + 4
    draw.text(
        (32, band_top + 150 - 38), collection.strip_disambiguation(artist), font=artist_font, fill=(230, 225, 210)
    )
    return img


def _tracklist(rng: random.Random) -> list[Track]:
    count = rng.randint(6, 10)
    tracks = []
    for i in range(count):
        side = "A" if i < count // 2 else "B"
        number = i + 1 if side == "A" else i + 1 - count // 2
        title = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
        tracks.append(Track(f"{side}{number}", title, f"{rng.randint(2, 7)}:{rng.randint(0, 59):02d}", "track"))
    return tracks


def demo_albums() -> list[tuple[AlbumRecord, ReleaseDetails]]:
    """The demo collection as records (ids -1..-48), deterministic."""
    result = []
    n = 0
    for artist, genre, styles, label, albums in _DEMO_ARTISTS:
        for title, year, rating in albums:
            n += 1
            rng = random.Random(n)
            format_name, format_text = _FORMATS[n % len(_FORMATS)]
            record = AlbumRecord(
                id=-n,
                source="demo",
                release_id=-n,
                artist=artist,
                title=title,
                year=year,
                labels=[Label(label, f"{label[:3].upper()}-{1000 + n * 17}")],
                formats=[format_text],
                format_names=[format_name],
                genres=[genre],
                styles=list(styles),
                folder=_FOLDERS[n % 3],
                rating=rating,
                date_added=f"20{10 + n % 14:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00",
                cover_url=f"{DEMO_URL_PREFIX}{n}.jpg",
                media_condition="Near Mint (NM or M-)" if n % 3 else "Very Good Plus (VG+)",
                sleeve_condition="Very Good (VG)" if n % 4 == 0 else "Near Mint (NM or M-)",
                notes="Demo album: invented for VinylVault.",
                artists=[(None, artist)],
            )
            details = ReleaseDetails(
                release_id=-n,
                country=rng.choice(("UK", "US", "Germany", "Japan", "Brazil")),
                released=str(year),
                notes="",
                tracklist=_tracklist(rng),
                images=[],
                image_url="",
                fetched_at=collection.now_iso(),
            )
            result.append((record, details))
    return result


def _write_cover(path: Path, n: int, artist: str, title: str) -> None:
    """Write atomically: the image cache must never read a half-written source."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jpg.tmp")
    draw_cover(n, artist, title).save(tmp, "JPEG", quality=88, optimize=True)
    os.replace(tmp, path)


def load_demo(conn: sqlite3.Connection, data_dir: str | os.PathLike[str]) -> int:
    """Store the demo collection and draw its missing covers; idempotent. Returns the number of albums."""
    albums = demo_albums()
    for record, _details in albums:
        path = Path(data_dir) / DEMO_COVERS / f"{-record.id}.jpg"
        if not path.exists():
            _write_cover(path, -record.id, record.artist, record.title)
    with write_transaction(conn):
        for record, details in albums:
            collection.save_album(conn, record)
            collection.save_release_details(conn, details)
    return len(albums)


class RemovedDemo(NamedTuple):
    """What :func:`remove_demo` took away."""

    albums: int
    cached_images: int


def remove_demo(
    conn: sqlite3.Connection, data_dir: str | os.PathLike[str], cache: ImageCache | None = None
) -> RemovedDemo:
    """Remove every demo album, its details, its drawn cover files and, given the ``cache``, their
    cached images (every size, index rows and files), so nothing of the demo is left counted."""
    with write_transaction(conn):
        ids = [row[0] for row in conn.execute("SELECT id FROM albums WHERE is_demo = 1")]
        collection.delete_albums(conn, ids)
        conn.execute(
            "DELETE FROM release_details WHERE release_id < 0 AND release_id NOT IN (SELECT release_id FROM albums)"
        )
    # By prefix, not by album: it also catches images left by a removal that had no cache at hand.
    cached = cache.remove_sources_under(DEMO_URL_PREFIX) if cache is not None else 0
    _remove_cover_files(Path(data_dir) / DEMO_COVERS)
    return RemovedDemo(albums=len(ids), cached_images=cached)


def _remove_cover_files(covers: Path) -> None:
    """The drawn covers (and a draw interrupted mid-write), then the folders if nothing else is there."""
    if not covers.is_dir():
        return
    for path in [*covers.glob("*.jpg"), *covers.glob("*.jpg.tmp")]:
        path.unlink(missing_ok=True)
    for folder in (covers, covers.parent):
        with contextlib.suppress(OSError):  # not empty: something not ours lives there
            folder.rmdir()


def make_synthetic_collection(conn: sqlite3.Connection, n: int, *, seed: int = 0, with_details: float = 0.3) -> None:
    """Add ``n`` plausible Discogs-like albums (ids 1..n) for tests and benchmarks.

    Varied artists (with disambiguation suffixes), titles, years (some
    unknown), ratings, genres, styles, formats, folders and labels; a
    ``with_details`` fraction gets a stored tracklist. Cover URLs are
    ``https://i.discogs.com/synthetic/<id>.jpg`` (never fetched by tests).
    """
    rng = random.Random(seed)
    genres = [g for _a, g, _s, _l, _al in _DEMO_ARTISTS]
    styles = [s for _a, _g, ss, _l, _al in _DEMO_ARTISTS for s in ss]
    labels = sorted({l for _a, _g, _s, l, _al in _DEMO_ARTISTS})
    artists = [
        f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}" + (f" ({rng.randint(2, 9)})" if rng.random() < 0.1 else "")
        for _ in range(max(1, n // 4))
    ]
    with write_transaction(conn):
        for album_id in range(1, n + 1):
            artist = rng.choice(artists)
            format_name, format_text = rng.choice(_FORMATS)
            record = AlbumRecord(
                id=album_id,
                source="discogs",
                release_id=100_000 + album_id,
                artist=artist,
                title=" ".join(rng.sample(_WORDS, rng.randint(1, 4))),
                year=0 if rng.random() < 0.05 else rng.randint(1950, 2025),
                labels=[Label(rng.choice(labels), f"{rng.choice('ABCDEFGH')}{rng.randint(100, 99999)}")],
                formats=[format_text],
                format_names=[format_name],
                genres=rng.sample(genres, rng.randint(1, 2)),
                styles=rng.sample(styles, rng.randint(0, 3)),
                folder=rng.choice(_FOLDERS),
                rating=rng.choice((0, 0, 0, 1, 2, 3, 4, 5)),
                date_added=f"{rng.randint(2005, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
                cover_url=f"https://i.discogs.com/synthetic/{album_id}.jpg",
                artists=[(None, artist)],
            )
            collection.save_album(conn, record)
            if rng.random() < with_details:
                collection.save_release_details(
                    conn,
                    ReleaseDetails(
                        release_id=record.release_id,
                        country="UK",
                        released=str(record.year),
                        notes="",
                        tracklist=_tracklist(rng),
                        images=[],
                        image_url="",
                        fetched_at=collection.now_iso(),
                    ),
                )
