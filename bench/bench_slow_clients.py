"""The site's latency with 50 slow clients connected, against the same site with none.

Run alone with ``.venv/bin/python bench/bench_slow_clients.py`` (or via run_all.py).
Starts gunicorn with gunicorn.conf.py (2 workers of its worker class) on the
demo collection with a warm cache, then times ``/health`` and the grid ``/``
one request after another, with no slow client (baseline) and with 50
connections each sending one header line every 2 s (tests/support/slow_clients.py),
the two conditions interleaved. The same is tried against gunicorn's plain
``sync`` worker (what the project used before) and ``gthread`` for comparison. Then wrk
measures cache hits (8 and 32 connections) with both worker classes, runs
interleaved, so the cost of waiting for heads shows in the throughput.
Writes "## Slow clients" in BENCHMARKS.md.
"""

from __future__ import annotations

import http.client
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import ROOT, percentile, table, write_section
from wrk import compare

from tests.support.demo_site import cache_local_cover, prepare_demo_site
from tests.support.servers import GunicornServer
from tests.support.slow_clients import SlowClients

WORK = ROOT / "bench" / ".work" / "slow_clients"
ENV = {
    "VINYL_VAULT_SYNC_INTERVAL_HOURS": "0",
    # No slow client is timed out while it is measured against.
    "VINYL_VAULT_REQUEST_HEAD_TIMEOUT_SECONDS": "600",
}
#: gunicorn reads this over the config file.
PLAIN_SYNC = {"GUNICORN_CMD_ARGS": "--worker-class sync"}
#: gunicorn's own workers tried with the slow clients, for comparison.
OTHER_WORKERS = {
    "plain `sync` worker": PLAIN_SYNC,
    "`gthread`, 4 threads per worker": {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 4"},
}
SLOW_CLIENTS = 50
DRIP_SECONDS = 2.0
ROUNDS = 5
REQUESTS_PER_ROUND = 20
PATHS = ("/health", "/")
#: Each request to gunicorn's own workers waits at most this long.
OTHER_TIMEOUT_SECONDS = 3.0
TARGET_SECONDS = 1.0
WRK_CONNECTIONS = (8, 32)
WRK_SECONDS = 4
WRK_RUNS = 3


def timed_get(port: int, path: str, timeout: float) -> float | None:
    """Seconds for one GET answered 200, or None when it timed out or failed."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None
    finally:
        connection.close()


def latencies(
    server: GunicornServer, slow: int, timeout: float = 10.0, requests: int = REQUESTS_PER_ROUND
) -> dict[str, list[float | None]]:
    """Latency of every request to each path, with ``slow`` slow clients connected."""
    results: dict[str, list[float | None]] = {path: [] for path in PATHS}

    def measure() -> None:
        for _ in range(requests):
            for path in PATHS:
                results[path].append(timed_get(server.port, path, timeout))

    if not slow:
        measure()
        return results
    with SlowClients(server.port, count=slow, interval=DRIP_SECONDS) as clients:
        while clients.lines_sent < 1:
            time.sleep(0.05)
        measure()
    return results


def summary(values: list[float | None]) -> tuple[float, float, float, int]:
    """(p50, p95, max) in ms over the answered requests, and how many were not answered."""
    answered = [v * 1000 for v in values if v is not None]
    failed = len(values) - len(answered)
    if not answered:
        return float("nan"), float("nan"), float("nan"), failed
    return statistics.median(answered), percentile(answered, 0.95), max(answered), failed


def measure_ours(data_dir: Path) -> dict[tuple[str, int], list[float | None]]:
    """Interleaved rounds with 0 and 50 slow clients against the project's config."""
    merged: dict[tuple[str, int], list[float | None]] = {}
    with GunicornServer(data_dir, log_path=WORK / "ours.log", workers=2, env=ENV) as server:
        for _ in range(ROUNDS):
            for slow in (0, SLOW_CLIENTS):
                for path, values in latencies(server, slow).items():
                    merged.setdefault((path, slow), []).extend(values)
    return merged


def measure_other_worker(data_dir: Path, env: dict[str, str]) -> dict[str, list[float | None]]:
    """A few requests to one of gunicorn's own workers with the slow clients connected."""
    with GunicornServer(data_dir, log_path=WORK / "other.log", workers=2, env={**ENV, **env}) as server:
        return latencies(server, SLOW_CLIENTS, timeout=OTHER_TIMEOUT_SECONDS, requests=2)


def measure_throughput(data_dir: Path) -> dict[str, object]:
    """wrk on one cached cover: gunicorn's sync worker against the project's worker."""
    key = cache_local_cover(data_dir, "slow-clients", (90, 40, 140))
    env = {**ENV, "VINYL_VAULT_FILE_DELIVERY": "direct"}
    with (
        GunicornServer(data_dir, log_path=WORK / "wrk-sync.log", env={**env, **PLAIN_SYNC}) as plain,
        GunicornServer(data_dir, log_path=WORK / "wrk-ours.log", env=env) as ours,
    ):
        path = f"/cache/thumbnails/{key}.webp"
        results = {}
        for connections in WRK_CONNECTIONS:
            results.update(
                {
                    (name, connections): result
                    for name, result in compare(
                        {"sync": plain.url(path), "ours": ours.url(path)},
                        runs=WRK_RUNS,
                        seconds=WRK_SECONDS,
                        connections=connections,
                    ).items()
                }
            )
        return results


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    data_dir = WORK / "data"
    data_dir.mkdir(parents=True)
    prepare_demo_site(data_dir, "bench-password", ENV)
    ours = measure_ours(data_dir)
    others = {name: measure_other_worker(data_dir, env) for name, env in OTHER_WORKERS.items()}
    wrk = measure_throughput(data_dir)

    names = {"/health": "`/health`", "/": "grid `/`"}
    rows, verdicts = [], []
    for path in PATHS:
        base = summary(ours[(path, 0)])
        loaded = summary(ours[(path, SLOW_CLIENTS)])
        for label, (p50, p95, worst, failed) in (("none (baseline)", base), (f"{SLOW_CLIENTS} slow", loaded)):
            rows.append(
                (names[path], label, f"{p50:.1f}", f"{p95:.1f}", f"{worst:.1f}", f"{p50 / base[0]:.2f}x", failed)
            )
        ok = loaded[3] == 0 and loaded[2] < TARGET_SECONDS * 1000
        verdicts.append(
            f"{names[path]} slowest {loaded[2]:.0f} ms, {loaded[3]} unanswered: {'met' if ok else 'MISSED'}"
        )
    for worker, results in others.items():
        for path in PATHS:
            p50, _p95, worst, failed = summary(results[path])
            shown = ("no answer", "") if failed == len(results[path]) else (f"{p50:.1f}", f"{worst:.1f}")
            rows.append(
                (
                    names[path],
                    f"{SLOW_CLIENTS} slow, {worker}",
                    shown[0],
                    "",
                    shown[1],
                    "",
                    f"{failed} of {len(results[path])}",
                )
            )

    wrk_rows = []
    for connections in WRK_CONNECTIONS:
        base = wrk[("sync", connections)].requests_per_second
        for name, label in (("sync", "plain `sync` (baseline)"), ("ours", "HeadBufferingWorker")):
            r = wrk[(name, connections)]
            wrk_rows.append(
                (
                    connections,
                    label,
                    f"{r.requests_per_second:,.0f}",
                    f"{r.requests_per_second / base:.2f}x",
                    f"{r.p50_ms:.2f}",
                    f"{r.p99_ms:.2f}",
                    r.errors,
                )
            )

    write_section(
        "Slow clients",
        "\n\n".join(
            [
                f"gunicorn with gunicorn.conf.py (2 workers, `gunicorn_worker.HeadBufferingWorker`) on the demo "
                f"collection with a warm cache. `/health` and the grid `/` requested one after another, "
                f"{REQUESTS_PER_ROUND} of each per round, {ROUNDS} rounds with no slow client (baseline) interleaved "
                f"with {ROUNDS} rounds while {SLOW_CLIENTS} connections each send one header line every "
                f"{DRIP_SECONDS:g} s and never finish. Last rows: gunicorn's own `sync` and `gthread` workers with "
                f"the same slow clients, each request given {OTHER_TIMEOUT_SECONDS:g} s.",
                table(("request", "slow clients", "p50 ms", "p95 ms", "max ms", "p50 vs baseline", "unanswered"), rows),
                "- Target: `/health` and a grid page under 1 s with 50 slow clients connected: "
                + "; ".join(verdicts)
                + ".",
                f"Cache hits of one 150 px cover (FILE_DELIVERY=direct), wrk for {WRK_SECONDS} s, {WRK_RUNS} "
                "interleaved runs, medians: the cost of waiting for heads in epoll instead of in a blocking read.",
                table(("wrk connections", "worker", "requests/s", "vs sync", "p50 ms", "p99 ms", "errors"), wrk_rows),
            ]
        ),
    )
    print("; ".join(verdicts))


if __name__ == "__main__":
    main()
