"""The files in deploy/ agree with the code and with each other.

Docker has no engine on these machines, so the Dockerfile and compose file are
checked statically: everything they copy or point at exists, and the numbers
that must line up (timeouts, body size, paths) do.
"""

from __future__ import annotations

import re
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import config
from tests.support.servers import NGINX_SITE, ROOT, SITE_COVERS_DIR, SITE_STATIC_DIR

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "vinylvault.service"
UNIT_ROOT = "/opt/vinylvault"


@pytest.fixture(scope="module")
def gunicorn_settings() -> dict:
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def unit_entries(text: str) -> dict[str, list[str]]:
    """``Section.Key`` → values (systemd keys may repeat, so configparser will not do)."""
    entries: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.setdefault(f"{section}.{key}", []).append(value)
    return entries


def systemd_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def nginx_directive(name: str) -> str:
    match = re.search(rf"^\s*{name}\s+([^;]+);", NGINX_SITE.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


def nginx_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


# --- gunicorn ---------------------------------------------------------------


def test_gunicorn_check_config_accepts_the_config():
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--check-config",
            "--config",
            "gunicorn.conf.py",
            "vinylvault:create_app()",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nginx_waits_longer_than_gunicorn(gunicorn_settings):
    """gunicorn's own timeout fires first, so its log says which request was stuck."""
    assert nginx_seconds(nginx_directive("proxy_read_timeout")) > gunicorn_settings["timeout"]


def test_nginx_accepts_every_body_the_app_accepts():
    app_limit = int(config.load().MAX_IMAGE_UPLOAD_SIZE_MB * 1024 * 1024 * 4)  # create_app's MAX_CONTENT_LENGTH
    value = nginx_directive("client_max_body_size")
    assert value.endswith("m")
    assert int(value[:-1]) * 1024 * 1024 >= app_limit


# --- systemd ----------------------------------------------------------------


def test_unit_stops_after_gunicorns_graceful_shutdown(gunicorn_settings):
    entries = unit_entries(UNIT.read_text())
    assert systemd_seconds(entries["Service.TimeoutStopSec"][0]) > gunicorn_settings["graceful_timeout"]
    assert entries["Service.KillMode"] == ["mixed"]  # SIGTERM to the master, which stops its workers


def test_unit_runs_gunicorn_with_the_config_as_a_confined_user():
    entries = unit_entries(UNIT.read_text())
    assert entries["Service.User"][0] not in ("", "root")
    assert entries["Service.WorkingDirectory"] == [UNIT_ROOT]
    start = shlex.split(entries["Service.ExecStart"][0])
    assert start[0] == f"{UNIT_ROOT}/.venv/bin/gunicorn"
    assert start[1:] == ["--config", "gunicorn.conf.py", "vinylvault:create_app()"]
    assert entries["Service.Restart"] == ["on-failure"]
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")]:
        assert entries[f"Service.{key}"] == [value]
    environment = dict(v.split("=", 1) for v in entries["Service.Environment"])
    writable = entries["Service.ReadWritePaths"][0].split()
    data_dir = environment["VINYL_VAULT_DATA_DIR"]
    covers_dir = environment["VINYL_VAULT_COVERS_DIR"]
    assert data_dir in writable
    assert any(covers_dir.startswith(path + "/") for path in writable)


def test_unit_covers_dir_is_the_one_nginx_serves():
    environment = dict(v.split("=", 1) for v in unit_entries(UNIT.read_text())["Service.Environment"])
    assert environment["VINYL_VAULT_COVERS_DIR"] == SITE_COVERS_DIR
    assert SITE_STATIC_DIR == f"{UNIT_ROOT}/vinylvault/static/"
    assert (ROOT / "vinylvault" / "static").is_dir()


def test_systemd_analyze_verifies_the_unit(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # Point the unit at this checkout so the executables it names exist.
    unit = tmp_path / "vinylvault.service"
    unit.write_text(UNIT.read_text().replace(UNIT_ROOT, str(ROOT)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "vinylvault.service" not in result.stderr, result.stderr


# --- docker -----------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_copies_only_files_that_exist():
    copies = [args.split() for op, args in dockerfile_instructions() if op == "COPY"]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            assert list(ROOT.glob(source)), source


def test_dockerfile_runs_gunicorn_as_a_non_root_user_with_a_health_check():
    instructions = dockerfile_instructions()
    ops = dict(instructions)
    assert ops["FROM"] == "python:3.11-slim-bookworm"
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [op for op, _ in instructions].index("USER") < [op for op, _ in instructions].index("CMD")
    assert ops["EXPOSE"] == "8080"
    assert "/data" in ops["VOLUME"]
    assert "http://127.0.0.1:8080/health" in ops["HEALTHCHECK"] and "curl" not in ops["HEALTHCHECK"]
    assert "gunicorn --config gunicorn.conf.py" in ops["CMD"]
    assert ("RUN", "pip install -r requirements.txt") in instructions


def test_compose_builds_the_dockerfile_with_persistent_volumes(gunicorn_settings):
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    service = compose["services"]["vinylvault"]
    context = DEPLOY / service["build"]["context"]
    assert (context / service["build"]["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    mounts = dict(volume.split(":")[::-1] for volume in service["volumes"])
    assert set(mounts) == {"/data", "/data/cache"}
    assert set(mounts.values()) <= set(compose["volumes"])
    assert service["environment"]["VINYL_VAULT_DATA_DIR"] == "/data"
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert systemd_seconds(service["stop_grace_period"]) > gunicorn_settings["graceful_timeout"]
