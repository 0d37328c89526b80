"""deploy/lan_tls.py with the real openssl in temporary folders: the authority is made once, the server
certificate names this machine and is issued again only when it must, keys stay 0600, and what cannot be
done is one line. The certificates in use, through nginx, are checked in test_https.py."""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_deploy_files import unit_entries
from tests.support.fake_commands import calls, recording_command
from tests.support.servers import LAN_TLS, ROOT
from vinylvault.web import lan

FILES = {"ca.key": 0o600, "ca.crt": 0o644, "server.key": 0o600, "server.crt": 0o644}


def run(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAN_TLS), "--dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def openssl(*args: str | Path) -> str:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=True).stdout


def names_in(cert: Path) -> list[str]:
    """The certificate's subjectAltName entries as openssl prints them."""
    return openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName").splitlines()[1].strip().split(", ")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def expected_names(*extra: str) -> list[str]:
    hosts = [*lan.certificate_hosts(), *extra]
    return [f"IP Address:{h}" if is_address(h) else f"DNS:{h}" for h in dict.fromkeys(hosts)]


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A folder where the script has run once, naming 127.0.0.1 too."""
    folder = tmp_path / "tls"
    result = run(folder, "--name", "127.0.0.1")
    assert result.returncode == 0, result.stderr
    return folder


def test_the_first_run_makes_an_authority_and_a_certificate_for_this_machine(tmp_path: Path):
    folder = tmp_path / "tls"
    result = run(folder, "--name", "127.0.0.1")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in folder.iterdir()} == {*FILES, "extra-names"}
    for name, mode in FILES.items():
        assert stat.S_IMODE((folder / name).stat().st_mode) == mode, name
    made, issued = result.stdout.splitlines()
    assert made.startswith(f"made a certificate authority: {folder / 'ca.crt'} (SHA-256 ")
    assert issued.startswith(f"issued {folder / 'server.crt'} (there is none yet) for ")
    assert names_in(folder / "server.crt") == expected_names("127.0.0.1")
    assert openssl("verify", "-CAfile", folder / "ca.crt", folder / "server.crt").strip().endswith(": OK")
    text = openssl("x509", "-in", folder / "server.crt", "-noout", "-text")
    assert "TLS Web Server Authentication" in text and "CA:FALSE" in text


def test_the_authority_may_vouch_only_for_this_machine_and_private_addresses(made: Path):
    constraints = openssl("x509", "-in", made / "ca.crt", "-noout", "-ext", "nameConstraints")
    assert "critical" in constraints.splitlines()[0]
    permitted = {line.strip() for line in constraints.splitlines()[2:]}
    assert {f"DNS:{h}" for h in lan.certificate_hosts() if not is_address(h)} <= permitted
    assert {"IP:192.168.0.0/255.255.0.0", "IP:10.0.0.0/255.0.0.0", "IP:127.0.0.1/255.255.255.255"} <= permitted
    assert not any(entry.startswith("DNS:") and entry[4:] not in lan.certificate_hosts() for entry in permitted)
    # So a certificate for anything else is refused, and the one in place stays.
    before = snapshot(made)
    for name in ("8.8.8.8", "example.com"):
        result = run(made, "--name", name)
        assert result.returncode == 1
        assert result.stderr.startswith(f"lan_tls.py: {made / 'ca.crt'} may not vouch for ")
        assert len(result.stderr.splitlines()) == 1
    assert snapshot(made) == before
    assert (made / "extra-names").read_text() == "127.0.0.1\n"


def test_a_second_run_changes_nothing(made: Path):
    before = snapshot(made)
    result = run(made)  # the earlier --name is remembered
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{made / 'server.crt'} names ")
    assert snapshot(made) == before


def test_a_new_address_gets_a_new_certificate_from_the_same_authority(made: Path):
    before = snapshot(made)
    result = run(made, "--name", "10.1.2.3")
    assert result.returncode == 0, result.stderr
    assert "(the names or the address changed)" in result.stdout
    after = snapshot(made)
    assert after["ca.key"] == before["ca.key"] and after["ca.crt"] == before["ca.crt"]
    assert after["server.key"] != before["server.key"]
    assert names_in(made / "server.crt") == expected_names("127.0.0.1", "10.1.2.3")
    assert run(made).stdout.startswith(f"{made / 'server.crt'} names ")  # both kept for later runs


def test_a_certificate_near_its_end_is_renewed(made: Path, tmp_path: Path):
    # One day left, signed by the same authority for the same names.
    config = tmp_path / "short.cnf"
    config.write_text(
        "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ext\n[dn]\nCN = short\n"
        f"[ext]\nsubjectAltName = {', '.join(n.replace('IP Address', 'IP') for n in names_in(made / 'server.crt'))}\n"
    )
    short = openssl(
        "req", "-new", "-x509", "-config", config, "-key", made / "server.key", "-days", "1",
        "-CA", made / "ca.crt", "-CAkey", made / "ca.key",
    )  # fmt: skip
    (made / "server.crt").write_text(short)
    result = run(made)
    assert result.returncode == 0, result.stderr
    assert "(it ends within 30 days)" in result.stdout
    assert openssl("x509", "-in", made / "server.crt", "-noout", "-checkend", str(300 * 86400))


def test_a_new_authority_means_a_new_server_certificate(made: Path):
    (made / "ca.crt").unlink()
    (made / "ca.key").unlink()
    result = run(made)
    assert result.returncode == 0, result.stderr
    assert "(it was not signed by this certificate authority)" in result.stdout.splitlines()[1]
    assert openssl("verify", "-CAfile", made / "ca.crt", made / "server.crt").strip().endswith(": OK")


def test_an_authority_without_its_key_is_one_line(made: Path):
    (made / "ca.key").unlink()
    result = run(made)
    assert result.returncode == 1
    assert result.stderr == (
        f"lan_tls.py: {made / 'ca.crt'} is there without its key {made / 'ca.key'}: remove {made / 'ca.crt'} "
        "to make a new authority, then trust it again on every phone\n"
    )


@pytest.mark.parametrize("args", [["--name", "not a host"], ["--name", "-x.local"], ["--bogus"]])
def test_bad_options_are_refused_before_anything_is_written(tmp_path: Path, args: list[str]):
    result = run(tmp_path / "tls", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("lan_tls.py: error: ")
    assert not (tmp_path / "tls").exists()


def test_an_unwritable_folder_and_a_missing_openssl_are_one_line(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run(blocked / "tls")
    assert result.returncode == 1 and result.stderr.startswith("lan_tls.py: ")
    assert len(result.stderr.splitlines()) == 1
    result = run(tmp_path / "tls", env={"PATH": str(tmp_path)})
    assert (result.returncode, result.stderr) == (1, "lan_tls.py: openssl is missing: sudo apt install openssl\n")


def test_reload_nginx_only_after_a_new_certificate(made: Path, tmp_path: Path):
    record = recording_command(tmp_path / "bin", "systemctl")
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    assert run(made, "--reload-nginx", env=env).returncode == 0
    assert not record.exists()  # nothing new: nginx left alone
    result = run(made, "--reload-nginx", "--name", "10.9.8.7", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "nginx reloaded"
    assert calls(record) == [["try-reload-or-restart", "nginx.service"]]


def test_the_renewal_units_pass_systemd_analyze(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: ./run_tests.sh installs systemd")
    service = (ROOT / "deploy" / "vinylvault-tls.service").read_text()
    entries = unit_entries(service)
    assert entries["Service.ExecStart"] == [
        "/opt/vinylvault/.venv/bin/python /opt/vinylvault/deploy/lan_tls.py --reload-nginx"
    ]
    assert entries["Service.ReadWritePaths"] == ["/etc/vinylvault/tls"]
    (tmp_path / "vinylvault-tls.service").write_text(service.replace("/opt/vinylvault", str(ROOT)))
    shutil.copy(ROOT / "deploy" / "vinylvault-tls.timer", tmp_path)
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / "vinylvault-tls.timer"),
            str(tmp_path / "vinylvault-tls.service"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "vinylvault-tls" not in result.stderr, result.stderr
