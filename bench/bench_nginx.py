"""Cache hits through nginx: the deploy/ site in front of gunicorn, against nginx's plain static file.

Run alone with ``.venv/bin/python bench/bench_nginx.py`` (or via run_all.py).
Starts gunicorn with the project's gunicorn.conf.py and nginx with
deploy/vinylvault.conf on 127.0.0.1, caches one real cover through the
engine, then measures with wrk (32 connections, 4 s per run, 3 interleaved
runs, medians):

- baseline: nginx sending the same bytes as a plain file under /static/;
- a cache hit through the deploy site (nginx finds the file, no app);
- the same hit sent by the app alone (gunicorn, 2 workers), which is
  what nginx buys.

Writes "## Serving through nginx" in BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import ROOT, table, write_section
from wrk import compare

from tests.support.demo_site import cache_local_cover
from tests.support.servers import GunicornServer, NginxServer

WORK = ROOT / "bench" / ".work" / "nginx"
TARGET_RATIO = 0.9  # a hit through the site should cost what a static file costs


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    data_dir.mkdir(parents=True)
    key = cache_local_cover(data_dir, "bench", (180, 90, 40))
    covers_dir = data_dir / "cache" / "covers"
    static_dir = WORK / "static"
    static_dir.mkdir()
    shutil.copy(covers_dir / "thumbnails" / key[:2] / f"{key}.webp", static_dir / "same.webp")
    hit = f"/cache/thumbnails/{key}.webp"

    env = {"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", "VINYL_VAULT_TRUSTED_PROXIES": "127.0.0.1"}
    with (
        GunicornServer(data_dir, log_path=WORK / "gunicorn.log", workers=2, env=env) as app,
        NginxServer(
            WORK / "nginx", upstream_port=app.port, covers_dir=covers_dir, static_dir=static_dir, worker_processes=2
        ) as web,
    ):
        results = compare(
            {
                "nginx static file (baseline)": web.url("/static/same.webp"),
                "cache hit through the nginx site": web.url(hit),
                "cache hit from gunicorn alone": app.url(hit),
            }
        )

    baseline = results["nginx static file (baseline)"]
    site = results["cache hit through the nginx site"]
    rows = [
        (
            name,
            f"{r.requests_per_second:,.0f}",
            f"{r.requests_per_second / baseline.requests_per_second:.2f}x",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            r.errors,
        )
        for name, r in results.items()
    ]
    ratio = site.requests_per_second / baseline.requests_per_second
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    gain = site.requests_per_second / results["cache hit from gunicorn alone"].requests_per_second
    write_section(
        "Serving through nginx",
        "\n\n".join(
            [
                "A 150 px cover already in the cache, wrk with 32 connections on 127.0.0.1, 3 interleaved runs of "
                "4 s, medians. nginx: deploy/vinylvault.conf with 2 worker processes; gunicorn: gunicorn.conf.py "
                "(2 workers).",
                table(("path", "requests/s", "vs baseline", "p50 ms", "p99 ms", "errors"), rows),
                f"- Target: a hit through the site at least {TARGET_RATIO}x the static file's requests/s: "
                f"**{ratio:.2f}x, {verdict}**.\n"
                f"- nginx in front serves hits **{gain:.1f}x** the requests/s of gunicorn alone.",
            ]
        ),
    )
    print(f"nginx site {ratio:.2f}x static; {gain:.1f}x gunicorn alone")


if __name__ == "__main__":
    main()
