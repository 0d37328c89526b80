"""Every VinylVault setting, in one place.

Each setting has a default here and can be overridden by an environment
variable named ``VINYL_VAULT_<NAME>`` (``VINYL_VAULT_MAX_CACHE_SIZE_GB=0.05``).
Values are parsed by the type of their default and validated once, at start:
a bad value stops the program with a one-line :class:`ConfigError` naming the
variable, instead of failing later somewhere far from the cause.

Usage::

    import config
    settings = config.load()            # reads os.environ
    settings.MAX_CACHE_SIZE_GB          # 2.0
    settings.CACHE_DIR                  # Path(...)/data/cache

Paths left as ``None`` below are derived from ``DATA_DIR`` (so setting
``VINYL_VAULT_DATA_DIR`` moves the database and the cache together).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple

BASE_DIR = Path(__file__).resolve().parent
ENV_PREFIX = "VINYL_VAULT_"

#: Environment names kept from the original project, mapped to today's names.
ENV_ALIASES = {
    "VINYL_VAULT_CACHE_SIZE_GB": "MAX_CACHE_SIZE_GB",
    "VINYL_VAULT_DEBUG": "DEBUG",
}

VERSION = "0.1.0"


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message is one line."""


def _setting(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    metadata = {"help": help, "min": minimum, "max": maximum, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence settings")
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    # --- Where things live -------------------------------------------------
    DATA_DIR: Path = _setting(BASE_DIR / "data", "Folder holding the database, the cache and photos.")
    DATABASE_PATH: Path | None = _setting(None, "Collection database (default DATA_DIR/vinylvault.db).")
    CACHE_DIR: Path | None = _setting(None, "Image cache root (default DATA_DIR/cache).")
    COVERS_DIR: Path | None = _setting(None, "Cover cache folder (default CACHE_DIR/covers).")
    CACHE_DATABASE_PATH: Path | None = _setting(None, "Cache index (default CACHE_DIR/cache_index.db).")
    PHOTOS_DIR: Path | None = _setting(None, "Owner photos: originals and derivatives (default DATA_DIR/photos).")

    # --- Image cache: sizes and encoding -----------------------------------
    MAX_CACHE_SIZE_GB: float = _setting(2.0, "Byte budget of the cover cache, in GiB.", minimum=0.0001)
    MIN_FREE_DISK_MB: float = _setting(
        100.0,
        "Free disk space always left, in MiB: the image caches remove old images, or stop saving new "
        "ones and photo uploads, before going below it, whatever their budget.",
        minimum=0.0,
    )
    CACHE_LOW_WATER_FRACTION: float = _setting(
        0.9, "Eviction frees space down to this fraction of the budget.", minimum=0.1, maximum=1.0
    )
    THUMBNAIL_SIZE: int = _setting(150, "Grid thumbnail box, in px.", minimum=16, maximum=1024)
    DETAIL_SIZE: int = _setting(600, "Detail image box, in px.", minimum=64, maximum=4096)
    SQUARE_SIZE: int = _setting(200, "Square photo thumbnail side, in px.", minimum=16, maximum=1024)
    IMAGE_QUALITY: int = _setting(85, "WebP quality (1-100).", minimum=1, maximum=100)
    WEBP_METHOD: int = _setting(2, "WebP encoder effort (0 fast .. 6 slow); see BENCHMARKS.md.", minimum=0, maximum=6)
    MAX_SOURCE_PIXELS: int = _setting(
        50_000_000, "Largest source image accepted, in pixels, read from the header before decoding.", minimum=1
    )
    CONVERT_MEMORY_MB: float = _setting(
        64.0,
        "Most memory one image conversion may take, estimated from the header; larger images are "
        "refused before decoding (JPEGs decode at reduced scale and are rarely affected).",
        minimum=16.0,
    )
    MAX_DOWNLOAD_MB: float = _setting(20.0, "Largest source download, in MiB.", minimum=0.001)

    # --- Image cache: fetching ---------------------------------------------
    USER_AGENT: str = _setting(
        f"VinylVault/{VERSION} +https://github.com/vinylvault/vinylvault",
        "User-Agent sent to Discogs and image hosts (Discogs requires one).",
    )
    CONNECT_TIMEOUT_SECONDS: float = _setting(5.0, "TCP/TLS connect timeout.", minimum=0.1)
    READ_TIMEOUT_SECONDS: float = _setting(15.0, "Timeout between two reads of a response.", minimum=0.1)
    DOWNLOAD_DEADLINE_SECONDS: float = _setting(60.0, "Overall limit for one download, retries included.", minimum=0.5)
    MAX_REDIRECTS: int = _setting(5, "Redirect hops followed (each validated again).", minimum=0, maximum=20)
    FETCH_RETRIES: int = _setting(3, "Retries on 429, 5xx and connection errors.", minimum=0, maximum=10)
    ALLOW_PRIVATE_SOURCES: bool = _setting(
        False, "Allow image URLs on loopback/private networks (tests, a LAN image server)."
    )
    SOURCE_HOST_ALLOWLIST: tuple[str, ...] = _setting(
        (), "If set, only these hosts (comma-separated; '.example.com' matches subdomains) are fetched."
    )
    HOST_MIN_INTERVAL_SECONDS: float = _setting(
        1.0, "Least time between two requests to one host, across all processes.", minimum=0.0
    )
    MAX_CONCURRENT_DOWNLOADS: int = _setting(
        3, "Downloads at a time across every process sharing the cache.", minimum=1, maximum=32
    )
    NEGATIVE_CACHE_MIN_SECONDS: float = _setting(300.0, "First retry delay for a failed URL.", minimum=0.0)
    NEGATIVE_CACHE_MAX_SECONDS: float = _setting(86400.0, "Longest retry delay for a failed URL.", minimum=0.0)

    # --- Image cache: bookkeeping and memory tier --------------------------
    ACCESS_FLUSH_INTERVAL_SECONDS: float = _setting(
        30.0, "How often batched cache hits are written to the index.", minimum=0.05
    )
    MEMORY_CACHE_ENABLED: bool = _setting(False, "Keep hot encoded images in process memory (see BENCHMARKS.md).")
    MEMORY_CACHE_SIZE_MB: float = _setting(128.0, "Memory tier budget per process, in MiB.", minimum=0.0)
    IMAGE_CACHE_TTL_HOURS: float = _setting(24.0, "Memory tier entry lifetime.", minimum=0.0)
    ON_DEMAND_WAIT_SECONDS: float = _setting(
        4.0, "How long a request for an uncached image waits for its conversion.", minimum=0.0
    )

    # --- Serving -----------------------------------------------------------
    BIND: str = _setting(
        "0.0.0.0:8080", "Where gunicorn listens: host:port (127.0.0.1:8080 behind nginx) or unix:/path/to.sock."
    )
    HTTPS_PORT: int = _setting(
        0,
        "Port nginx serves HTTPS on with the LAN certificate of deploy/lan_tls.py (443 as shipped); 0: no HTTPS. "
        "When set, the guests' QR code opens the HTTPS address and plain-HTTP pages show the way to it.",
        minimum=0,
        maximum=65535,
    )
    FILE_DELIVERY: str = _setting(
        "direct",
        "How cache files are sent: direct, x-accel-redirect or x-sendfile.",
        choices=("direct", "x-accel-redirect", "x-sendfile"),
    )
    REQUEST_HEAD_TIMEOUT_SECONDS: float = _setting(
        10.0, "A connection whose request line and headers (and a small body) take longer is answered 408.", minimum=0.1
    )
    X_ACCEL_PREFIX: str = _setting("/_cache_files/", "nginx internal location mapped to COVERS_DIR.")
    FALLBACK_TO_ORIGINAL: bool = _setting(
        False, "Let pages fall back to a remote image's original URL (Discogs URLs need authentication)."
    )
    PRELOAD_MAX_URLS: int = _setting(1000, "Most URLs in one preload request.", minimum=1)
    MAX_JSON_BYTES: int = _setting(
        1_048_576, "Largest request body other than a photo upload (JSON, forms).", minimum=1024
    )
    JOB_LEASE_SECONDS: float = _setting(
        120.0, "A background job left this long without progress is resumed by another worker.", minimum=1.0
    )
    JOB_POLL_SECONDS: float = _setting(2.0, "How often an idle job runner looks for queued jobs.", minimum=0.05)
    HEALTH_MIN_FREE_MB: float = _setting(
        500.0, "Free disk below this makes cache health degraded (below a tenth of it, unhealthy).", minimum=0.0
    )
    HEALTH_MAX_ERROR_RATE: float = _setting(
        0.25, "Share of failed fetches above which cache health is degraded.", minimum=0.0, maximum=1.0
    )

    # --- Security ----------------------------------------------------------
    SECRET_KEY: str = _setting("", "Session signing key (default: generated once into DATA_DIR/secret_key).")
    TRUSTED_PROXIES: tuple[str, ...] = _setting(
        (), "Proxy addresses whose X-Forwarded-For is believed (comma-separated)."
    )
    RATE_LIMIT_PER_MINUTE: int = _setting(60, "Mutating requests (API calls, plays) per client per minute.", minimum=1)
    LOGIN_ATTEMPTS_PER_MINUTE: int = _setting(10, "Login attempts per client per minute.", minimum=1)
    GUESTS_NEED_LINK: bool = _setting(
        False,
        "Only the owner and visitors who opened a live guest link (made on the admin page) see the "
        "collection; everyone else gets a page asking for a link.",
    )

    # --- Collection and Discogs ------------------------------------------
    DISCOGS_API_URL: str = _setting("https://api.discogs.com", "Discogs API base URL (tests use a fake).")
    DISCOGS_USERNAME: str = _setting("", "Discogs user whose collection is synced (or set at /setup).")
    DISCOGS_TOKEN: str = _setting("", "Discogs personal access token (or set at /setup; never logged).")
    DISCOGS_MIN_INTERVAL_SECONDS: float = _setting(
        1.0, "Least time between two Discogs API requests (60/min per IP).", minimum=0.0
    )
    SYNC_INTERVAL_HOURS: float = _setting(24.0, "Automatic Discogs sync period; 0 turns it off.", minimum=0.0)
    COVERS_PER_PASS: int = _setting(
        100,
        "Releases fetched per background pass to fill in missing covers (CSV imports); 0 turns it off.",
        minimum=0,
        maximum=10_000,
    )
    DEMO_WHEN_EMPTY: bool = _setting(True, "Load the demo collection when nothing is configured.")
    PAGE_SIZE: int = _setting(48, "Albums per grid page.", minimum=6, maximum=500)

    # --- Kiosk (the Pi's touchscreen) --------------------------------------
    KIOSK_MODE: bool = _setting(
        False, "Show every browser the touchscreen kiosk view (one browser turns it on by opening /?kiosk=1)."
    )
    KIOSK_IDLE_MINUTES: float = _setting(
        3.0,
        "Minutes without a touch before the kiosk shows what is playing, or a slow wall of covers.",
        minimum=0.01,
        maximum=1440.0,
    )
    KIOSK_DIM_FROM_HOUR: int = _setting(
        0,
        "Hour (0-23, the Pi's clock) from which the kiosk screen dims itself; the same hour as "
        "KIOSK_DIM_UNTIL_HOUR never dims.",
        minimum=0,
        maximum=23,
    )
    KIOSK_DIM_UNTIL_HOUR: int = _setting(
        0, "Hour (0-23) at which the kiosk screen is bright again.", minimum=0, maximum=23
    )
    GUEST_URL: str = _setting(
        "",
        "Address a guest's phone opens from the QR code (default: this machine's network address and the "
        "port of BIND, or the address the page was opened at); e.g. http://records.home when behind nginx.",
    )
    # --- Spinning and scrobbling -------------------------------------------
    SPIN_UNKNOWN_TRACK_SECONDS: int = _setting(
        240, "Length assumed for a track whose duration Discogs does not know, in seconds.", minimum=10, maximum=3600
    )
    SPIN_FORGOTTEN_MINUTES: float = _setting(
        60.0, "A side still on the turntable this long after its end is taken as played and closed.", minimum=1.0
    )
    SCROBBLE_TICK_SECONDS: float = _setting(
        15.0, "How often the background tick queues and sends scrobbles; 0 turns the tick off.", minimum=0.0
    )
    SCROBBLE_MAX_BACKOFF_SECONDS: float = _setting(
        1800.0, "Longest wait between two tries of a scrobble a service did not take.", minimum=1.0
    )
    LISTENBRAINZ_API_URL: str = _setting(
        "https://api.listenbrainz.org", "ListenBrainz API base URL (tests use a fake)."
    )
    LASTFM_API_URL: str = _setting("https://ws.audioscrobbler.com/2.0/", "Last.fm API URL (tests use a fake).")
    LASTFM_AUTH_URL: str = _setting("https://www.last.fm/api/auth/", "Last.fm page where the owner allows VinylVault.")

    # --- Owner photos --------------------------------------------------------
    MAX_IMAGE_UPLOAD_SIZE_MB: float = _setting(20.0, "Largest photo upload, in MiB.", minimum=0.01)
    MAX_IMAGES_PER_ALBUM: int = _setting(50, "Most photos per album.", minimum=1)

    # --- Process -----------------------------------------------------------
    DEBUG: bool = _setting(
        False,
        "On its own, nothing (kept so the original project's VINYL_VAULT_DEBUG still reads); "
        "with DEV_DEBUGGER, Flask's debug mode.",
    )
    DEV_DEBUGGER: bool = _setting(
        False,
        "With DEBUG, Flask's debug mode: templates reload when edited, and the vinylvault loggers log at DEBUG "
        "level from the app's first line through Flask's logger, whatever LOG_LEVEL says. Never the interactive "
        "Werkzeug debugger: gunicorn has none, and flask commands (flask run --debug too) follow FLASK_DEBUG, "
        "not these two settings.",
    )
    LOG_LEVEL: str = _setting("INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    # ------------------------------------------------------------------------
    def derived(self) -> "Settings":
        """Fill the paths left as ``None`` from ``DATA_DIR``."""
        data = Path(self.DATA_DIR)
        cache = Path(self.CACHE_DIR) if self.CACHE_DIR else data / "cache"
        return dataclasses.replace(
            self,
            DATA_DIR=data,
            DATABASE_PATH=Path(self.DATABASE_PATH) if self.DATABASE_PATH else data / "vinylvault.db",
            CACHE_DIR=cache,
            COVERS_DIR=Path(self.COVERS_DIR) if self.COVERS_DIR else cache / "covers",
            CACHE_DATABASE_PATH=(
                Path(self.CACHE_DATABASE_PATH) if self.CACHE_DATABASE_PATH else cache / "cache_index.db"
            ),
            PHOTOS_DIR=Path(self.PHOTOS_DIR) if self.PHOTOS_DIR else data / "photos",
        )

    @property
    def max_cache_bytes(self) -> int:
        return int(self.MAX_CACHE_SIZE_GB * 1024**3)

    @property
    def min_free_disk_bytes(self) -> int:
        return int(self.MIN_FREE_DISK_MB * 1024**2)

    @property
    def max_download_bytes(self) -> int:
        return int(self.MAX_DOWNLOAD_MB * 1024**2)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(name: str, raw: str, default: Any, type_hint: str) -> Any:
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected true/false")
    if isinstance(default, int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected a whole number") from None
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected a finite number")
        return value
    if isinstance(default, tuple):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if isinstance(default, Path) or "Path" in type_hint:
        if not text:
            raise ConfigError(f"{ENV_PREFIX}{name}: empty path")
        return Path(text).expanduser()
    return raw


class BindAddress(NamedTuple):
    """A parsed ``BIND``: ``host`` and ``port``, or ``unix_path`` for a Unix socket."""

    host: str = ""
    port: int = 0
    unix_path: str = ""


def parse_bind(text: str) -> BindAddress:
    """``host:port`` (an IPv6 host in brackets) or ``unix:PATH``; :class:`ConfigError` otherwise.

    gunicorn would accept more (a bare host, a port range), but a bad port
    there surfaces as a traceback from deep inside ``socket``: only these
    forms are let through.
    """
    if text.startswith("unix:"):
        if not text[5:]:
            raise ConfigError(f"{ENV_PREFIX}BIND={text!r}: expected unix:/path/to.sock")
        return BindAddress(unix_path=text[5:])
    host, sep, port_text = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    if not sep or not host or "[" in host or "]" in host:
        raise ConfigError(f"{ENV_PREFIX}BIND={text!r}: expected host:port, e.g. 0.0.0.0:8080")
    if ":" in host and not bracketed:
        raise ConfigError(f"{ENV_PREFIX}BIND={text!r}: put an IPv6 address in brackets, e.g. [::1]:8080")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{ENV_PREFIX}BIND={text!r}: the port must be a number from 1 to 65535")
    return BindAddress(host=host, port=int(port_text))


def _validate(settings: Settings) -> None:
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        meta = f.metadata
        if meta.get("min") is not None and value < meta["min"]:
            raise ConfigError(f"{ENV_PREFIX}{f.name}={value!r}: must be at least {meta['min']}")
        if meta.get("max") is not None and value > meta["max"]:
            raise ConfigError(f"{ENV_PREFIX}{f.name}={value!r}: must be at most {meta['max']}")
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(f"{ENV_PREFIX}{f.name}={value!r}: must be one of {', '.join(meta['choices'])}")
    if settings.NEGATIVE_CACHE_MAX_SECONDS < settings.NEGATIVE_CACHE_MIN_SECONDS:
        raise ConfigError(f"{ENV_PREFIX}NEGATIVE_CACHE_MAX_SECONDS must not be below NEGATIVE_CACHE_MIN_SECONDS")
    bind = parse_bind(settings.BIND)
    if settings.HTTPS_PORT and settings.HTTPS_PORT == bind.port:
        raise ConfigError(
            f"{ENV_PREFIX}HTTPS_PORT={settings.HTTPS_PORT}: that is gunicorn's plain-HTTP port (BIND); "
            "HTTPS is nginx's port, 443 as shipped"
        )
    if settings.THUMBNAIL_SIZE > settings.DETAIL_SIZE:
        raise ConfigError(f"{ENV_PREFIX}THUMBNAIL_SIZE must not exceed DETAIL_SIZE")
    if settings.GUEST_URL and not settings.GUEST_URL.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_PREFIX}GUEST_URL={settings.GUEST_URL!r}: must start with http:// or https://")
    for entry in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}TRUSTED_PROXIES: {entry!r} is not an address or network") from None


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build validated settings from defaults, the environment, then ``overrides``.

    ``overrides`` take precedence over the environment and are validated the
    same way; they are how tests and :func:`vinylvault.create_app` adjust
    settings without touching ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    by_name = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for alias, name in ENV_ALIASES.items():
        if alias in environ:
            values[name] = _parse(name, environ[alias], by_name[name].default, str(by_name[name].type))
    for name, f in by_name.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None:
            values[name] = _parse(name, raw, f.default, str(f.type))
    for name, value in overrides.items():
        if name not in by_name:
            raise ConfigError(f"unknown setting {name!r}")
        f = by_name[name]
        if isinstance(value, str) and not isinstance(f.default, str) and f.default is not None:
            value = _parse(name, value, f.default, str(f.type))
        elif isinstance(f.default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value
    settings = Settings(**values).derived()
    _validate(settings)
    return settings


def describe() -> list[tuple[str, Any, str]]:
    """(name, default, help) for every setting: the README's table is made from this."""
    return [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(Settings)]


def load_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """:func:`load`, or one line on stderr and exit status 2: the start-up check
    (``python config.py``, run by run.sh, the systemd unit and the container;
    gunicorn.conf.py calls it too), so a bad value never shows as a traceback."""
    try:
        return load(environ)
    except ConfigError as exc:
        print(f"vinylvault: bad setting: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    load_or_exit()
