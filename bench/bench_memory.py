"""Resident memory per gunicorn worker after warm-up, against a bare Flask app's worker.

Run alone with ``.venv/bin/python bench/bench_memory.py`` (or via run_all.py).
Both apps run under gunicorn with gunicorn.conf.py (2 workers). VinylVault
serves the demo collection with a warm cover cache and is warmed up with every
kind of request a visitor makes (grid pages, albums, search, stats, covers);
the bare app gets the same number of requests. Memory is read from
/proc/<pid>/smaps_rollup: RSS (what ``top`` shows) and PSS (shared pages
divided among the processes sharing them: what each worker really costs).
Writes "## Memory per worker" in BENCHMARKS.md.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import ROOT, table, write_section

from tests.support.demo_site import prepare_demo_site
from tests.support.servers import GunicornServer, http_get

WORK = ROOT / "bench" / ".work" / "memory"
ENV = {"VINYL_VAULT_SYNC_INTERVAL_HOURS": "0"}
#: Each worker should stay well inside a Pi's memory next to the browser.
TARGET_MIB = 120


def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of ``pid`` in MiB."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    values = {name: int(kb) / 1024 for name, kb in re.findall(r"^(Rss|Pss):\s+(\d+) kB", text, re.MULTILINE)}
    return values["Rss"], values["Pss"]


def cover_urls(html: str) -> list[str]:
    return sorted(set(re.findall(r"(/cache/(?:thumbnails|detail)/[0-9a-f]{64}\.webp)", html)))


def warm_up_vinylvault(server: GunicornServer, album_ids: list[int]) -> int:
    """A visitor's mix of requests, repeated so both workers see each; the request count."""
    paths = ["/", "/?sort=year", "/?sort=title&order=desc", "/search?q=a", "/stats", "/random"]
    paths += [f"/album/{album_id}" for album_id in album_ids]
    covers: set[str] = set()
    for path in paths:
        _status, _headers, body = http_get(server.url(path))
        covers.update(cover_urls(body.decode("utf-8", "replace")))
    paths += sorted(covers)
    for path in paths * 2:
        http_get(server.url(path))
    return len(paths) * 3


def worker_memory(server: GunicornServer) -> list[tuple[float, float]]:
    return [memory_mib(pid) for pid in server.worker_pids()]


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    albums = prepare_demo_site(data_dir, "bench-password", ENV)
    with GunicornServer(data_dir, log_path=WORK / "vinylvault.log", workers=2, env=ENV) as server:
        requests = warm_up_vinylvault(server, [album.id for album in albums])
        ours = worker_memory(server)
    bare_env = {"PYTHONPATH": str(ROOT / "bench"), "BARE_APP_DIR": str(WORK)}
    with GunicornServer(
        WORK / "bare-data", log_path=WORK / "bare.log", workers=2, env=bare_env, app="bare_app:app"
    ) as server:
        for _ in range(requests):
            http_get(server.url("/"))
        bare = worker_memory(server)

    def mean(values: list[tuple[float, float]], which: int) -> float:
        return sum(v[which] for v in values) / len(values)

    rss, pss, bare_rss, bare_pss = mean(ours, 0), mean(ours, 1), mean(bare, 0), mean(bare, 1)
    verdict = "met" if rss <= TARGET_MIB else "MISSED"
    write_section(
        "Memory per worker",
        "\n\n".join(
            [
                f"gunicorn with gunicorn.conf.py (2 workers), each worker measured after {requests} requests "
                f"(grid pages, {len(albums)} album pages, search, stats, random, every cover) for VinylVault with "
                "the demo collection and a warm cache, and as many requests for a bare Flask app (baseline). "
                "Mean of the two workers, from /proc/<pid>/smaps_rollup.",
                table(
                    ("app", "RSS MiB", "PSS MiB", "RSS vs baseline"),
                    [
                        ("bare Flask (baseline)", f"{bare_rss:.1f}", f"{bare_pss:.1f}", "1.00x"),
                        ("VinylVault", f"{rss:.1f}", f"{pss:.1f}", f"{rss / bare_rss:.2f}x"),
                    ],
                ),
                f"- Target: at most {TARGET_MIB} MiB resident per worker: **{rss:.0f} MiB, {verdict}**. "
                "The memory tier is off by default (MEMORY_CACHE_ENABLED); turning it on adds up to "
                "MEMORY_CACHE_SIZE_MB per worker.",
            ]
        ),
    )
    print(f"VinylVault worker RSS {rss:.1f} MiB (PSS {pss:.1f}); bare Flask {bare_rss:.1f} MiB")


if __name__ == "__main__":
    main()
