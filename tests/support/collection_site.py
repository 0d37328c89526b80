"""A real collection's site: hundreds of albums synced from the fake Discogs, covers from a test origin.

For the journeys (tests/journeys), the screenshots (tools/screenshots.py) and
the browser benchmark. :func:`collection_site` builds it the way a Pi gets
its own collection, every step over real HTTP on 127.0.0.1:

1. an image origin (:class:`tests.support.origin.Origin`) serving one
   distinct JPEG cover per collection item;
2. the fake Discogs API (:class:`tests.support.fake_discogs.FakeDiscogs`)
   whose items point their ``cover_image``/``thumb`` at that origin;
3. ``flask --app vinylvault init`` (no demo) and ``flask --app vinylvault
   sync`` against the fake, an owner password;
4. optionally every cover converted ahead through the cache's preload (a warm
   cache: what a Pi has after its first night);
5. gunicorn with gunicorn.conf.py on the same data directory.

    with collection_site(workdir, albums=520) as site:
        site.url("/"), site.cover_urls, site.origin.hits("/covers/3.jpg")
"""

from __future__ import annotations

import colorsys
import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageDraw

import config
from tests.support.demo_site import warm_covers
from tests.support.fake_discogs import FakeDiscogs
from tests.support.origin import Origin
from tests.support.owner import PASSWORD
from tests.support.paths import discogs_corpus
from tests.support.servers import GunicornServer, ServerFailed, app_environment, flask_cli
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection

#: The albums of the journeys' collection: eleven grid pages.
ALBUMS = 520
COVER_PATH = "/covers/"
#: A size like a Discogs "cover_image": bigger than the 600 px detail box.
COVER_SIDE = 640


def cover_jpeg(n: int, side: int = COVER_SIDE) -> bytes:
    """A distinct JPEG cover for item ``n``: its own colour, a record drawn on it, its number."""
    hue = (n * 0.61803398875) % 1.0
    background = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.85))
    image = Image.new("RGB", (side, side), background)
    draw = ImageDraw.Draw(image)
    margin = side // 8
    draw.ellipse((margin, margin, side - margin, side - margin), fill=(18, 16, 15))
    label = side // 6
    draw.ellipse(
        (side // 2 - label, side // 2 - label, side // 2 + label, side // 2 + label),
        fill=tuple(255 - c for c in background),
    )
    draw.text((side // 16, side // 16), f"No. {n}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


def site_environment(fake: FakeDiscogs) -> dict[str, str]:
    """``VINYL_VAULT_*`` settings of a Pi synced from ``fake``, its covers allowed from 127.0.0.1."""
    return {
        "VINYL_VAULT_DISCOGS_API_URL": fake.url,
        "VINYL_VAULT_DISCOGS_USERNAME": fake.username,
        "VINYL_VAULT_DISCOGS_TOKEN": fake.token,
        "VINYL_VAULT_DISCOGS_MIN_INTERVAL_SECONDS": "0",
        "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
        "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
        "VINYL_VAULT_COVERS_PER_PASS": "0",
        # The test origin is on loopback; one host serves every cover, so no pacing between them.
        "VINYL_VAULT_ALLOW_PRIVATE_SOURCES": "true",
        "VINYL_VAULT_HOST_MIN_INTERVAL_SECONDS": "0",
        "VINYL_VAULT_ON_DEMAND_WAIT_SECONDS": "20",
    }


@dataclass
class CollectionSite:
    """The running site and what is known about its collection."""

    server: GunicornServer
    origin: Origin
    fake: FakeDiscogs
    data_dir: Path
    password: str
    env: dict[str, str]
    cover_urls: list[str] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def settings(self) -> config.Settings:
        """The settings the server runs with (the same environment)."""
        return config.load(environ=app_environment(self.data_dir, self.env))

    def warm_covers(self) -> None:
        """Convert every cover now (the cache's preload); fails loudly if one is refused."""
        warm_covers(self.settings(), self.cover_urls)


def _synced_cover_urls(settings: config.Settings) -> list[str]:
    conn = db.connect(settings.DATABASE_PATH)
    try:
        rows = conn.execute(
            "SELECT CASE WHEN cover_url != '' THEN cover_url ELSE thumb_url END FROM albums ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [url for (url,) in rows if url]


@contextlib.contextmanager
def collection_site(
    workdir: Path, *, albums: int = ALBUMS, password: str = PASSWORD, warm: bool = True, workers: int = 2
) -> Iterator[CollectionSite]:
    """Origin, fake Discogs, a synced collection of ``albums`` copies and gunicorn, all on 127.0.0.1."""
    workdir = Path(workdir)
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    with Origin() as origin:
        for n in range(albums):
            origin.add_file(f"{COVER_PATH}{n}.jpg", cover_jpeg(n))
        with FakeDiscogs(discogs_corpus(), items=albums, cover_base=origin.url(COVER_PATH)) as fake:
            fake.remaining = fake.ratelimit  # a full window: the client never slows down here
            env = site_environment(fake)
            flask_cli(data_dir, "init", env=env, check=True)
            flask_cli(data_dir, "sync", env=env, check=True)
            settings = config.load(environ=app_environment(data_dir, env))
            conn = db.connect(settings.DATABASE_PATH)
            try:
                auth.set_password(conn, password)
                synced = conn.execute("SELECT count(*) FROM albums").fetchone()[0]
            finally:
                conn.close()
            if synced != albums:
                raise ServerFailed(f"sync stored {synced} albums, expected {albums}")
            site_urls = _synced_cover_urls(settings)
            if warm:
                warm_covers(settings, site_urls)
            with GunicornServer(data_dir, log_path=workdir / "gunicorn.log", workers=workers, env=env) as server:
                yield CollectionSite(server, origin, fake, data_dir, password, env, site_urls)


def expected_total(site: CollectionSite, **query: str) -> int:
    """How many albums the collection holds for a grid query (``q`` searches)."""
    conn = db.connect(site.settings().DATABASE_PATH)
    try:
        if "q" in query:
            return collection.search(conn, query["q"], limit=1).total
        return collection.list_albums(conn, **query, limit=1).total
    finally:
        conn.close()


def most_common_genre(site: CollectionSite) -> str:
    conn = db.connect(site.settings().DATABASE_PATH)
    try:
        return collection.filter_options(conn).genres[0].value
    finally:
        conn.close()
