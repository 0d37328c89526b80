"""The baseline app for benchmarks: bare Flask, nothing of VinylVault.

``gunicorn "bare_app:app"`` (run from bench/) answers ``/`` with a short text
and sends files under ``/files/`` from ``BARE_APP_DIR`` with
``send_from_directory``: what any Flask app costs, measured in the same run
as VinylVault.
"""

import os

from flask import Flask, send_from_directory

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"


@app.get("/files/<path:name>")
def files(name: str):
    return send_from_directory(os.environ.get("BARE_APP_DIR", "."), name)
