"""The text the site accepts, checked once at the edge for every request.

Every piece of text a client sends passes :func:`check_text` before any view
sees it: the path, every query parameter (name and value), every form field
and uploaded file name, and every string and key of a JSON body, at any
depth. A refusal is a 400 (``{"error", "detail"}`` under ``/api/``, a page
elsewhere) logged as one line naming the field and the character.

The rules:

- Never accepted: NUL, lone surrogates (U+D800-U+DFFF) and every other
  control character (Unicode ``Cc``: U+0001-U+001F, U+007F-U+009F) except
  tab. No keyboard types them and no browser form sends them; they only come
  from a buggy client or a probe, and they break what lies behind (SQLite's
  FTS5 ends a string at NUL, a surrogate cannot be stored as UTF-8, a
  carriage return can end an HTTP header).
- Tab is accepted everywhere (it arrives with text pasted from a spreadsheet);
  line feed and carriage return only in :data:`MULTILINE_FIELDS`.
- The search box is not cleaned up silently but refused like any other
  field: what it refuses cannot be typed, and a buggy client is better told
  than answered for a different search.
- Each value has a maximum length: :data:`DEFAULT_MAX_CHARS`, or its field's
  entry in :data:`FIELD_MAX_CHARS`. The field's own rule (a photo title's 200
  characters, say) stays the precise one; this is the guard rail behind it.
- A JSON body nests at most :data:`MAX_JSON_DEPTH` levels and has no ``NaN``
  or infinite numbers. Every body but a photo upload is at most
  ``MAX_JSON_BYTES``; an upload at most ``MAX_CONTENT_LENGTH``.

Bytes that are not UTF-8 never arrive as lone surrogates: Werkzeug makes them
U+FFFD in the path and multipart fields and keeps them as ``%XX`` text in a
percent-encoded query or form. A raw (unencoded) query that is not UTF-8 is
refused here; a raw form body that is not UTF-8 reads as an empty form.

:func:`init_app` hooks it in: :meth:`CheckedRequest.check_edge` before every
request, :class:`CheckedRequest` for form fields (when a view first reads
them) and for ``request.get_json()``, and :func:`read_json_body` (capped at ``MAX_JSON_BYTES``, through
:func:`parse_json`) for the API's bodies.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, NoReturn

from flask import Flask, Request, current_app, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

from vinylvault.web.errors import APIError

#: Longest value of a query parameter, form field or JSON string, unless listed below.
DEFAULT_MAX_CHARS = 1_000
#: Fields whose own, more precise limit is above the default.
FIELD_MAX_CHARS = {
    "description": 10_000,  # photos allow 2,000 and say so
    "password": 4_096,  # auth allows 1,024 and says so
    "password_confirm": 4_096,
    "urls": 8_192,  # preload reports each URL over 2,048 characters as refused
}
#: Fields that may span lines (line feed and carriage return accepted).
MULTILINE_FIELDS = frozenset({"description"})
#: Deepest nesting of arrays and objects accepted in a JSON body.
MAX_JSON_DEPTH = 32
#: The routes that take photo uploads: the only bodies allowed past ``MAX_JSON_BYTES``
#: (up to ``MAX_CONTENT_LENGTH``). Anywhere else a guest could make the server
#: buffer a large form in memory, or spool a large "upload" to the SD card.
UPLOAD_ENDPOINTS = frozenset({"api_photos.upload", "api_photos.upload_form"})

_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: Where a value came from, as a refusal names it.
ADDRESS = "The address"
FORM = "The form"
JSON_BODY = "The JSON body"


class RefusedInput(BadRequest):
    """A 400 for text the site does not accept; ``error`` is the short code of API answers."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


def max_chars(field: str) -> int:
    """The longest value accepted for ``field``."""
    return FIELD_MAX_CHARS.get(field, DEFAULT_MAX_CHARS)


def check_text(value: str, field: str, place: str, limit: int | None = None, label: str | None = None) -> None:
    """Raise :class:`RefusedInput` unless ``value`` follows the rules for ``field``.

    ``place`` and ``label`` (default: the field's name, quoted) say in the
    refusal where the value was. ``limit`` is the longest accepted length
    (``None``: no length rule, for the path, which the server's request-line
    limit bounds).
    """
    rule = _MULTILINE if field in MULTILINE_FIELDS else _ONE_LINE
    label = label or repr(field)
    bad = rule.search(value)
    if bad:
        raise RefusedInput(
            "invalid_text",
            f"{place} has a character that cannot be used in {label} "
            f"(U+{ord(bad.group()):04X} at position {bad.start() + 1}).",
        )
    if limit is not None and len(value) > limit:
        raise RefusedInput("text_too_long", f"{place} has too long a value in {label}: at most {limit:,} characters.")


def check_name(name: str, place: str, kind: str = "a field name") -> None:
    """Check a field name or JSON key: one line of text, at most :data:`DEFAULT_MAX_CHARS`.

    The refusal quotes the name in ASCII escapes: it may hold the very
    character refused, which a page or a log line cannot carry.
    """
    check_text(name, "", place, DEFAULT_MAX_CHARS, label=f"{kind} ({ascii(name[:40])})")


def check_fields(pairs: Iterable[tuple[str, str]], place: str) -> None:
    """Check each (name, value) pair: the name by :func:`check_name`, the value by its name's rules."""
    for name, value in pairs:
        check_name(name, place)
        check_text(value, name, place, max_chars(name))


def check_json(document: Any) -> None:
    """Check every key and string of a parsed JSON document, and its depth; no recursion.

    A string in a list is checked by the rules of the nearest enclosing key
    (each item of ``"urls"`` as a ``urls`` value).
    """
    pending: list[tuple[Any, str, int]] = [(document, "body", 0)]
    while pending:
        value, field, depth = pending.pop()
        if isinstance(value, str):
            check_text(value, field, JSON_BODY, max_chars(field))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise RefusedInput("json_too_deep", f"{JSON_BODY} nests deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                check_name(key, JSON_BODY, kind="a key")
                pending.append((item, key, depth + 1))
        else:
            pending.extend((item, field, depth + 1) for item in value)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def parse_json(data: str | bytes) -> Any:
    """``data`` parsed as strict JSON and checked by :func:`check_json`.

    :raises ValueError: not JSON (including ``NaN``, ``Infinity``, ``1e999``), or
        nested beyond what the parser follows (Python's recursion limit).
    :raises RefusedInput: JSON nested deeper than :data:`MAX_JSON_DEPTH`, or holding refused text.
    """
    try:
        document = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    check_json(document)
    return document


def read_json_body() -> Any:
    """The request's JSON document, read with a byte cap of ``MAX_JSON_BYTES``.

    Raises :class:`APIError` 413 for a body over the cap (read no further than
    the cap, even without a Content-Length), 415 for another content type and
    400 for anything that does not parse.
    """
    limit = current_app.config["MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise APIError(413, "body_too_large", f"the JSON body must be at most {limit} bytes")
    if request.mimetype != "application/json":
        raise APIError(415, "unsupported_media_type", "send the body as application/json")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise APIError(413, "body_too_large", f"the JSON body must be at most {limit} bytes")
    try:
        return parse_json(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise APIError(400, "malformed_json", f"the body is not valid JSON: {str(exc)[:120]}") from None


class _CheckedJSON:
    """What :meth:`CheckedRequest.get_json` parses with (Werkzeug calls ``json_module.loads(data)``)."""

    loads = staticmethod(parse_json)


class CheckedRequest(Request):
    """The app's request: form fields and ``get_json()`` follow the text rules.

    The form is parsed when a view first reads it, as usual (a guest refused
    by ``owner_required`` never makes the server read an upload); the check
    runs right after. A refused form is replaced by an empty one, so nothing
    that reads it later sees the refused text.
    """

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Werkzeug's ``get_json`` parsing with :func:`parse_json`; a refusal is raised even if ``silent``."""
        # Flask points json_module at app.json when the request starts.
        self.json_module = _CheckedJSON
        return super().get_json(force=force, silent=silent, cache=cache)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        try:
            check_fields(self.form.items(multi=True), FORM)
            for name, upload in self.files.items(multi=True):
                check_name(name, FORM)
                check_text(upload.filename or "", "", FORM, DEFAULT_MAX_CHARS, label=f"the file name in {name!r}")
        except RefusedInput:
            self.__dict__["form"] = self.__dict__["files"] = ImmutableMultiDict()
            raise

    def check_edge(self) -> None:
        """Before any view: cap the body, and check the path and every query parameter.

        A body is capped at ``MAX_JSON_BYTES`` unless the route takes uploads
        (:data:`UPLOAD_ENDPOINTS`); reading past the cap is a 413. A refused
        query string is replaced by an empty one, so an error page that reads
        ``request.args`` or ``request.full_path`` never meets the refused text.
        """
        if self.endpoint not in UPLOAD_ENDPOINTS:
            # One byte more than the cap: a body without a Content-Length is cut
            # at the limit silently, and a reader must tell "over" from "at".
            self.max_content_length = min(
                current_app.config["MAX_JSON_BYTES"] + 1, current_app.config["MAX_CONTENT_LENGTH"] or math.inf
            )
        try:
            check_text(self.path, "", ADDRESS, label="its path")
            check_fields(self._query_pairs(), ADDRESS)
        except RefusedInput:
            self.query_string = b""
            self.__dict__["args"] = ImmutableMultiDict()
            self.__dict__.pop("full_path", None)
            raise

    def _query_pairs(self) -> Iterable[tuple[str, str]]:
        # Werkzeug decodes a raw (not percent-encoded) query strictly as UTF-8.
        try:
            return self.args.items(multi=True)
        except UnicodeDecodeError:
            raise RefusedInput("invalid_text", f"{ADDRESS} has bytes in its query that are not UTF-8 text.") from None


def _check_edge() -> None:
    request.check_edge()


def init_app(app: Flask) -> None:
    """Hook the rules in; call before any blueprint registers its own ``before_request``."""
    app.request_class = CheckedRequest
    app.before_request(_check_edge)
