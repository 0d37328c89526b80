"""A site with data in it, built the way a Pi builds its own: for browser tests and benchmarks.

:func:`prepare_demo_site` runs ``flask --app vinylvault init`` (the demo
collection), sets the owner password and converts every cover ahead, so a
server started on the same data directory has a warm cache.
:func:`cache_local_cover` puts one generated cover through the real pipeline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Mapping

from PIL import Image

import config
from image_cache import ImageCache
from tests.support.servers import ROOT, ServerFailed, app_environment
from vinylvault import db
from vinylvault.access import auth
from vinylvault.library import collection


def cover_cache(settings: config.Settings) -> ImageCache:
    """An ImageCache over the same files as the app built from ``settings``."""
    return ImageCache(settings.COVERS_DIR, settings.CACHE_DATABASE_PATH, settings, local_root=settings.DATA_DIR)


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
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "vinylvault", "init"],
        cwd=ROOT,
        env=app_environment(data_dir, env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise ServerFailed(f"flask init failed:\n{result.stdout}\n{result.stderr}")
    settings = config.load(DATA_DIR=data_dir)
    conn = db.connect(settings.DATABASE_PATH)
    try:
        auth.set_password(conn, password)
        albums = collection.list_albums(conn, sort="artist", limit=collection.MAX_LIMIT).albums
    finally:
        conn.close()
    if not albums:
        raise ServerFailed("flask init loaded no albums")
    with cover_cache(settings) as cache:
        done = cache.preload_images(album.image_url for album in albums if album.image_url)
    missing = [url for url, ok in done.items() if not ok]
    if missing:
        raise ServerFailed(f"{len(missing)} covers not cached, e.g. {missing[0]}")
    return albums
