"""This machine's addresses as people on the home network type them.

Shared by ``gunicorn.conf.py`` (the start-up lines say which address to open),
the kiosk's QR code (a guest's phone opens the same address) and
``deploy/lan_tls.py`` (the names its certificate covers). Imports nothing from
Flask: gunicorn's master loads it before any app exists.
"""

from __future__ import annotations

import contextlib
import socket

#: A documentation-only address (TEST-NET-1): connecting a UDP socket to it
#: sends nothing; it only makes the kernel pick the LAN interface's address.
_ROUTE_PROBE = ("192.0.2.1", 9)
#: Bind hosts meaning "every interface": the machine's LAN names stand for them.
ANY_HOST = ("0.0.0.0", "::", "")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lan_address() -> str | None:
    """The address the kernel would use towards the network, or ``None`` when there is none (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_ROUTE_PROBE)
        address = probe.getsockname()[0]
        if not address.startswith("127."):
            return address
    return None


def lan_hosts() -> list[str]:
    """This machine's names for people on the network: ``raspberrypi.local`` and its LAN address.

    Found without sending a packet: the host name (``.local`` is how
    Raspberry Pi OS announces it) and the source address the kernel picks
    for a UDP socket "connected" towards the network.
    """
    name = socket.gethostname()
    hosts = [name if "." in name else f"{name}.local"]
    address = lan_address()
    if address:
        hosts.append(address)
    return hosts


def certificate_hosts() -> list[str]:
    """Every name and address a phone may reach this machine by, for its LAN certificate.

    The host name as set, its first label alone (what a router's DNS
    answers to) and with ``.local`` (mDNS, how Raspberry Pi OS announces
    it), and the LAN address the guests' QR code carries.
    """
    name = socket.gethostname()
    short = name.split(".")[0]
    return list(dict.fromkeys([name, short, f"{short}.local", *filter(None, [lan_address()])]))


def origin(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, the port left out when it is the scheme's own (80, 443)."""
    if port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://[{host}]" if ":" in host else f"{scheme}://{host}"
    return f"{scheme}://{host_port(host, port)}"


def site_urls(host: str, port: int) -> list[str]:
    """The URLs to open for a listening address (every LAN name when bound to all interfaces)."""
    hosts = lan_hosts() if host in ANY_HOST else [host]
    return [f"http://{host_port(name, port)}" for name in hosts]


def https_urls(port: int) -> list[str]:
    """The HTTPS addresses of this machine on ``port`` (nginx, every interface): every LAN name."""
    return [origin("https", name, port) for name in lan_hosts()]


def guest_url(host: str, port: int, scheme: str = "http") -> str:
    """The one address for a guest's phone: the LAN IP address when known.

    A number, not ``name.local``: Android phones before version 12 do not
    resolve ``.local`` names, while every phone on the network reaches the
    address itself.
    """
    if host in ANY_HOST:
        host = lan_address() or lan_hosts()[0]
    return origin(scheme, host, port)
