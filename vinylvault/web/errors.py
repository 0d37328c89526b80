"""Error responses: JSON under /api/, friendly pages elsewhere, never a traceback.

API errors have the shape ``{"error": <short code>, "detail": <sentence>}``.
Every 4xx is logged as one line with its reason; a 500 logs the traceback
server-side only and shows a plain page. A write that failed because the disk
is full answers 507 ``storage_full`` with one log line, no traceback.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError

from cache_engine.files import is_storage_full

log = logging.getLogger("vinylvault.web.errors")

#: Longest piece of client input copied into one log line.
LOG_FIELD_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class APIError(Exception):
    """Raised by API views for a client error with a precise code and detail."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(detail or error)
        self.status = status
        self.error = error
        self.detail = detail


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def json_error(status: int, error: str, detail: str = ""):
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    return response


def loggable(text: object, limit: int = LOG_FIELD_LIMIT) -> str:
    """``text`` shortened and with control characters escaped.

    Paths and details echo client input: a ``%0a`` in a URL must not start a
    forged log line, and a 5,000-character path must not fill the journal.
    """
    text = str(text)
    short = text[:limit] + ("..." if len(text) > limit else "")
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", short)


def _request_line() -> str:
    return f"{request.method} {loggable(request.path)}"


def _page(status: int, title: str, detail: str):
    try:
        body = render_template("error.html", status=status, title=title, detail=detail)
    except TemplateNotFound:
        body = f"<!doctype html><title>{status} {title}</title><h1>{title}</h1><p>{detail}</p>"
    return body, status


def _error_code(exc: HTTPException) -> str:
    """The exception's own short code if it has one (``error``), else one made from its name."""
    code = getattr(exc, "error", None)
    if isinstance(code, str) and code:
        return code
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_api_error(exc: APIError):
    log.info("%s -> %s %s: %s", _request_line(), exc.status, exc.error, loggable(exc.detail))
    return json_error(exc.status, exc.error, exc.detail)


def handle_http_exception(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    if exc.code >= 500:
        log.error("%s -> %s", _request_line(), exc.code)
    else:
        log.info("%s -> %s %s", _request_line(), exc.code, loggable(exc.description))
    if wants_json():
        response = json_error(exc.code, _error_code(exc), exc.description or "")
    else:
        response = _page(exc.code, exc.name, exc.description or "")
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        body, status = response if isinstance(response, tuple) else (response, exc.code)
        return body, status, {"Allow": ", ".join(exc.valid_methods)}
    return response


#: What the owner reads when a change could not be saved for lack of disk space.
STORAGE_FULL_DETAIL = (
    "The disk is full, so this change could not be saved. Clearing the cover cache "
    "(on the admin page) frees space; then try again."
)


def handle_storage_full(exc: Exception):
    log.error("%s -> 507: the disk is full (%s)", _request_line(), loggable(exc))
    if wants_json():
        return json_error(507, "storage_full", STORAGE_FULL_DETAIL)
    return _page(507, "The disk is full", STORAGE_FULL_DETAIL)


def _storage_full_cause(exc: BaseException | None) -> BaseException | None:
    """The full-disk error behind ``exc``, if any (a failed ROLLBACK can hide the SQLITE_FULL that caused it)."""
    while exc is not None:
        if is_storage_full(exc):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def handle_unexpected(exc: Exception):
    cause = _storage_full_cause(exc)
    if cause is not None:
        return handle_storage_full(cause)
    log.exception("unhandled error on %s", _request_line())
    return handle_http_exception(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
