"""Load generation with wrk on 127.0.0.1, bounded in time, parsed into numbers."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from typing import Sequence

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class WrkMissing(RuntimeError):
    """wrk is not installed (Debian package ``wrk``)."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _latency_ms(text: str, percent: str) -> float:
    match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"no {percent}% latency in wrk output:\n{text}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _errors(text: str) -> int:
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)


def run_wrk(
    url: str, *, seconds: int = 4, connections: int = 32, threads: int = 2, headers: Sequence[str] = ()
) -> WrkResult:
    """One wrk run against ``url`` (32 connections, like PERFORMANCE_NOTES.md)."""
    if shutil.which("wrk") is None:
        raise WrkMissing("wrk is not installed: apt-get install wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    text = subprocess.run(command + [url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{text}")
    return WrkResult(float(rps.group(1)), _latency_ms(text, "50"), _latency_ms(text, "99"), _errors(text))


def median_result(results: Sequence[WrkResult]) -> WrkResult:
    """Medians of each figure over several runs."""
    return WrkResult(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
    )


def compare(urls: dict[str, str | tuple[str, str]], *, runs: int = 3, **options) -> dict[str, WrkResult]:
    """Median results per name, runs interleaved so drift in machine load hits every URL alike.

    A value is a URL, or ``(url, header)`` to send one extra header with it (``If-None-Match: ...``).
    """
    results: dict[str, list[WrkResult]] = {name: [] for name in urls}
    for _ in range(runs):
        for name, target in urls.items():
            url, headers = (target, ()) if isinstance(target, str) else (target[0], target[1:])
            results[name].append(run_wrk(url, headers=headers, **options))
    return {name: median_result(values) for name, values in results.items()}
