"""Launching Debian's chromium through Playwright, and what the page is asked about covers.

Shared by tests/browser and bench/bench_browser.py. Playwright never
downloads a browser here: it is pointed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PI_SCREEN = {"width": 800, "height": 480}
PHONE = {"width": 390, "height": 844}

#: JS: the cover <img>s (cover_img marks them with data-size-type) whose box
#: intersects the viewport.
COVERS_ON_SCREEN = """() => [...document.querySelectorAll('img[data-size-type]')].filter(img => {
    const box = img.getBoundingClientRect();
    return box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth
        && getComputedStyle(img).visibility !== 'hidden' && box.width > 0;
})"""

#: JS: true once every cover on screen shows its real image (decoded, not the
#: blur-up preview, not the placeholder).
FIRST_SCREEN_PAINTED = f"""() => {{
    const covers = ({COVERS_ON_SCREEN})();
    return covers.length > 0 && covers.every(img =>
        img.complete && img.naturalWidth > 0 && !img.classList.contains('lazy-load')
        && !img.currentSrc.startsWith('data:') && !img.currentSrc.includes('/placeholders/'));
}}"""


def spki_sha256(cert: Path) -> str:
    """The base64 sha256 of a PEM certificate's public key, as ``--ignore-certificate-errors-spki-list`` takes it."""
    public_key = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key, capture_output=True, check=True
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def launch_chromium(playwright, bfcache: bool = False, trusted_cert: Path | None = None):
    """Headless Debian chromium with the flags a sandboxed test machine needs.

    ``bfcache`` keeps the back/forward cache every real chromium has, which
    Playwright turns off by default. ``trusted_cert``: a server certificate
    chromium takes as valid, as a phone that trusts its authority does (a
    secure context: service workers allowed), where Playwright's
    ``ignore_https_errors`` only lets the page load.
    """
    ignored = ["--disable-back-forward-cache"] if bfcache else None
    trust = [f"--ignore-certificate-errors-spki-list={spki_sha256(trusted_cert)}"] if trusted_cert else []
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + trust, ignore_default_args=ignored)
