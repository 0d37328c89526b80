"""deploy/kiosk: the scripts parse and pass shellcheck, install.sh installs into a fake home folder and
removes exactly what it installed, the unit passes systemd-analyze, and the launcher starts "chromium"
(a stand-in that records its arguments) with the kiosk flags once a real local site answers."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.fake_commands import calls, recording_command
from tests.support.servers import ROOT

KIOSK = ROOT / "deploy" / "kiosk"
INSTALL = KIOSK / "install.sh"
LAUNCHER = KIOSK / "vinylvault-kiosk"
INSTALLED = {  # path under the home folder -> (source file, mode)
    ".local/bin/vinylvault-kiosk": ("vinylvault-kiosk", 0o755),
    ".config/systemd/user/vinylvault-kiosk.service": ("vinylvault-kiosk.service", 0o644),
    ".config/autostart/vinylvault-kiosk.desktop": ("vinylvault-kiosk.desktop", 0o644),
    ".config/vinylvault-kiosk.env": ("vinylvault-kiosk.env", 0o644),
}
KIOSK_FLAGS = [
    "--kiosk",
    "--noerrdialogs",
    "--disable-session-crashed-bubble",
    "--disable-infobars",
    "--no-first-run",
    "--password-store=basic",
]


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("script", [INSTALL, LAUNCHER], ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script: Path):
    assert run("bash", "-n", script).returncode == 0
    assert shutil.which("shellcheck"), "shellcheck missing: ./run_tests.sh installs it"
    result = run("shellcheck", "--severity=style", script)
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK)


def test_dry_run_says_what_it_would_do_and_writes_nothing(tmp_path: Path):
    result = run(INSTALL, "--prefix", tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert files_under(tmp_path) == set()
    for name in INSTALLED:
        assert f" {tmp_path / name}\n" in result.stdout
    assert all(line.startswith(("would ", "Done: ")) for line in result.stdout.splitlines())


def test_install_writes_every_file_and_uninstall_removes_them(tmp_path: Path):
    result = run(INSTALL, "--prefix", tmp_path)
    assert result.returncode == 0, result.stderr
    assert files_under(tmp_path) == set(INSTALLED)
    for name, (source, mode) in INSTALLED.items():
        written = tmp_path / name
        expected = (KIOSK / source).read_text().replace("@KIOSK_BIN@", str(tmp_path / ".local/bin/vinylvault-kiosk"))
        assert written.read_text() == expected
        assert stat.S_IMODE(written.stat().st_mode) == mode
    entry = (tmp_path / ".config/autostart/vinylvault-kiosk.desktop").read_text()
    assert f"\nExec={tmp_path}/.local/bin/vinylvault-kiosk --from-session\n" in entry
    assert shutil.which("desktop-file-validate"), "desktop-file-validate missing: ./run_tests.sh installs it"
    checked = run("desktop-file-validate", tmp_path / ".config/autostart/vinylvault-kiosk.desktop")
    assert checked.returncode == 0 and checked.stdout == "", checked.stdout
    dry = run(INSTALL, "--prefix", tmp_path, "--uninstall", "--dry-run")
    assert dry.returncode == 0 and files_under(tmp_path) == set(INSTALLED)
    removed = run(INSTALL, "--prefix", tmp_path, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert files_under(tmp_path) == set()


def test_an_own_labwc_autostart_gets_one_line_and_keeps_its_others(tmp_path: Path):
    autostart = tmp_path / ".config" / "labwc" / "autostart"
    autostart.parent.mkdir(parents=True)
    autostart.write_text("wf-panel-pi &\nkanshi &\n")
    for _ in range(2):  # installing again adds nothing
        assert run(INSTALL, "--prefix", tmp_path).returncode == 0
    lines = autostart.read_text().splitlines()
    assert lines[:2] == ["wf-panel-pi &", "kanshi &"]
    assert lines[2:] == ['"$HOME/.local/bin/vinylvault-kiosk" --from-session &  # vinylvault-kiosk']
    assert run(INSTALL, "--prefix", tmp_path, "--uninstall").returncode == 0
    assert autostart.read_text() == "wf-panel-pi &\nkanshi &\n"


def test_url_option_sets_the_address_even_with_an_ampersand(tmp_path: Path):
    url = "http://localhost:9000/?kiosk=1&sort=year"
    assert run(INSTALL, "--prefix", tmp_path, "--url", url).returncode == 0
    env = (tmp_path / ".config" / "vinylvault-kiosk.env").read_text()
    assert f"\nVINYLVAULT_KIOSK_URL={url}\n" in env


def test_an_edited_settings_file_survives_a_reinstall(tmp_path: Path):
    assert run(INSTALL, "--prefix", tmp_path).returncode == 0
    env = tmp_path / ".config" / "vinylvault-kiosk.env"
    env.write_text("VINYLVAULT_KIOSK_URL=http://localhost:8080/?kiosk=1&sort=added\n")
    assert run(INSTALL, "--prefix", tmp_path).returncode == 0
    assert env.read_text() == "VINYLVAULT_KIOSK_URL=http://localhost:8080/?kiosk=1&sort=added\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bogus"], "unknown option --bogus"),
        (["--url", "localhost:8080"], "--url must start with http://"),
        (["--prefix"], "--prefix needs a folder"),
    ],
)
def test_bad_options_are_one_line_and_status_2(tmp_path: Path, args: list[str], message: str):
    result = run(INSTALL, *args, env={"HOME": str(tmp_path)})
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert files_under(tmp_path) == set()


def verify_unit(home: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: ./run_tests.sh installs systemd"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return run(
        "systemd-analyze",
        "--user",
        "verify",
        home / ".config/systemd/user/vinylvault-kiosk.service",
        env={"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)},
    )


def test_the_installed_unit_passes_systemd_analyze_verify(tmp_path: Path):
    home = tmp_path / "home"
    assert run(INSTALL, "--prefix", home).returncode == 0
    result = verify_unit(home, tmp_path / "run")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The check is real: without the launcher it fails.
    (home / ".local/bin/vinylvault-kiosk").unlink()
    assert verify_unit(home, tmp_path / "run").returncode != 0


# --- The launcher ------------------------------------------------------------------------


class _Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"VinylVault")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/?kiosk=1"
    finally:
        server.shutdown()
        server.server_close()


def test_launcher_opens_the_site_in_chromium_kiosk_mode(tmp_path: Path, local_site: str):
    record = recording_command(tmp_path / "bin", "chromium")
    prefs = tmp_path / ".local/state/vinylvault-kiosk/chromium/Default/Preferences"
    prefs.parent.mkdir(parents=True)
    prefs.write_text('{"profile":{"exit_type":"Crashed","exited_cleanly":false}}')
    result = run(
        LAUNCHER,
        env={"HOME": str(tmp_path), "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "VINYLVAULT_KIOSK_URL": local_site},
    )
    assert result.returncode == 0, result.stderr
    (args,) = calls(record)
    assert set(KIOSK_FLAGS) <= set(args)
    assert args[-1] == local_site
    assert f"--user-data-dir={prefs.parent.parent}" in args
    # A crashed last session would offer "Restore pages?": marked clean before the start.
    assert json.loads(prefs.read_text()) == {"profile": {"exit_type": "Normal", "exited_cleanly": True}}


def test_launcher_gives_up_with_one_line_when_the_site_never_answers(tmp_path: Path):
    record = recording_command(tmp_path / "bin", "chromium")
    result = run(
        LAUNCHER,
        env={
            "HOME": str(tmp_path),
            "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
            "VINYLVAULT_KIOSK_URL": "http://127.0.0.1:9/?kiosk=1",
            "VINYLVAULT_KIOSK_WAIT_SECONDS": "1",
        },
    )
    assert result.returncode == 1 and not record.exists()
    assert (
        result.stderr == "vinylvault-kiosk: http://127.0.0.1:9/?kiosk=1 does not answer after 1s; "
        "is VinylVault running?\n"
    )


def test_launcher_without_chromium_says_how_to_install_it(tmp_path: Path):
    empty = tmp_path / "bin"
    empty.mkdir()
    for tool in ("curl", "sed", "mkdir", "sleep"):
        (empty / tool).symlink_to(shutil.which(tool))
    result = run("/bin/bash", LAUNCHER, env={"HOME": str(tmp_path), "PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr == "vinylvault-kiosk: Chromium is not installed (sudo apt install chromium)\n"
