"""Writing BENCHMARKS.md: one ``## <Section>`` per benchmark, under a shared header.

Each benchmark replaces only its own section, so they can run one at a time
(``bench/run_all.py``) or alone, without erasing each other's results::

    from report import write_section
    write_section("Serving through nginx", table_markdown)
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
RULE = (
    "Figures are ratios to a baseline measured in the same run: these machines are shared and "
    "noisy, so absolute times vary between runs while the ratios hold. A Raspberry Pi core is "
    "several times slower than the machine below; the ratios carry over, the milliseconds do not."
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _nginx_version() -> str:
    try:
        result = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True, timeout=5)
    except OSError:
        return "absent"
    return result.stderr.strip().rpartition("/")[2] or "unknown"


def machine_header() -> str:
    """The file's header: what was measured on, and how to read the numbers."""
    return (
        "# Benchmarks\n\n"
        "Written by `.venv/bin/python bench/run_all.py` (each `bench/bench_*.py` also runs alone and "
        "rewrites only its own section).\n\n"
        f"{RULE}\n\n"
        f"- Machine: {_cpu_model()}, {os.cpu_count()} cores, {_memory_gib()} RAM, "
        f"{platform.system()} {platform.release()} ({platform.machine()})\n"
        f"- Python {platform.python_version()}, Pillow {_version('pillow')}, Flask {_version('flask')}, "
        f"gunicorn {_version('gunicorn')}, nginx {_nginx_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}\n"
        f"- Header written {time.strftime('%Y-%m-%d %H:%M %Z')}\n"
    )


def _split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(header, [(title, section text)]) of a BENCHMARKS.md."""
    parts = re.split(r"(?m)^(?=## )", text)
    header, sections = parts[0], parts[1:]
    return header, [(section.splitlines()[0][3:].strip(), section) for section in sections]


def _join(header: str, sections: Iterable[tuple[str, str]]) -> str:
    body = "\n".join(text.rstrip("\n") + "\n" for _title, text in sections)
    return header.rstrip("\n") + "\n\n" + body


def write_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) ``## title`` in BENCHMARKS.md, keeping every other section."""
    text = path.read_text() if path.exists() else machine_header()
    header, sections = _split(text)
    new = f"## {title}\n\n{body.strip()}\n"
    if any(existing == title for existing, _ in sections):
        sections = [(t, new if t == title else s) for t, s in sections]
    else:
        sections.append((title, new))
    path.write_text(_join(header, sections))


def write_header(path: Path = BENCHMARKS) -> None:
    """Refresh the machine header, keeping every section."""
    _header, sections = _split(path.read_text()) if path.exists() else ("", [])
    path.write_text(_join(machine_header(), sections))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.5 = median) of ``values``, interpolated."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(fraction * 1000) - 1]
