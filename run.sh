#!/usr/bin/env bash
# Installs and starts VinylVault on this machine: a virtual environment, the
# Python packages, the database (with the demo collection when nothing is
# configured), then gunicorn on VINYL_VAULT_BIND (default 0.0.0.0:8080), which
# ends by printing the addresses to open. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "VinylVault needs Python 3.11 or newer." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -r requirements.txt

.venv/bin/python config.py   # a bad VINYL_VAULT_* value: one line, exit 2
.venv/bin/flask --app vinylvault init
exec .venv/bin/gunicorn --config gunicorn.conf.py "vinylvault:create_app()"
