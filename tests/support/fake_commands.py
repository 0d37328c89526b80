"""Stand-ins for system commands (chromium, systemctl) that deploy scripts run: each records its arguments."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def recording_command(folder: Path, name: str) -> Path:
    """Put an executable ``name`` in ``folder`` (made here) that exits 0 after appending its arguments,
    as one JSON list a line, to the file returned (absent until it first runs)."""
    folder.mkdir(exist_ok=True)
    record = folder / f"{name}.calls"
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"with open({str(record)!r}, 'a') as calls:\n    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(0o755)
    return record


def calls(record: Path) -> list[list[str]]:
    """Every run's arguments, in order."""
    return [json.loads(line) for line in record.read_text().splitlines()]
