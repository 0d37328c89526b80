"""nginx in front of gunicorn on 127.0.0.1 over one data directory, as a Pi runs them."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.demo_site import cache_local_cover
from tests.support.servers import NGINX_BINARY, GunicornServer, NginxServer, free_port

# Big enough for gzip_min_length, like the real stylesheet.
STYLESHEET = "".join(f".cover-{i} {{ width: {i}px; height: {i}px; }}\n" for i in range(200))


@dataclass
class Stack:
    """nginx in front of gunicorn, both on 127.0.0.1, over one data directory."""

    app: GunicornServer
    web: NginxServer
    data_dir: Path
    covers_dir: Path
    static_dir: Path

    def cache_cover(self, name: str, colour: tuple[int, int, int] = (200, 40, 40)) -> str:
        """Put a cover through the real cache pipeline, as the app's workers would; its key."""
        return cache_local_cover(self.data_dir, name, colour)

    def cover_path(self, key: str, size_type: str = "thumbnails") -> Path:
        return self.covers_dir / size_type / key[:2] / f"{key}.webp"


def _require_nginx() -> None:
    if shutil.which(NGINX_BINARY) is None:
        pytest.fail(f"{NGINX_BINARY} missing: ./run_tests.sh installs Debian's nginx")


@contextlib.contextmanager
def running_stack(root: Path, **app_env: str) -> Iterator[Stack]:
    """Start gunicorn (one worker: enough here, and quick) and nginx in front of it, on HTTP and HTTPS."""
    _require_nginx()
    data_dir = root / "data"
    covers_dir = data_dir / "cache" / "covers"
    static_dir = root / "static"
    covers_dir.mkdir(parents=True)
    static_dir.mkdir()
    (static_dir / "style.css").write_text(STYLESHEET)
    https_port = free_port()
    env = {
        "VINYL_VAULT_TRUSTED_PROXIES": "127.0.0.1",
        "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
        "VINYL_VAULT_HTTPS_PORT": str(https_port),
        **app_env,
    }
    with GunicornServer(data_dir, log_path=root / "gunicorn.log", workers=1, env=env) as app:
        with NginxServer(
            root / "nginx", upstream_port=app.port, covers_dir=covers_dir, static_dir=static_dir, https_port=https_port
        ) as web:
            yield Stack(app, web, data_dir, covers_dir, static_dir)
