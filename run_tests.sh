#!/usr/bin/env bash
# Runs the whole VinylVault test suite on a fresh machine: installs what the
# tests need (a virtual environment, Debian's chromium and libvips), then pytest.
# Extra arguments go to pytest, e.g. ./run_tests.sh -k cache -x
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)   # tests/deploy runs the shipped nginx site
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)              # ... with deploy/lan_tls.py's certificate
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)        # tests/kiosk checks deploy/kiosk's scripts
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)      # ... and verifies its systemd unit
command -v desktop-file-validate >/dev/null 2>&1 || need_apt+=(desktop-file-utils)  # ... and its autostart entry
[ -e /usr/lib/x86_64-linux-gnu/libvips.so.42 ] || [ -e /usr/lib/aarch64-linux-gnu/libvips.so.42 ] || need_apt+=(libvips42)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "Installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -r requirements-dev.txt

# Lint and format are part of the suite (ruff.toml says what is checked).
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .

exec .venv/bin/python -m pytest "$@"
