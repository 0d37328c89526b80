"""Run every benchmark and write BENCHMARKS.md: ``.venv/bin/python bench/run_all.py``.

Each ``bench/bench_*.py`` runs in its own process (so one's memory or threads
cannot skew the next), one after the other (so they do not compete for the two
cores), with a time limit, and rewrites its own section of BENCHMARKS.md.
This script refreshes the header (machine, versions, the ratio rule) and a
"Run summary" section; it exits non-zero when a benchmark failed.

``--only NAME`` (repeatable) runs a subset, e.g. ``--only nginx --only memory``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from report import ROOT, table, write_header, write_section

BENCH_DIR = Path(__file__).resolve().parent
#: A benchmark still running after this is stopped and reported as timed out.
TIMEOUT_SECONDS = 300
#: Benchmarks that build large collections or sites get longer.
TIMEOUT_OVERRIDES = {"bench_pages.py": 1200, "bench_browser.py": 900}


def discover(only: list[str]) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only]
    return scripts


def run_one(script: Path) -> tuple[str, float]:
    """Run one benchmark; (outcome, seconds). Its output goes straight to ours."""
    print(f"=== {script.name}", flush=True)
    started = time.monotonic()
    timeout = TIMEOUT_OVERRIDES.get(script.name, TIMEOUT_SECONDS)
    try:
        code = subprocess.run([sys.executable, str(script)], cwd=ROOT, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} s", time.monotonic() - started
    return ("ok" if code == 0 else f"failed (exit {code})"), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run bench_NAME.py only (repeatable)"
    )
    args = parser.parse_args(argv)
    scripts = discover(args.only)
    if not scripts:
        parser.error("no benchmark matches")
    write_header()
    results = [(script.name, *run_one(script)) for script in scripts]
    write_section(
        "Run summary",
        table(
            ("benchmark", "outcome", "seconds"),
            [(name, outcome, f"{seconds:.0f}") for name, outcome, seconds in results],
        ),
    )
    failed = [name for name, outcome, _ in results if outcome != "ok"]
    print("all benchmarks ran" if not failed else f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
