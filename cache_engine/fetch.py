"""Safe downloads of cover images.

:class:`Fetcher` turns a URL into bytes under a :class:`FetchPolicy`:

- only ``http``/``https``, no credentials, bounded URL length, optional host
  allowlist (``example.com`` exact, ``.example.com`` the domain and its
  subdomains);
- an SSRF guard that refuses loopback, private, link-local, shared (CGNAT),
  multicast, reserved and unspecified addresses unless ``allow_private``. It is
  checked when a URL is validated *and again when the socket is opened*: the
  connection classes resolve the host, vet every address and connect to the
  vetted address itself, so a DNS answer that changes between the two
  (rebinding) gains nothing;
- redirects followed by hand, every hop validated again, loops refused;
- connect/read timeouts plus an overall deadline that also bounds a slow drip;
- a byte cap checked on Content-Length before reading and while streaming;
- a content-type check before reading the body;
- retries with exponential backoff and full jitter on 408, 429, 5xx and
  connection errors, honouring ``Retry-After``;
- per-host pacing through a pacer shared by every process (see
  :class:`cache_engine.coordination.HostPacer`), before every attempt.

Every refusal raises a :class:`~cache_engine.errors.SourceRefused` subclass
with a ``reason`` code and is logged as one line on ``image_cache.fetch``.
Logged URLs keep only scheme, host and path: queries may carry tokens.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import random
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.connection import create_connection

from cache_engine.errors import (
    CacheTimeout,
    DownloadTimeout,
    FetchFailed,
    ImageCacheError,
    NotAnImage,
    RemoteStatusError,
    TooLarge,
    TooManyRedirects,
    UnsafeURL,
)

if TYPE_CHECKING:
    from config import Settings

__all__ = ["FetchPolicy", "FetchResult", "Fetcher", "AddressGuard", "Pacer", "Resolver", "redact_url"]

log = logging.getLogger("image_cache.fetch")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Maps ``(host, port)`` to the IP addresses it resolves to (tests inject one).
Resolver = Callable[[str, int], Iterable[str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_BINARY_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST_CHARS = frozenset("0123456789abcdefx.")
_READ_BYTES = 64 * 1024


class Pacer(Protocol):
    """Anything that spaces requests to one host (``HostPacer`` or a test double)."""

    def wait_turn(self, host: str, min_interval: float, deadline: float | None = None) -> None: ...


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one :class:`Fetcher`; times in seconds, ``deadline`` covers retries."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    max_redirects: int = 5
    retries: int = 3
    allow_private: bool = False
    host_allowlist: tuple[str, ...] = ()
    host_min_interval: float = 1.0
    max_url_length: int = 2048
    #: Networks (CIDR) allowed even when ``allow_private`` is off, e.g. a LAN image server.
    extra_allowed_networks: tuple[str, ...] = ()
    #: First retry waits up to ``backoff_base`` seconds, doubling up to ``backoff_max``.
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: CA bundle for TLS verification (a LAN server's private CA); None uses certifi's.
    ca_bundle: str | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "FetchPolicy":
        """The policy described by a :class:`config.Settings`."""
        return cls(
            user_agent=settings.USER_AGENT,
            connect_timeout=settings.CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.READ_TIMEOUT_SECONDS,
            deadline=settings.DOWNLOAD_DEADLINE_SECONDS,
            max_bytes=settings.max_download_bytes,
            max_redirects=settings.MAX_REDIRECTS,
            retries=settings.FETCH_RETRIES,
            allow_private=settings.ALLOW_PRIVATE_SOURCES,
            host_allowlist=tuple(settings.SOURCE_HOST_ALLOWLIST),
            host_min_interval=settings.HOST_MIN_INTERVAL_SECONDS,
        )


@dataclass(frozen=True)
class FetchResult:
    """A downloaded body. ``url`` is the final URL after redirects."""

    url: str
    content: bytes
    content_type: str
    status: int


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``, safe to log (no query, fragment or credentials)."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "<unparseable url>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:200]


def _numeric_host(host: str) -> IPAddress | None:
    """The address a literal host denotes, including legacy IPv4 forms (``0x7f.1``, ``2130706433``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # inet_aton reads decimal, octal and hex parts the way libc resolvers and
    # browsers do; a name made only of these characters is never a DNS name.
    if set(host) <= _NUMERIC_HOST_CHARS:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class AddressGuard:
    """Decides which IP addresses may be connected to, and resolves hosts into vetted addresses."""

    def __init__(
        self, allow_private: bool = False, extra_allowed_networks: Iterable[str] = (), resolver: Resolver | None = None
    ) -> None:
        self.allow_private = allow_private
        self.extra_networks = tuple(ipaddress.ip_network(n, strict=False) for n in extra_allowed_networks)
        self._resolver = resolver or _system_resolver

    def is_allowed(self, address: IPAddress) -> bool:
        """Whether a connection to ``address`` is allowed by this guard."""
        if self.allow_private or any(address in network for network in self.extra_networks):
            return True
        return _is_public(address)

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``; :class:`UnsafeURL` if any one is not allowed.

        One bad address refuses the host: a name that also points inside the
        network is not trusted with the others. Resolution failures propagate
        as :class:`socket.gaierror`.
        """
        literal = _numeric_host(host)
        if literal is not None:
            addresses = [literal]
        else:
            addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in self._resolver(host, port)))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        for address in addresses:
            if not self.is_allowed(address):
                raise UnsafeURL(f"{host} resolves to non-public address {address}", reason="private_address")
        return addresses


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            # The packet ends up at the IPv4 address: judge that one.
            return _is_public(embedded)
    # is_global alone lets multicast through, hence the explicit checks.
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


class _GuardedConnectionMixin:
    """Opens sockets only to addresses the class's ``address_guard`` allows.

    Only the socket is replaced: TLS still wraps it with the URL's host name,
    so SNI and certificate verification are unchanged.
    """

    address_guard: AddressGuard
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.address_guard.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: OSError | None = None
        for address in addresses:
            try:
                # Connect to the vetted address itself: resolving the name
                # again could be answered differently (DNS rebinding).
                return create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error  # type: ignore[arg-type]


def _guarded_pool_classes(guard: AddressGuard) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections are bound to ``guard``."""

    def bind(base: type) -> type:
        return type(f"Guarded{base.__name__}", (_GuardedConnectionMixin, base), {"address_guard": guard})

    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": bind(HTTPConnection)}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": bind(HTTPSConnection)}),
    }


class _GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools open connections through an :class:`AddressGuard`."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        # Set before super().__init__, which builds the pool manager.
        self._pool_classes = _guarded_pool_classes(guard)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


class _Retryable(Exception):
    """An attempt failed in a way worth retrying; ``error`` is raised when retries run out."""

    def __init__(self, error: ImageCacheError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class Fetcher:
    """Downloads image sources safely; one pooled session, safe to share between threads.

    :param policy: the limits to apply.
    :param pacer: spaces requests per host across processes; ``None`` for no pacing.
    :param resolver: replaces DNS resolution (tests map ``public.test`` to the origin).
    """

    def __init__(self, policy: FetchPolicy, pacer: Pacer | None = None, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.pacer = pacer
        self.guard = AddressGuard(policy.allow_private, policy.extra_allowed_networks, resolver)
        self._allowlist = tuple(entry.strip().lower().rstrip(".") for entry in policy.host_allowlist)
        self._session = self._new_session()

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        # Environment proxies would carry requests past the connect-time guard.
        session.trust_env = False
        session.verify = self.policy.ca_bundle or True
        session.headers.update(
            {
                "User-Agent": self.policy.user_agent,
                "Accept": "image/*",
                # Images are compressed already; identity also rules out decompression bombs.
                "Accept-Encoding": "identity",
            }
        )
        adapter = _GuardedAdapter(self.guard, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- validation ----------------------------------------------------------
    def validate_url(self, url: str) -> str:
        """Return the normalized ``url`` if it may be fetched; else raise :class:`UnsafeURL`.

        Checks scheme, credentials, length, host, allowlist and the addresses
        the host resolves to. A host that does not resolve is not refused
        here (it may be a passing outage); the connection guard still holds.
        The normalized form has a lower-case scheme and host, no default port,
        ``/`` for an empty path and no fragment.
        """
        try:
            return self._checked_url(url)
        except UnsafeURL as exc:
            _log_refusal(url, exc)
            raise

    def _checked_url(self, url: str) -> str:
        if len(url) > self.policy.max_url_length:
            raise UnsafeURL(f"URL longer than {self.policy.max_url_length} characters", reason="url_too_long")
        if any(ch <= " " or ch == "\x7f" for ch in url):
            raise UnsafeURL("URL contains whitespace or control characters", reason="bad_url")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeURL(f"URL cannot be parsed: {exc}", reason="bad_url") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise UnsafeURL(f"scheme {scheme or '(none)'!r} is not http or https", reason="bad_scheme")
        if "@" in parts.netloc:
            raise UnsafeURL("URL carries credentials", reason="credentials_in_url")
        host = _ascii_host(parts)
        self._check_allowlist(host)
        port = port or _DEFAULT_PORTS[scheme]
        try:
            self.guard.resolve(host, port)
        except socket.gaierror:
            pass
        netloc = f"[{host}]" if ":" in host else host
        if port != _DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{port}"
        return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))

    def _check_allowlist(self, host: str) -> None:
        if not self._allowlist:
            return
        for entry in self._allowlist:
            if host == entry or (entry.startswith(".") and (host.endswith(entry) or host == entry[1:])):
                return
        raise UnsafeURL(f"host {host} is not in the source allowlist", reason="host_not_allowed")

    # -- fetching -------------------------------------------------------------
    def fetch(self, url: str) -> FetchResult:
        """Download ``url`` within the policy's limits.

        :raises UnsafeURL: the URL or a redirect hop may not be fetched.
        :raises RemoteStatusError: a final unusable status (retries exhausted for 429/5xx).
        :raises TooManyRedirects: more than ``max_redirects`` hops, or a loop.
        :raises DownloadTimeout: connect/read timeout or the overall deadline.
        :raises FetchFailed: connection errors after retries, TLS errors, bad redirects.
        :raises TooLarge: the body exceeds ``max_bytes``.
        :raises NotAnImage: a non-image content type, or an HTML body.
        """
        deadline = time.monotonic() + self.policy.deadline
        try:
            return self._follow_redirects(url, deadline)
        except ImageCacheError as exc:
            _log_refusal(url, exc)
            raise

    def _follow_redirects(self, url: str, deadline: float) -> FetchResult:
        current = self._checked_url(url)
        seen = {current}
        while True:
            outcome = self._get_with_retries(current, deadline)
            if isinstance(outcome, FetchResult):
                return outcome
            if len(seen) > self.policy.max_redirects:
                raise TooManyRedirects(f"more than {self.policy.max_redirects} redirects")
            current = self._checked_url(urljoin(current, outcome))
            if current in seen:
                raise TooManyRedirects(f"redirect loop back to {redact_url(current)}", reason="redirect_loop")
            seen.add(current)

    def _get_with_retries(self, url: str, deadline: float) -> FetchResult | str:
        """One hop: a result, or the redirect ``Location``; retries transient failures."""
        host = urlsplit(url).hostname or ""
        attempt = 0
        while True:
            self._wait_turn(host, deadline)
            try:
                return self._get_once(url, deadline)
            except _Retryable as failure:
                delay = failure.retry_after
                if delay is None:
                    # Full jitter: spreads the retries of many workers hit by one outage.
                    delay = random.uniform(0, min(self.policy.backoff_max, self.policy.backoff_base * 2**attempt))
                if attempt >= self.policy.retries or delay >= deadline - time.monotonic():
                    raise failure.error from failure.__cause__
                time.sleep(delay)
                attempt += 1

    def _wait_turn(self, host: str, deadline: float) -> None:
        if self.pacer is None:
            return
        try:
            self.pacer.wait_turn(host, self.policy.host_min_interval, deadline)
        except CacheTimeout as exc:
            raise DownloadTimeout(f"next turn for {host} is past the deadline", reason="deadline") from exc

    def _get_once(self, url: str, deadline: float) -> FetchResult | str:
        host = urlsplit(url).hostname
        try:
            with self._session.get(
                url, stream=True, allow_redirects=False, timeout=self._timeouts(deadline)
            ) as response:
                return self._read_response(response, deadline)
        except requests.ConnectTimeout as exc:
            raise _Retryable(DownloadTimeout(f"connecting to {host} timed out", reason="connect_timeout")) from exc
        except (requests.ReadTimeout, ReadTimeoutError) as exc:
            raise _Retryable(DownloadTimeout(f"reading from {host} timed out", reason="read_timeout")) from exc
        except requests.exceptions.SSLError as exc:
            raise FetchFailed(f"TLS with {host} failed", reason="tls_error") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ProtocolError) as exc:
            raise _Retryable(FetchFailed(f"connection to {host} failed", reason="connection_error")) from exc
        except (requests.RequestException, HTTPError) as exc:
            raise FetchFailed(f"request to {host} failed: {type(exc).__name__}", reason="request_error") from exc

    def _timeouts(self, deadline: float) -> tuple[float, float]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DownloadTimeout(f"no time left of the {self.policy.deadline:g}s deadline", reason="deadline")
        # A read timeout beyond the deadline would let one stalled read overrun it.
        return min(self.policy.connect_timeout, remaining), min(self.policy.read_timeout, remaining)

    def _read_response(self, response: requests.Response, deadline: float) -> FetchResult | str:
        status = response.status_code
        if status in _REDIRECT_STATUSES:
            location = response.headers.get("Location")
            if not location:
                raise FetchFailed(f"{status} redirect without a Location", reason="bad_redirect")
            return location
        if status in _RETRY_STATUSES:
            error = RemoteStatusError(f"origin answered {status}", status)
            raise _Retryable(error, _parse_retry_after(response.headers.get("Retry-After")))
        if status != 200:
            raise RemoteStatusError(f"origin answered {status}", status)
        content_type = _media_type(response.headers.get("Content-Type"))
        if content_type and not (content_type.startswith("image/") or content_type in _BINARY_TYPES):
            raise NotAnImage(f"content type {content_type} is not an image", reason="bad_content_type")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise TooLarge(f"Content-Length {declared} exceeds the {self.policy.max_bytes} byte cap")
        content = self._read_body(response, deadline)
        if content.lstrip()[:16].lower().startswith(_HTML_STARTS):
            raise NotAnImage("body is an HTML page", reason="html_body")
        return FetchResult(url=response.url, content=content, content_type=content_type, status=status)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """The body, cut at the byte cap and at the deadline.

        ``read1`` returns whatever has arrived instead of waiting for a full
        chunk (as ``iter_content`` does), so the deadline is checked while a
        slow origin drips.
        """
        # BytesIO.getvalue() hands over its buffer without a copy.
        body = io.BytesIO()
        while True:
            if time.monotonic() > deadline:
                raise DownloadTimeout(f"download exceeded the {self.policy.deadline:g}s deadline", reason="deadline")
            chunk = response.raw.read1(_READ_BYTES, decode_content=True)
            if not chunk:
                return body.getvalue()
            if body.tell() + len(chunk) > self.policy.max_bytes:
                raise TooLarge(f"body exceeds the {self.policy.max_bytes} byte cap")
            body.write(chunk)


def _ascii_host(parts: SplitResult) -> str:
    """The URL's host, lower case, IDNA-encoded, without a trailing dot."""
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("URL has no host", reason="bad_host")
    if ":" in host:
        return host  # an IPv6 literal
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL("host name is not valid", reason="bad_host") from None


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _log_refusal(url: str, exc: ImageCacheError) -> None:
    log.warning("refused %s: %s: %s", redact_url(url), exc.reason, exc.message)
