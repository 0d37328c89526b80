"""Cache hits served by the app itself, against a bare Flask ``send_from_directory`` app.

Run alone with ``.venv/bin/python bench/bench_serving.py`` (or via run_all.py).
Caches one real cover through the engine, starts VinylVault and
bench/bare_app.py side by side under gunicorn (gunicorn.conf.py, 2
workers each) on 127.0.0.1, then measures with wrk (8 connections, 5 s per
run, 3 interleaved runs, medians):

- baseline: the bare app sending the same file with ``send_from_directory``;
- a cache hit (200) through ``/cache/thumbnails/<key>.webp``: index look-up,
  ETag, immutable headers, batched hit recording, the file through sendfile;
- the same URL revalidated with ``If-None-Match`` (304, file untouched);
- the bare app's own 304, for reference.

This is the path when no nginx is in front (FILE_DELIVERY=direct); see
"Serving through nginx" for the deployed path. Writes "## Serving" in
BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import ROOT, table, write_section
from wrk import compare

from tests.support.demo_site import cache_local_cover
from tests.support.servers import GunicornServer, http_get

WORK = ROOT / "bench" / ".work" / "serving"
#: A worker serves one request at a time: a few connections keep both busy.
CONNECTIONS = 8
SECONDS = 5
RUNS = 5
TARGET_RATIO = 0.9  # the app's hit should cost about what the bare send_from_directory costs

BARE = "bare send_from_directory (baseline)"
HIT = "cache hit, 200"
REVALIDATED = "cache hit, If-None-Match -> 304"
BARE_304 = "bare send_from_directory, 304"


def _etag(url: str, expected_status: int = 200) -> str:
    status, headers, _body = http_get(url)
    if status != expected_status:
        raise RuntimeError(f"{url} answered {status}, expected {expected_status}")
    return headers["ETag"]


def _measure(ours: GunicornServer, bare: GunicornServer, key: str) -> dict:
    hit = ours.url(f"/cache/thumbnails/{key}.webp")
    bare_file = bare.url(f"/files/thumbnails/{key[:2]}/{key}.webp")
    ours_etag, bare_etag = _etag(hit), _etag(bare_file)
    return compare(
        {
            BARE: bare_file,
            HIT: hit,
            REVALIDATED: (hit, f"If-None-Match: {ours_etag}"),
            BARE_304: (bare_file, f"If-None-Match: {bare_etag}"),
        },
        runs=RUNS,
        seconds=SECONDS,
        connections=CONNECTIONS,
    )


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    data_dir.mkdir(parents=True)
    key = cache_local_cover(data_dir, "serving", (40, 90, 180))
    covers_dir = data_dir / "cache" / "covers"
    env = {"VINYL_VAULT_DEMO_WHEN_EMPTY": "false", "VINYL_VAULT_FILE_DELIVERY": "direct"}
    bare_env = {"PYTHONPATH": str(ROOT / "bench"), "BARE_APP_DIR": str(covers_dir)}
    with (
        GunicornServer(data_dir, log_path=WORK / "vinylvault.log", workers=2, env=env) as ours,
        GunicornServer(
            WORK / "bare-data", log_path=WORK / "bare.log", workers=2, env=bare_env, app="bare_app:app"
        ) as bare,
    ):
        results = _measure(ours, bare, key)

    baseline = results[BARE].requests_per_second
    rows = [
        (
            name,
            f"{r.requests_per_second:,.0f}",
            f"{r.requests_per_second / baseline:.2f}x",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            r.errors,
        )
        for name, r in results.items()
    ]
    ratio = results[HIT].requests_per_second / baseline
    speedup = results[REVALIDATED].requests_per_second / results[HIT].requests_per_second
    write_section(
        "Serving",
        "\n\n".join(
            [
                f"A 150 px cover already in the cache, served by gunicorn (gunicorn.conf.py, 2 workers) "
                f"with FILE_DELIVERY=direct, next to bench/bare_app.py under the same gunicorn settings; wrk with "
                f"{CONNECTIONS} connections on 127.0.0.1, {RUNS} interleaved runs of {SECONDS} s, medians.",
                table(("path", "requests/s", "vs baseline", "p50 ms", "p99 ms", "errors"), rows),
                f"- Target: a cache hit at least {TARGET_RATIO}x the bare app's requests/s: "
                f"**{ratio:.2f}x, {'met' if ratio >= TARGET_RATIO else 'MISSED'}**.\n"
                f"- Target: the 304 path faster than the 200 path: **{speedup:.2f}x the 200's requests/s, "
                f"{'met' if speedup > 1 else 'MISSED'}**; median latency {results[REVALIDATED].p50_ms:.2f} ms "
                f"vs {results[HIT].p50_ms:.2f} ms.\n"
                "- The workers close every connection, so each request also pays a TCP connect; on a machine "
                "shared with other jobs the spread between runs is wide: compare the ratios of one run.\n"
                "- The hit does one indexed SQLite read (the entry: path, size, content hash) and records the "
                "access in memory; the 304 answers from that row without opening the file.",
            ]
        ),
    )
    print(f"hit {ratio:.2f}x bare; 304 {speedup:.2f}x the 200")


if __name__ == "__main__":
    main()
