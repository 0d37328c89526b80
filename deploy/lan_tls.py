#!/usr/bin/env python3
"""HTTPS on the home network: a certificate authority of this machine's own, and nginx's certificate.

Phones allow a service worker (pages kept for offline use) and a real "Add to
Home screen" only on HTTPS, or on localhost. This makes, with openssl:

- once, a small certificate authority: ``ca.key`` (0600) and ``ca.crt``, the
  file each phone trusts once (nginx offers it at ``/vinylvault-ca.crt``).
  It may only vouch for this machine: its name constraints allow the names
  and addresses it was made for and private network addresses, nothing else;
- a server certificate for nginx, ``server.key`` (0600) and ``server.crt``,
  naming this machine's LAN names and address (``vinylvault.web.lan``) and any
  ``--name`` (remembered in ``extra-names``, one a line: delete a line to
  drop that name), issued again when it nears its end, when the names or the
  address changed (a new address from the router), or when it was not signed
  by the authority in the folder.

Run it again at any time: it changes only what needs changing and says what it
did. ``vinylvault-tls.timer`` runs it daily with ``--reload-nginx``.

    sudo /opt/vinylvault/deploy/lan_tls.py                      # /etc/vinylvault/tls
    sudo /opt/vinylvault/deploy/lan_tls.py --name records.home  # on the first run: another name phones use
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# After the line above: the project's own modules, from the folder this script lives in.
from cache_engine.files import write_atomically
from vinylvault.web import lan

DEFAULT_DIR = Path("/etc/vinylvault/tls")
CA_DAYS = 3650
#: Under Apple's 825-day ceiling for any TLS server certificate, and CA/B's 398 days.
SERVER_DAYS = 397
RENEW_DAYS = 30
#: The only addresses the authority may vouch for: private, shared (CGNAT, VPNs), link-local and loopback.
PRIVATE_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class Failed(Exception):
    """A step could not be done; the message is the one line the user sees."""


class Files(NamedTuple):
    """The files in the certificate folder."""

    folder: Path
    ca_key: Path
    ca_cert: Path
    server_key: Path
    server_cert: Path
    extra_names: Path

    @classmethod
    def of(cls, folder: Path) -> Files:
        return cls(folder, *(folder / name for name in ("ca.key", "ca.crt", "server.key", "server.crt", "extra-names")))


def remembered_names(files: Files) -> list[str]:
    """The ``--name`` hosts of earlier runs (``extra-names``, one a line)."""
    try:
        return [line.strip() for line in files.extra_names.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def subject_alt_names(hosts: list[str]) -> list[str]:
    """``DNS:name`` and ``IP:address`` entries for ``hosts``, in order, each once."""
    entries = []
    for host in hosts:
        try:
            entries.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            entries.append(f"DNS:{host.lower()}")
    return list(dict.fromkeys(entries))


def _host(text: str) -> str:
    """An argparse type: a DNS name or an IP address."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if _DNS_NAME.match(text):
            return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither a host name nor an IP address")


def openssl(*args: str | Path, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run openssl; :class:`Failed` with its last line of output when ``check`` and it fails."""
    result = subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True)
    if check and result.returncode != 0:
        lines = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()
        raise Failed(f"openssl {args[0]} failed: {lines[-1] if lines else 'no message'}")
    return result


def _config(common_name: str, extensions: list[str]) -> str:
    """An openssl req configuration: only this subject and these extensions, nothing from the system's file."""
    body = "\n".join(extensions)
    return (
        "[req]\nprompt = no\ndistinguished_name = subject\nx509_extensions = extensions\n"
        f"[subject]\nO = VinylVault\nCN = {common_name}\n[extensions]\n{body}\n"
    )


def _new_key() -> bytes:
    return openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256").stdout


def _issue(work: Path, common_name: str, extensions: list[str], key: Path, days: int, *ca: Path) -> bytes:
    """A PEM certificate for ``key``: self-signed, or signed by ``ca`` (its certificate and key)."""
    config = work / "req.cnf"
    config.write_text(_config(common_name, extensions))
    signer = ["-CA", ca[0], "-CAkey", ca[1]] if ca else []
    return openssl("req", "-new", "-x509", "-config", config, "-key", key, "-days", str(days), *signer).stdout


def make_authority(files: Files, work: Path, names: list[str]) -> None:
    """The certificate authority: a new key and its self-signed certificate, constrained to ``names``.

    ``names`` are the server certificate's ``DNS:`` and ``IP:`` entries; its
    first name (the host name) names the authority on the phones' settings.
    """
    permitted = [f"permitted;{entry}" for entry in names if entry.startswith("DNS:")]
    # Its own addresses (even outside private networks), and any private address the router may hand out later.
    addresses = [entry[3:] for entry in names if entry.startswith("IP:")]
    for network in dict.fromkeys(map(ipaddress.ip_network, [*addresses, *PRIVATE_NETWORKS])):
        permitted.append(f"permitted;IP:{network.network_address}/{network.netmask}")
    extensions = [
        "basicConstraints = critical, CA:TRUE, pathlen:0",
        "keyUsage = critical, keyCertSign, cRLSign",
        "subjectKeyIdentifier = hash",
        f"nameConstraints = critical, {', '.join(permitted)}",
    ]
    key = work / "ca.key"
    key.write_bytes(_new_key())
    cert = _issue(work, f"VinylVault on {names[0][4:].split('.')[0]}", extensions, key, CA_DAYS)
    write_atomically(files.ca_key, key.read_bytes(), files.folder, mode=0o600, prefix=".ca.key.")
    write_atomically(files.ca_cert, cert, files.folder, mode=0o644, prefix=".ca.crt.")


def server_cert_problem(files: Files, wanted: list[str]) -> str | None:
    """Why the server certificate must be issued again, or ``None`` when it is good as it is."""
    if not files.server_cert.exists() or not files.server_key.exists():
        return "there is none yet"
    names = openssl("x509", "-in", files.server_cert, "-noout", "-ext", "subjectAltName", check=False)
    found = re.findall(r"(?:DNS|IP Address):([^,\s]+)", names.stdout.decode(errors="replace"))
    if set(subject_alt_names(found)) != set(wanted):
        return "the names or the address changed"
    if openssl("verify", "-CAfile", files.ca_cert, files.server_cert, check=False).returncode != 0:
        return "it was not signed by this certificate authority"
    if openssl(
        "x509", "-in", files.server_cert, "-noout", "-checkend", str(RENEW_DAYS * 86400), check=False
    ).returncode:
        return f"it ends within {RENEW_DAYS} days"
    return None


def issue_server_cert(files: Files, work: Path, wanted: list[str]) -> None:
    """A new key and certificate for nginx naming ``wanted``, checked against the authority before use."""
    extensions = [
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
        f"subjectAltName = {', '.join(wanted)}",
    ]
    key = work / "server.key"
    key.write_bytes(_new_key())
    cert_path = work / "server.crt"
    cert_path.write_bytes(
        _issue(work, wanted[0].split(":", 1)[1], extensions, key, SERVER_DAYS, files.ca_cert, files.ca_key)
    )
    checked = openssl("verify", "-CAfile", files.ca_cert, cert_path, check=False)
    if checked.returncode != 0:
        raise Failed(
            f"{files.ca_cert} may not vouch for {', '.join(wanted)} (it was made for other names); to add a name, "
            f"remove {files.ca_key} and {files.ca_cert}, run this again and trust the new one on every phone"
        )
    # The key first: nginx reads the pair only when reloaded, after both are in place.
    write_atomically(files.server_key, key.read_bytes(), files.folder, mode=0o600, prefix=".server.key.")
    write_atomically(files.server_cert, cert_path.read_bytes(), files.folder, mode=0o644, prefix=".server.crt.")


def fingerprint(cert: Path) -> str:
    """The SHA-256 fingerprint openssl prints, ``AB:CD:...``: what a phone's settings show for the certificate."""
    return openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256").stdout.decode().strip().split("=", 1)[1]


def end_date(cert: Path) -> str:
    return openssl("x509", "-in", cert, "-noout", "-enddate").stdout.decode().strip().split("=", 1)[1]


def run(folder: Path, extra_hosts: list[str], reload_nginx: bool) -> list[str]:
    """Make or renew what is needed in ``folder``; the lines saying what was done."""
    if shutil.which("openssl") is None:
        raise Failed("openssl is missing: sudo apt install openssl")
    files = Files.of(folder)
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    known = remembered_names(files)
    extras = list(dict.fromkeys([*known, *extra_hosts]))
    wanted = subject_alt_names([*lan.certificate_hosts(), *extras])
    with tempfile.TemporaryDirectory(dir=folder, prefix=".work-") as work_dir:
        report, issued = _make_or_renew(files, Path(work_dir), wanted)
    # Only once they made a good certificate: a name the authority refuses is not tried again every day.
    if extras != known:
        write_atomically(files.extra_names, "".join(f"{name}\n" for name in extras).encode(), folder)
    if reload_nginx and issued:
        reloaded = subprocess.run(["systemctl", "try-reload-or-restart", "nginx.service"], capture_output=True)
        if reloaded.returncode != 0:
            raise Failed(f"nginx could not be reloaded: {reloaded.stderr.decode(errors='replace').strip()}")
        report.append("nginx reloaded")
    return report


def _make_or_renew(files: Files, work: Path, wanted: list[str]) -> tuple[list[str], bool]:
    """The authority if there is none, then the server certificate if it needs one: what was done, and
    whether a new server certificate was issued."""
    report = []
    if not files.ca_cert.exists():
        make_authority(files, work, wanted)
        report.append(
            f"made a certificate authority: {files.ca_cert} (SHA-256 {fingerprint(files.ca_cert)}); "
            "trust it once on each phone (README, Phones)"
        )
    elif not files.ca_key.exists():
        raise Failed(
            f"{files.ca_cert} is there without its key {files.ca_key}: remove {files.ca_cert} to make "
            "a new authority, then trust it again on every phone"
        )
    problem = server_cert_problem(files, wanted)
    if problem is None:
        report.append(f"{files.server_cert} names {', '.join(wanted)} until {end_date(files.server_cert)}")
        return report, False
    issue_server_cert(files, work, wanted)
    report.append(f"issued {files.server_cert} ({problem}) for {', '.join(wanted)} until {end_date(files.server_cert)}")
    return report, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lan_tls.py", description="Make or renew VinylVault's LAN certificate authority and nginx's certificate."
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where the files live (default {DEFAULT_DIR})")
    parser.add_argument(
        "--name",
        type=_host,
        action="append",
        default=[],
        metavar="HOST",
        help="another name or address phones reach this machine by (repeatable), e.g. records.home; a name "
        "belongs on the first run: the authority vouches only for the names it was made with",
    )
    parser.add_argument(
        "--reload-nginx", action="store_true", help="reload nginx (if running) after issuing a new certificate"
    )
    args = parser.parse_args(argv)
    try:
        for line in run(args.dir, args.name, args.reload_nginx):
            print(line)
    except (Failed, OSError) as exc:
        print(f"lan_tls.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
