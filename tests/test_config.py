"""config.py: defaults, VINYL_VAULT_* overrides, aliases and one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import config
from tests.support.paths import ROOT


def test_defaults_follow_the_seed():
    s = config.load({})
    assert (s.THUMBNAIL_SIZE, s.DETAIL_SIZE, s.IMAGE_QUALITY) == (150, 600, 85)
    assert (s.MAX_CACHE_SIZE_GB, s.MAX_CONCURRENT_DOWNLOADS, s.MEMORY_CACHE_SIZE_MB) == (2.0, 3, 128.0)
    assert s.max_cache_bytes == 2 * 1024**3


def test_data_dir_moves_database_and_cache_together(tmp_path):
    s = config.load({"VINYL_VAULT_DATA_DIR": str(tmp_path)})
    assert s.DATABASE_PATH == tmp_path / "vinylvault.db"
    assert s.CACHE_DIR == tmp_path / "cache"
    assert s.COVERS_DIR == tmp_path / "cache" / "covers"
    assert s.CACHE_DATABASE_PATH.parent == tmp_path / "cache"
    assert s.PHOTOS_DIR == tmp_path / "photos"


def test_explicit_path_wins_over_derived(tmp_path):
    s = config.load({"VINYL_VAULT_DATA_DIR": str(tmp_path), "VINYL_VAULT_CACHE_DIR": "/srv/c"})
    assert s.COVERS_DIR == Path("/srv/c/covers")


@pytest.mark.parametrize(
    "env, name, expected",
    [
        ({"VINYL_VAULT_MAX_CACHE_SIZE_GB": "0.05"}, "MAX_CACHE_SIZE_GB", 0.05),
        ({"VINYL_VAULT_CACHE_SIZE_GB": "1.5"}, "MAX_CACHE_SIZE_GB", 1.5),
        ({"VINYL_VAULT_DEBUG": "1"}, "DEBUG", True),
        ({"VINYL_VAULT_DEBUG": "off"}, "DEBUG", False),
        ({"VINYL_VAULT_MAX_CONCURRENT_DOWNLOADS": "5"}, "MAX_CONCURRENT_DOWNLOADS", 5),
        ({"VINYL_VAULT_MIN_FREE_DISK_MB": "250"}, "min_free_disk_bytes", 250 * 1024**2),
        ({"VINYL_VAULT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}, "TRUSTED_PROXIES", ("127.0.0.1", "10.0.0.0/8")),
        (
            {"VINYL_VAULT_SOURCE_HOST_ALLOWLIST": "i.discogs.com, .example.org"},
            "SOURCE_HOST_ALLOWLIST",
            ("i.discogs.com", ".example.org"),
        ),
    ],
)
def test_environment_overrides(env, name, expected):
    assert getattr(config.load(env), name) == expected


def test_current_name_wins_over_alias():
    s = config.load({"VINYL_VAULT_CACHE_SIZE_GB": "1", "VINYL_VAULT_MAX_CACHE_SIZE_GB": "3"})
    assert s.MAX_CACHE_SIZE_GB == 3.0


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"VINYL_VAULT_MAX_CACHE_SIZE_GB": "lots"}, "expected a number"),
        ({"VINYL_VAULT_MAX_CACHE_SIZE_GB": "nan"}, "finite"),
        ({"VINYL_VAULT_MAX_CACHE_SIZE_GB": "-1"}, "at least"),
        ({"VINYL_VAULT_MIN_FREE_DISK_MB": "-5"}, "MIN_FREE_DISK_MB=-5.0: must be at least 0"),
        ({"VINYL_VAULT_IMAGE_QUALITY": "101"}, "at most 100"),
        ({"VINYL_VAULT_THUMBNAIL_SIZE": "1.5"}, "whole number"),
        ({"VINYL_VAULT_FILE_DELIVERY": "ftp"}, "one of"),
        ({"VINYL_VAULT_DEBUG": "maybe"}, "true/false"),
        ({"VINYL_VAULT_THUMBNAIL_SIZE": "700"}, "THUMBNAIL_SIZE"),
        ({"VINYL_VAULT_TRUSTED_PROXIES": "127.0.0.1, proxy.lan"}, "not an address or network"),
        ({"VINYL_VAULT_BIND": "0.0.0.0:99999"}, "port must be a number from 1 to 65535"),
        ({"VINYL_VAULT_BIND": "0.0.0.0:0"}, "port must be a number from 1 to 65535"),
        ({"VINYL_VAULT_BIND": "0.0.0.0:http"}, "port must be a number"),
        ({"VINYL_VAULT_BIND": "8080"}, "expected host:port"),
        ({"VINYL_VAULT_BIND": "::1:8080"}, "IPv6 address in brackets"),
        ({"VINYL_VAULT_BIND": "unix:"}, "unix:/path"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_variable(env, fragment):
    with pytest.raises(config.ConfigError) as info:
        config.load(env)
    message = str(info.value)
    assert fragment in message
    assert "VINYL_VAULT_" in message and "\n" not in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.0.0.0:8080", config.BindAddress("0.0.0.0", 8080)),
        ("127.0.0.1:80", config.BindAddress("127.0.0.1", 80)),
        ("[::]:8080", config.BindAddress("::", 8080)),
        ("raspberrypi.local:65535", config.BindAddress("raspberrypi.local", 65535)),
        ("unix:/run/vinylvault.sock", config.BindAddress(unix_path="/run/vinylvault.sock")),
    ],
)
def test_bind_accepts_host_port_and_unix_sockets(text, expected):
    assert config.load({"VINYL_VAULT_BIND": text}).BIND == text
    assert config.parse_bind(text) == expected


def test_bind_is_described_with_its_default():
    described = {name: (default, help_text) for name, default, help_text in config.describe()}
    assert described["BIND"][0] == "0.0.0.0:8080" and "host:port" in described["BIND"][1]


def test_overrides_are_validated_like_the_environment():
    assert config.load({}, MAX_CACHE_SIZE_GB=1).MAX_CACHE_SIZE_GB == 1.0
    with pytest.raises(config.ConfigError):
        config.load({}, IMAGE_QUALITY=0)
    with pytest.raises(config.ConfigError, match="unknown setting"):
        config.load({}, NO_SUCH_SETTING=1)


def test_every_setting_is_described():
    for name, _default, help_text in config.describe():
        assert name.isupper() and help_text.strip(), name


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "config.py"],
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            "127.0.0.1:0",
            "vinylvault:create_app()",
        ],
    ],
    ids=["start-up check", "gunicorn"],
)
@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "MAX_CACHE_SIZE_GB",
            "lots",
            "vinylvault: bad setting: VINYL_VAULT_MAX_CACHE_SIZE_GB='lots': expected a number",
        ),
        (
            "BIND",
            "0.0.0.0:99999",
            "vinylvault: bad setting: VINYL_VAULT_BIND='0.0.0.0:99999': the port must be a number from 1 to 65535",
        ),
    ],
    ids=["number", "port"],
)
def test_a_bad_value_stops_start_up_with_one_line_and_no_traceback(command, name, value, message, tmp_path):
    env = {**os.environ, "VINYL_VAULT_DATA_DIR": str(tmp_path), f"VINYL_VAULT_{name}": value}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert output.splitlines() == [message]


def test_the_start_up_check_passes_good_settings_silently(tmp_path):
    env = {**os.environ, "VINYL_VAULT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "config.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
