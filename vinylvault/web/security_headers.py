"""The security headers every response carries: pages, JSON, images, errors and 304s alike.

- ``Content-Security-Policy``: scripts, styles, fonts and fetches only from
  the site itself, never inline (templates hold no ``<script>`` body, no
  ``on*=`` handler, no ``style=`` attribute); images from the site and
  ``data:`` (the blur-up previews), plus any http(s) origin when
  ``FALLBACK_TO_ORIGINAL`` lets pages show a remote original; no plugins, no
  ``<base>``, forms post only here, and no other site may frame a page.
- ``X-Frame-Options: DENY`` for browsers older than ``frame-ancestors``.
- ``X-Content-Type-Options: nosniff``: a cover is an image, never a script.
- ``Referrer-Policy: same-origin``: a link out (to Discogs) never carries an
  album's ``?share=`` link; the site's own image requests keep their Referer,
  which the memory tier uses to account hits to a page.

deploy/vinylvault.conf sends the same headers for the files nginx serves itself.
"""

from __future__ import annotations

from flask import Flask, Response, current_app

#: The policy without FALLBACK_TO_ORIGINAL (deploy/vinylvault.conf repeats it verbatim).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: With FALLBACK_TO_ORIGINAL, a page may point an <img> at the source's own URL.
_REMOTE_IMAGES = "img-src 'self' data: http: https:"

_HEADERS_KEY = "vv_security_headers"


def security_headers(fallback_to_original: bool) -> dict[str, str]:
    """The headers for a site with or without ``FALLBACK_TO_ORIGINAL``."""
    policy = CONTENT_SECURITY_POLICY
    if fallback_to_original:
        policy = policy.replace("img-src 'self' data:", _REMOTE_IMAGES)
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _add_security_headers(response: Response) -> Response:
    # after_request runs for error handlers' responses too (404, 429, 500 pages
    # and JSON), and for 304s; headers a view set itself are kept.
    headers = current_app.extensions[_HEADERS_KEY]
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response ``app`` sends (worked out once, from ``FALLBACK_TO_ORIGINAL``)."""
    app.extensions[_HEADERS_KEY] = security_headers(app.config["FALLBACK_TO_ORIGINAL"])
    app.after_request(_add_security_headers)
