"""The per-IP budget holds across processes: two syncs, the CLI and album pages' release fetches at once.

Real processes on one DATA_DIR, real HTTP to the fake Discogs API. The pacing
under DATA_DIR/locks is what keeps them within one budget; the check is on the
arrival times the server recorded, a lower bound on their spacing that a slow
machine can only widen.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import ROOT
from vinylvault import db

INTERVAL = 0.25
#: Consecutive requests checked together, and the most a request may arrive after its turn
#: (process scheduling on a shared machine; the turns themselves are exact).
RUN = 12
MAX_DELAY = 0.5

SYNC = (
    "import config; from vinylvault.library import sync\n"
    "try:\n    sync.sync_once(config.load())\nexcept sync.SyncBusy:\n    print('busy')\n"
)
OPEN_ALBUMS = (
    "import config; from vinylvault import db; from vinylvault.library import sync\n"
    "s = config.load(); conn = db.connect(s.DATABASE_PATH)\n"
    "for release_id in range(5_000_000, 5_000_012):\n"
    "    sync.ensure_release_details(conn, s, release_id)\n"
)


def test_two_syncs_the_cli_and_release_fetches_share_one_budget(tmp_path, fake):
    fake.items = [fake.make_item(i) for i in range(450)]
    fake.wants = [fake.make_want(i) for i in range(250)]
    fake.remaining = fake.ratelimit  # keep the client's own throttle out of the picture
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "VINYL_VAULT_DATA_DIR": str(data_dir),
        "VINYL_VAULT_DISCOGS_API_URL": fake.url,
        "VINYL_VAULT_DISCOGS_USERNAME": fake.username,
        "VINYL_VAULT_DISCOGS_TOKEN": fake.token,
        "VINYL_VAULT_DISCOGS_MIN_INTERVAL_SECONDS": str(INTERVAL),
        "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
        "VINYL_VAULT_DEMO_WHEN_EMPTY": "false",
    }
    db.initialize(data_dir / "vinylvault.db")
    commands = [
        [sys.executable, "-c", SYNC],
        [sys.executable, "-c", SYNC],
        [sys.executable, "-m", "flask", "--app", "vinylvault", "sync"],
        [sys.executable, "-c", OPEN_ALBUMS],
    ]
    processes = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    results = [(p.wait(timeout=240), *p.communicate()) for p in processes]
    for (code, out, err), cmd in zip(results, commands):
        assert code == 0 or "already running" in err, (cmd[-1][:40], code, out, err[-800:])

    arrivals = sorted(fake.arrivals)
    assert len(arrivals) >= 5 + 3 + 1 + 2 + 12  # one full sync and the album pages at least
    # Each request has its own turn, turns are INTERVAL apart, and a request reaches the server at or
    # somewhat after its turn: any RUN consecutive requests span at least (RUN - 1) turns less that delay.
    # (At the default 1 s interval: no more than 60 requests in any minute.) Unpaced processes would
    # send side by side and fail this at once.
    spans = [arrivals[i + RUN - 1] - arrivals[i] for i in range(len(arrivals) - RUN + 1)]
    assert min(spans) >= (RUN - 1) * INTERVAL - MAX_DELAY, sorted(spans)[:3]

    conn = db.connect(data_dir / "vinylvault.db")
    assert conn.execute("SELECT count(*) FROM albums").fetchone()[0] == 450
    assert conn.execute("SELECT count(*) FROM wants").fetchone()[0] == 250
    assert conn.execute("SELECT count(*) FROM collection_value").fetchone()[0] >= 1
