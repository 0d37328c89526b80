"""The phone app shell: web app manifest, service worker, offline page, home-screen icons.

"Add to home screen" on a phone installs VinylVault full screen with its own
icon (``/manifest.webmanifest``, ``static/icons/``). The service worker
(``static/sw.js``, served at ``/sw.js`` so its scope is the whole site) keeps
what the phone has seen usable when the Pi is out of reach:

- covers (``/cache/...``, immutable URLs) cache-first, at most ``MAX_COVERS``
  entries, oldest evicted first;
- pages network-first, the last good copy when the network fails, else the
  pre-cached ``/offline`` page; static files network-first;
- never cached: anything but a GET, owner-only paths, photos, and any
  response marked ``no-store`` or ``private``. Every page rendered for the
  owner's session is marked ``private, no-store`` here, so the owner's tools
  (and the page's CSRF token) never outlive a logout on the phone.

Cache names carry :func:`static_version`, a hash of the app version and every
static file, so a new deployment installs a new worker (``/sw.js`` is sent
with ``no-cache``) that deletes the old caches when it activates. Pages ask
for static files with the same hash (``?v=``, :func:`asset_version`): such a
URL names one deployment's bytes, so every browser (the Pi's kiosk above all)
keeps it for good instead of asking the server again on each page.

Phones run a service worker only in a secure context: HTTPS, or localhost.
With ``HTTPS_PORT`` set (nginx with the LAN certificate of
``deploy/lan_tls.py``), a page reached over plain HTTP from another device
says so and links ``/secure``: how to trust the certificate authority (which
nginx serves at :data:`CA_CERT_PATH`) and the HTTPS address to open. Nobody is
redirected there: a phone that does not trust the authority yet would only
meet a certificate warning.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from PIL import Image, ImageDraw

import config
from vinylvault.access import auth
from vinylvault.site import kiosk

bp = Blueprint("pwa", __name__, cli_group=None)

#: The dark theme's colours in style.css: page background and header surface.
BACKGROUND_COLOUR = "#141110"
THEME_COLOUR = "#1f1b19"
#: The header's surface colour per site theme, for the phone's status bar.
THEME_COLOURS = {"dark": THEME_COLOUR, "light": "#fffdf9"}
_RECORD_COLOUR = "#2b2623"
_GROOVE_COLOUR = "#3a332f"
_LABEL_COLOUR = "#f4a340"
#: (file name, side in px, maskable): the icons the manifest lists, plus the apple-touch-icon.
ICONS = (
    ("icon-192.png", 192, False),
    ("icon-512.png", 512, False),
    ("icon-maskable-512.png", 512, True),
    ("apple-touch-icon.png", 180, False),
)
MAX_COVERS = 400
MAX_PAGES = 150
#: A static file asked for with this deployment's ``?v=``: the next deployment's pages ask for another URL.
_VERSIONED_STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Files the worker stores on install, so the offline page has its look.
_PRECACHED_STATIC = ("style.css", "fetch.js", "app.js", "pages.js", "pwa.js", "noscript.css")

#: Where nginx serves the LAN certificate authority (deploy/vinylvault.conf).
CA_CERT_PATH = "/vinylvault-ca.crt"

_VERSION_KEY = "vv_pwa_version"
_WORKER_TEMPLATE_KEY = "vv_pwa_worker"


def static_version(static_dir: Path, app_version: str | None = None) -> str:
    """12 hex digits naming this deployment: the app version and every static file's path and bytes."""
    digest = hashlib.sha256((config.VERSION if app_version is None else app_version).encode("utf-8"))
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(static_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def asset_version() -> str:
    """This deployment's :func:`static_version`, which pages put in their static files' ``?v=``."""
    return current_app.extensions[_VERSION_KEY]


def draw_icon(side: int, maskable: bool) -> Image.Image:
    """The home-screen icon: a record with an amber label on the site's dark background.

    A maskable icon keeps the whole record inside the central 80 % circle a
    phone may crop to; the plain one lets the record fill the square.
    """
    scale = 4  # drawn large and scaled down: smooth edges without an antialiasing pass
    big = side * scale
    image = Image.new("RGB", (big, big), BACKGROUND_COLOUR)
    draw = ImageDraw.Draw(image)
    centre = big / 2
    radius = big * (0.36 if maskable else 0.47)

    def disc(fraction: float, **style: object) -> None:
        r = radius * fraction
        draw.ellipse((centre - r, centre - r, centre + r, centre + r), **style)

    disc(1.0, fill=_RECORD_COLOUR)
    for fraction in (0.86, 0.72, 0.58):
        disc(fraction, outline=_GROOVE_COLOUR, width=max(scale, big // 160))
    disc(0.36, fill=_LABEL_COLOUR)
    disc(0.06, fill=BACKGROUND_COLOUR)
    return image.resize((side, side), Image.Resampling.LANCZOS)


def _icons_dir(app: Flask) -> Path:
    return Path(app.static_folder or "", "icons")


def manifest() -> dict[str, object]:
    """The web app manifest: what a phone needs to install the site as a full-screen app."""
    icons = [
        {
            "src": url_for("static", filename=f"icons/{name}"),
            "sizes": f"{side}x{side}",
            "type": "image/png",
            "purpose": "maskable" if maskable else "any",
        }
        for name, side, maskable in ICONS
        if name != "apple-touch-icon.png"
    ]
    return {
        "name": "VinylVault",
        "short_name": "VinylVault",
        "description": "Browse the record collection.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": BACKGROUND_COLOUR,
        "theme_color": THEME_COLOUR,
        "icons": icons,
    }


def _precache_urls() -> list[str]:
    return (
        [url_for("pwa.offline")]
        + [url_for("static", filename=name, v=asset_version()) for name in _PRECACHED_STATIC]
        + [url_for("static", filename=f"icons/{name}") for name, _side, _maskable in ICONS[:3]]
    )


@bp.get("/manifest.webmanifest")
def manifest_view() -> Response:
    response = current_app.json.response(manifest())
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """The worker with this deployment's version and pre-cache list filled in; revalidated on every check."""
    source = current_app.extensions[_WORKER_TEMPLATE_KEY]
    settings = {
        "version": current_app.extensions[_VERSION_KEY],
        "precache": _precache_urls(),
        "maxCovers": MAX_COVERS,
        "maxPages": MAX_PAGES,
    }
    body = source.replace("/*VV_SETTINGS*/{}", json.dumps(settings))
    return Response(
        body, mimetype="text/javascript", headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    )


@bp.get("/offline")
def offline() -> Response:
    """What a phone shows for a page it has not seen while the Pi is out of reach (pre-cached).

    Always the guest's view, even when the owner's phone fetches it: it is kept for good.
    """
    response = Response(render_template("offline.html", is_owner=False, session_csrf_token=_no_csrf_token))
    response.headers["Cache-Control"] = "no-cache"
    return response


def _no_csrf_token() -> None:
    return None


@bp.get("/secure")
def secure():
    """How to reach the site over HTTPS from a phone: trust the LAN certificate authority once, then open it."""
    address = kiosk.secure_url()
    if address is None:
        abort(404, "This record player has no secure address (HTTPS_PORT is not set).")
    return render_template("secure.html", secure_address=address, ca_cert_url=CA_CERT_PATH)


def https_invite() -> bool:
    """Whether this page should point its visitor to ``/secure``: HTTPS exists, this page is plain HTTP,
    and the browser is another device (on the Pi's own screen, ``localhost`` is secure already)."""
    return bool(
        current_app.config["SETTINGS"].HTTPS_PORT
        and not auth.is_secure_request()
        and not kiosk.is_loopback_host(request.host)
        and not kiosk.kiosk_requested()
        and request.endpoint != "pwa.secure"
    )


@bp.after_app_request
def _keep_owner_pages_off_phones(response: Response) -> Response:
    # The service worker and the browser keep nothing marked no-store: a page
    # rendered for the owner holds their tools and the session's CSRF token.
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers and auth.page_is_for_owner():
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.after_app_request
def _keep_versioned_static_files(response: Response) -> Response:
    # Another ``?v=`` (a page kept from an older deployment) or none gets Flask's default
    # revalidation: the bytes it would name are gone.
    if request.endpoint == "static" and request.args.get("v") == asset_version():
        response.headers["Cache-Control"] = _VERSIONED_STATIC_CACHE_CONTROL
    return response


@bp.app_context_processor
def _pwa_context() -> dict[str, object]:
    return {"theme_colours": THEME_COLOURS, "https_invite": https_invite}


@bp.cli.command("draw-icons")
def draw_icons_command() -> None:
    """Redraw the home-screen icons into vinylvault/static/icons/ (they are committed)."""
    folder = _icons_dir(current_app)
    folder.mkdir(exist_ok=True)
    for name, side, maskable in ICONS:
        draw_icon(side, maskable).save(folder / name, "PNG", optimize=True)
        click.echo(f"{folder / name}")


def init_app(app: Flask) -> None:
    """Read this deployment's static version and the service worker's source once, at start."""
    static_dir = Path(app.static_folder or "")
    app.extensions[_VERSION_KEY] = static_version(static_dir)
    app.extensions[_WORKER_TEMPLATE_KEY] = (static_dir / "sw.js").read_text(encoding="utf-8")
