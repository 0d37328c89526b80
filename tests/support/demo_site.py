"""A site with data in it, built the way a Pi builds its own: for browser tests and benchmarks.

:func:`prepare_demo_site` runs ``flask --app vinylvault init`` (the demo
collection), sets the owner password and converts every cover ahead, so a
server started on the same data directory has a warm cache;
:func:`demo_site` also starts gunicorn on it. :func:`cache_local_cover` puts
one generated cover through the real pipeline.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from PIL import Image

import config
from image_cache import ImageCache
from tests.support.owner import PASSWORD
from tests.support.servers import GunicornServer, ServerFailed, flask_cli
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection

#: The settings of the browser tests' demo sites: no sync, and covers a page waits for.
SITE_ENV = {
    "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
    "VINYL_VAULT_ON_DEMAND_WAIT_SECONDS": "20",
}


def cover_cache(settings: config.Settings) -> ImageCache:
    """An ImageCache over the same files as the app built from ``settings``."""
    return ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings, local_root=settings.DATA_DIR)


def warm_covers(settings: config.Settings, urls: Iterable[str]) -> None:
    """Every URL known to and converted into the cover cache of ``settings``; ServerFailed names a refused one."""
    urls = list(urls)
    with cover_cache(settings) as cache:
        cache.register_sources(urls)
        done = cache.preload_images(urls)
    missing = [url for url, ok in done.items() if not ok]
    if missing:
        raise ServerFailed(f"{len(missing)} covers not cached, e.g. {missing[0]}")


def cache_local_cover(data_dir: Path, name: str, colour: tuple[int, int, int]) -> str:
    """Convert a generated 800 px JPEG under ``data_dir`` into the cover cache; the entry's key."""
    source = data_dir / "sources" / f"{name}.jpg"
    source.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (800, 800), colour).save(source, "JPEG", quality=90)
    url = f"local:sources/{name}.jpg"
    with cover_cache(config.load(DATA_DIR=data_dir)) as cache:
        if cache.get_image(url, "thumbnails", wait=30) is None:
            raise ServerFailed(f"the cache refused {url}")
        return cache.key_for(url)


def prepare_demo_site(data_dir: Path, password: str, env: Mapping[str, str] | None = None) -> list[collection.Album]:
    """Initialize ``data_dir`` like run.sh, set the owner's password, warm the cache; the albums."""
    flask_cli(data_dir, "init", env=env, check=True, timeout=300)
    settings = config.load(DATA_DIR=data_dir)
    conn = db.connect(settings.DATABASE_PATH)
    try:
        auth.set_password(conn, password)
        albums = collection.list_albums(conn, sort="artist", limit=collection.MAX_LIMIT).albums
    finally:
        conn.close()
    if not albums:
        raise ServerFailed("flask init loaded no albums")
    warm_covers(settings, (album.image_url for album in albums if album.image_url))
    return albums


@dataclass
class DemoSite:
    """The running demo site and what the tests know about its data."""

    server: GunicornServer
    data_dir: Path
    album_ids: list[int]
    cover_urls: list[str]

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def warm_covers(self) -> None:
        """Convert every cover again (after a test that cleared or removed some)."""
        warm_covers(config.load(DATA_DIR=self.data_dir), self.cover_urls)


@contextlib.contextmanager
def demo_site(root: Path, env: Mapping[str, str] = SITE_ENV, workers: int = 2) -> Iterator[DemoSite]:
    """The demo site in ``root`` under gunicorn with a warm cache, its owner's password
    :data:`tests.support.owner.PASSWORD`, and the settings in ``env``."""
    data_dir = root / "data"
    albums = prepare_demo_site(data_dir, PASSWORD, env)
    with GunicornServer(data_dir, log_path=root / "gunicorn.log", workers=workers, env=env) as server:
        yield DemoSite(
            server, data_dir, [album.id for album in albums], [album.image_url for album in albums if album.image_url]
        )
